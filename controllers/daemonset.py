"""DaemonSet (upstream pkg/controller/daemon, v1.32): one pod per eligible node, pinned to it by a matchFields node
affinity for the scheduler to bind; pods leave nodes that stop qualifying; RollingUpdate and OnDelete; status."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog

from controllers.expectations import UIDTrackingExpectations
from controllers.podcontrol import create_pods, delete_pods, pod_from_template
from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import labels
from kubemu.api.nodematch import OBJECT_NAME_FIELD, spec_matches_node, untolerated_taint
from kubemu.api.serialization import time_value
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import apps_pb2, core_pb2, meta_pb2

log = structlog.get_logger()

KIND = "DaemonSet"
API_VERSION = "apps/v1"
HASH_LABEL = "controller-revision-hash"
"""apps.DefaultDaemonSetUniqueLabelKey: the template hash every pod of the current template carries."""
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
BURST_REPLICAS = 250
"""At most this many creates or deletes per sync (the daemon controller's BurstReplicas)."""
STATUS_UPDATE_RETRIES = 1
FAILED_POD_BACKOFF = (1.0, 900.0)
"""failedPodsBackoff: deleting failed pods on a node backs off from 1 s doubling to 15 min."""

NO_SCHEDULE, NO_EXECUTE = "NoSchedule", "NoExecute"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_DAEMON_TOLERATIONS: tuple[tuple[str, str], ...] = (
    ("node.kubernetes.io/not-ready", NO_EXECUTE),
    ("node.kubernetes.io/unreachable", NO_EXECUTE),
    ("node.kubernetes.io/disk-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/memory-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/pid-pressure", NO_SCHEDULE),
    ("node.kubernetes.io/unschedulable", NO_SCHEDULE),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", NO_SCHEDULE)


# -- pod helpers (controller.IsPodActive, podutil.IsPodReady/IsPodAvailable) ----------------------------------------

def is_pod_ready(pod: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def is_pod_available(pod: core_pb2.Pod, min_ready_seconds: int, now: float) -> bool:
    for c in pod.status.conditions:
        if c.type == "Ready" and c.status == "True":
            return min_ready_seconds == 0 or time_value(c.last_transition_time) + min_ready_seconds <= now
    return False


def is_terminal(pod: core_pb2.Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def controller_ref(obj: Any) -> meta_pb2.OwnerReference | None:
    for ref in obj.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref  # type: ignore[no-any-return]
    return None


def creation_order(pod: core_pb2.Pod) -> tuple[int, float, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest, then by name."""
    return (0 if pod.spec.node_name else 1, time_value(pod.metadata.creation_timestamp), pod.metadata.name)


# -- scheduling predicates (the controller must not import the scheduler: these are the few it needs) -------------

# -- the daemon pod template (pkg/controller/daemon/util/daemonset_util.go) -------------------------------------

def add_or_update_toleration(spec: core_pb2.PodSpec, toleration: core_pb2.Toleration) -> None:
    """v1helper.AddOrUpdateTolerationInPodSpec: replace a toleration with the same key, operator, value and effect
    (e.g. one with tolerationSeconds), else append."""
    def same(t: core_pb2.Toleration) -> bool:
        return (t.key, t.operator, t.value, t.effect) == (toleration.key, toleration.operator, toleration.value,
                                                          toleration.effect)
    new: list[core_pb2.Toleration] = []
    updated = False
    for t in spec.tolerations:
        if same(t):
            if t == toleration:
                return
            new.append(toleration)
            updated = True
            continue
        new.append(t)
    if not updated:
        new.append(toleration)
    del spec.tolerations[:]
    spec.tolerations.extend(new)


def add_daemon_pod_tolerations(spec: core_pb2.PodSpec) -> None:
    """AddOrUpdateDaemonPodTolerations: daemon pods survive not-ready/unreachable nodes forever (no seconds) and
    ignore the condition taints; network-unavailable only for host-network pods."""
    wanted = list(_DAEMON_TOLERATIONS) + ([_NETWORK_UNAVAILABLE] if spec.host_network else [])
    for key, effect in wanted:
        add_or_update_toleration(spec, core_pb2.Toleration(key=key, operator="Exists", effect=effect))


def template_hash(template: core_pb2.PodTemplateSpec, collision_count: int | None = None) -> str:
    """controller.ComputeHash: fnv32a of the template (and the collision count), safely encoded."""
    data = template.SerializeToString(deterministic=True)
    if collision_count is not None:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(c) % len(_ALPHABET)] for c in str(h))


def template_generation(ds: apps_pb2.DaemonSet) -> int | None:
    """GetTemplateGeneration: the deprecated annotation, when present and a number."""
    value = ds.metadata.annotations.get(TEMPLATE_GENERATION_ANNOTATION)
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def is_pod_updated(pod: core_pb2.Pod, hash: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod carries the current hash (or the current deprecated template generation)."""
    template_matches = generation is not None and pod.metadata.labels.get(TEMPLATE_GENERATION_LABEL) == str(generation)
    return (bool(hash) and pod.metadata.labels.get(HASH_LABEL) == hash) or template_matches


def pod_template(ds: apps_pb2.DaemonSet, hash: str) -> core_pb2.PodTemplateSpec:
    """CreatePodTemplate: the DaemonSet's template with the daemon tolerations and the hash label."""
    tpl = core_pb2.PodTemplateSpec()
    tpl.CopyFrom(ds.spec.template)
    add_daemon_pod_tolerations(tpl.spec)
    generation = template_generation(ds)
    if generation is not None:
        tpl.metadata.labels[TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash:
        tpl.metadata.labels[HASH_LABEL] = hash
    return tpl


def pin_to_node(spec: core_pb2.PodSpec, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes exactly
    `metadata.name In [node]` (the other terms were already checked by the controller)."""
    required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    del required.node_selector_terms[:]
    required.node_selector_terms.add().match_fields.add(key=OBJECT_NAME_FIELD, operator="In", values=[node_name])


def target_node_name(pod: core_pb2.Pod) -> str | None:
    """GetTargetNodeName: spec.nodeName, or for an unscheduled pod the node its matchFields affinity pins."""
    if pod.spec.node_name:
        return str(pod.spec.node_name)
    spec = pod.spec
    if not (spec.HasField("affinity") and spec.affinity.HasField("node_affinity")
            and spec.affinity.node_affinity.HasField("required_during_scheduling_ignored_during_execution")):
        return None
    for term in spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms:
        for f in term.match_fields:
            if f.key == OBJECT_NAME_FIELD and f.operator == "In":
                return str(f.values[0]) if len(f.values) == 1 else None
    return None


def node_should_run_daemon_pod(node: core_pb2.Node, ds: apps_pb2.DaemonSet) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning). A node whose untolerated taints are all
    NoSchedule keeps its daemon pod but gets no new one; an untolerated NoExecute taint evicts it."""
    tpl = ds.spec.template.spec
    if tpl.node_name and tpl.node_name != node.metadata.name:
        return False, False
    spec = core_pb2.PodSpec()
    spec.CopyFrom(tpl)
    add_daemon_pod_tolerations(spec)
    if not spec_matches_node(spec, node):
        return False, False
    if untolerated_taint(node.spec.taints, spec.tolerations, (NO_SCHEDULE, NO_EXECUTE)) is not None:
        return False, untolerated_taint(node.spec.taints, spec.tolerations, (NO_EXECUTE,)) is None
    return True, True


def scaled_value(value: meta_pb2.IntOrString, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent, rounding up as the DaemonSet counts do."""
    which = value.WhichOneof("value")
    if which == "int_val":
        return int(value.int_val)
    if which == "str_val" and value.str_val.endswith("%"):
        return math.ceil(int(value.str_val[:-1]) * total / 100)
    if which == "str_val":
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    return 0


def surge_count(ds: apps_pb2.DaemonSet, total: int) -> int:
    us = ds.spec.update_strategy
    if us.type not in ("", "RollingUpdate") or not us.HasField("rolling_update"):
        return 0
    return scaled_value(us.rolling_update.max_surge, total)


def unavailable_count(ds: apps_pb2.DaemonSet, total: int) -> int:
    us = ds.spec.update_strategy
    if us.type not in ("", "RollingUpdate"):
        return 0
    if not us.HasField("rolling_update") or not us.rolling_update.HasField("max_unavailable"):
        return 1  # the apps/v1 default, for an object that skipped defaulting
    return scaled_value(us.rolling_update.max_unavailable, total)


def allows_surge(ds: apps_pb2.DaemonSet) -> bool:
    try:
        return surge_count(ds, 1) > 0
    except ValueError:
        return False


class _Backoff:
    """flowcontrol.Backoff, as failedPodsBackoff uses it: per key, a delay doubling from `initial` to `cap`."""

    def __init__(self, initial: float, cap: float) -> None:
        self.initial, self.cap = initial, cap
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (delay, last update)

    def get(self, key: str) -> float:
        return self._entries.get(key, (0.0, 0.0))[0]

    def in_backoff_since_update(self, key: str, now: float) -> bool:
        entry = self._entries.get(key)
        return entry is not None and now - entry[1] < entry[0]

    def next(self, key: str, now: float) -> None:
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.cap:
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.cap), now)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]


class DaemonSetController:
    """DaemonSetsController: handlers enqueue DaemonSet keys; `sync` reconciles one DaemonSet from the caches."""

    def __init__(self, client: Client, daemon_sets: Informer[apps_pb2.DaemonSet], pods: Informer[core_pb2.Pod],
                 nodes: Informer[core_pb2.Node], recorder: EventRecorder,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.daemon_sets = daemon_sets
        self.pods = pods
        self.nodes = nodes
        self.recorder = recorder
        self.clock = clock
        self.queue = RateLimitingQueue(name=KIND)
        self.expectations = UIDTrackingExpectations()
        self.failed_pods_backoff = _Backoff(*FAILED_POD_BACKOFF)
        self.log = log.bind(component="controllers", controller="daemonset")
        daemon_sets.add_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)

    # -- event handlers only enqueue keys ---------------------------------------------------------------------

    @staticmethod
    def _key(obj: Any) -> str:
        return f"{obj.metadata.namespace}/{obj.metadata.name}"

    def _enqueue(self, obj: Any) -> None:
        self.queue.add(self._key(obj))

    def _resolve(self, namespace: str, ref: meta_pb2.OwnerReference | None) -> apps_pb2.DaemonSet | None:
        """resolveControllerRef: the DaemonSet a controller ref names, if it is still the same object."""
        if ref is None or ref.kind != KIND:
            return None
        ds = self.daemon_sets.store.get(f"{namespace}/{ref.name}")
        return ds if ds is not None and ds.metadata.uid == ref.uid else None

    def _daemon_sets_for_pod(self, pod: core_pb2.Pod) -> list[apps_pb2.DaemonSet]:
        """getDaemonSetsForPod: the DaemonSets whose (non-empty) selector matches an orphan."""
        out = []
        for ds in self.daemon_sets.store.by_index("namespace", pod.metadata.namespace):
            sel = _selector(ds)
            if sel is not None and not sel.empty and sel.matches(pod.metadata.labels):
                out.append(ds)
        return out

    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.metadata.HasField("deletion_timestamp"):
            # On a restart the controller may see a pod already being deleted: do not count it as a creation.
            self._pod_deleted(pod)
            return
        ref = controller_ref(pod)
        if ref is not None:
            ds = self._resolve(pod.metadata.namespace, ref)
            if ds is not None:
                self.expectations.creation_observed(self._key(ds))
                self._enqueue(ds)
            return
        for ds in self._daemon_sets_for_pod(pod):
            self._enqueue(ds)

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if new.metadata.resource_version == old.metadata.resource_version:
            return
        if new.metadata.HasField("deletion_timestamp"):
            # A graceful deletion: let the DaemonSet act now rather than when the kubelet finally removes it.
            self._pod_deleted(new)
            return
        new_ref, old_ref = controller_ref(new), controller_ref(old)
        ref_changed = new_ref != old_ref
        if ref_changed and old_ref is not None:
            old_ds = self._resolve(old.metadata.namespace, old_ref)
            if old_ds is not None:
                self._enqueue(old_ds)
        if new_ref is not None:
            ds = self._resolve(new.metadata.namespace, new_ref)
            if ds is None:
                return
            self._enqueue(ds)
            if not is_pod_ready(old) and is_pod_ready(new) and ds.spec.min_ready_seconds > 0:
                # It becomes available minReadySeconds from now; a second more absorbs timer skew.
                self.queue.add_after(self._key(ds), ds.spec.min_ready_seconds + 1.0)
            return
        if ref_changed or dict(new.metadata.labels) != dict(old.metadata.labels):
            for ds in self._daemon_sets_for_pod(new):
                self._enqueue(ds)

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        ds = self._resolve(pod.metadata.namespace, controller_ref(pod))
        if ds is not None:
            self.expectations.deletion_observed(self._key(ds), pod.metadata.uid)
            self._enqueue(ds)

    def _node_added(self, node: core_pb2.Node) -> None:
        for ds in self.daemon_sets.store.list():
            if node_should_run_daemon_pod(node, ds)[0]:
                self._enqueue(ds)

    def _node_updated(self, old: core_pb2.Node, new: core_pb2.Node) -> None:
        for ds in self.daemon_sets.store.list():
            if node_should_run_daemon_pod(old, ds) != node_should_run_daemon_pod(new, ds):
                self._enqueue(ds)

    def _node_deleted(self, node: core_pb2.Node) -> None:
        # Upstream waits for a resync to remove unscheduled pods aimed at a deleted node; we have no resync,
        # so every DaemonSet with a pod aimed there looks again now.
        for ds in self.daemon_sets.store.list():
            if node.metadata.name in self._nodes_to_daemon_pods_cached(ds):
                self._enqueue(ds)

    # -- reconcile --------------------------------------------------------------------------------------------

    async def run(self, workers: int = 2) -> None:
        await run_workers(self.queue, self.sync, workers,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    def _node_list(self) -> list[core_pb2.Node]:
        return sorted(self.nodes.store.list(), key=lambda n: n.metadata.name)

    async def sync(self, key: str) -> None:
        """syncDaemonSet."""
        ds = self.daemon_sets.store.get(key)
        if ds is None:
            self.expectations.delete(key)
            self.failed_pods_backoff.forget_prefix(f"{key}/")
            return
        nodes = self._node_list()
        sel = _selector(ds)
        if sel is None or sel.empty:
            await self.recorder.event(ds, "Warning", "SelectingAll",
                                      "This daemon set is selecting all pods. A non-empty selector is required.")
            return
        if ds.metadata.HasField("deletion_timestamp"):
            # Its pods go with it (garbage collection); a status computed now would be meaningless.
            return
        hash = template_hash(ds.spec.template, ds.status.collision_count if ds.status.HasField(
            "collision_count") else None)
        if not self.expectations.satisfied(key):
            # Only the status: observedGeneration waits until this generation is actually processed.
            await self._update_status(ds, nodes, hash, update_observed_generation=False)
            return
        await self._manage(ds, nodes, hash)
        if self.expectations.satisfied(key) and ds.spec.update_strategy.type in ("", "RollingUpdate"):
            await self._rolling_update(ds, nodes, hash)
        await self._update_status(ds, nodes, hash, update_observed_generation=True)

    # -- claiming pods ----------------------------------------------------------------------------------------

    async def _claim(self, ds: apps_pb2.DaemonSet) -> list[core_pb2.Pod]:
        """ClaimPods: keep owned matching pods, adopt matching orphans, release owned pods that stop matching."""
        sel = _selector(ds)
        claimed = []
        for pod in self.pods.store.by_index("namespace", ds.metadata.namespace):
            ref = controller_ref(pod)
            matches = sel is not None and not sel.empty and sel.matches(pod.metadata.labels)
            if ref is not None and ref.uid == ds.metadata.uid:
                if matches:
                    claimed.append(pod)
                elif not ds.metadata.HasField("deletion_timestamp"):
                    await self._patch_owner_refs(pod, ds, adopt=False)
            elif (ref is None and matches and not pod.metadata.HasField("deletion_timestamp")
                  and not ds.metadata.HasField("deletion_timestamp")):
                adopted = await self._patch_owner_refs(pod, ds, adopt=True)
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    async def _patch_owner_refs(self, pod: core_pb2.Pod, ds: apps_pb2.DaemonSet, *,
                                adopt: bool) -> core_pb2.Pod | None:
        try:
            if adopt:
                # canAdopt: recheck against the apiserver that the DaemonSet is still this one and alive.
                fresh = await self.client.daemon_sets.get(ds.metadata.name, ds.metadata.namespace)
                if fresh.metadata.uid != ds.metadata.uid or fresh.metadata.HasField("deletion_timestamp"):
                    return None
            cur = await self.client.pods.get(pod.metadata.name, pod.metadata.namespace)
            if adopt:
                if controller_ref(cur) is not None:
                    return None
                cur.metadata.owner_references.add(api_version=API_VERSION, kind=KIND, name=ds.metadata.name,
                                                  uid=ds.metadata.uid, controller=True, block_owner_deletion=True)
            else:
                keep = [r for r in cur.metadata.owner_references if r.uid != ds.metadata.uid]
                del cur.metadata.owner_references[:]
                cur.metadata.owner_references.extend(keep)
            updated = await self.client.pods.update(cur)
            self.log.info("pod.adopted" if adopt else "pod.released", daemonset=self._key(ds), pod=self._key(pod))
            return updated
        except (errors.NotFound, errors.Conflict, errors.Invalid):
            return None

    @staticmethod
    def _group_by_node(pods: Iterable[core_pb2.Pod]) -> dict[str, list[core_pb2.Pod]]:
        """The grouping of getNodesToDaemonPods: terminal pods already being deleted are done with."""
        by_node: dict[str, list[core_pb2.Pod]] = {}
        for pod in pods:
            if is_terminal(pod) and pod.metadata.HasField("deletion_timestamp"):
                continue
            node = target_node_name(pod)
            if node is None:
                continue
            by_node.setdefault(node, []).append(pod)
        return by_node

    async def _nodes_to_daemon_pods(self, ds: apps_pb2.DaemonSet) -> dict[str, list[core_pb2.Pod]]:
        return self._group_by_node(await self._claim(ds))

    def _nodes_to_daemon_pods_cached(self, ds: apps_pb2.DaemonSet) -> dict[str, list[core_pb2.Pod]]:
        """The owned pods by node, from the cache alone (for handlers, which must not call the apiserver)."""
        owned = [p for p in self.pods.store.by_index("namespace", ds.metadata.namespace)
                 if (ref := controller_ref(p)) is not None and ref.uid == ds.metadata.uid]
        return self._group_by_node(owned)

    # -- manage: one pod per eligible node ----------------------------------------------------------------------

    async def _manage(self, ds: apps_pb2.DaemonSet, nodes: list[core_pb2.Node], hash: str) -> None:
        by_node = await self._nodes_to_daemon_pods(ds)
        to_create: list[str] = []
        to_delete: list[core_pb2.Pod] = []
        for node in nodes:
            create, delete = await self._pods_should_be_on_node(node, by_node, ds, hash)
            to_create += create
            to_delete += delete
        # Unscheduled pods aimed at nodes that no longer exist would never be scheduled nor collected.
        names = {n.metadata.name for n in nodes}
        for node_name, pods in sorted(by_node.items()):
            if node_name not in names:
                to_delete += [p for p in pods if not p.spec.node_name and not p.metadata.HasField("deletion_timestamp")]
        await self._sync_nodes(ds, to_delete, to_create, hash)

    async def _pods_should_be_on_node(self, node: core_pb2.Node, by_node: Mapping[str, list[core_pb2.Pod]],
                                      ds: apps_pb2.DaemonSet, hash: str) -> tuple[list[str], list[core_pb2.Pod]]:
        """podsShouldBeOnNode: the nodes needing a daemon pod and the pods to delete, for one node."""
        should_run, should_continue = node_should_run_daemon_pod(node, ds)
        name = node.metadata.name
        daemon_pods = by_node.get(name)
        to_create: list[str] = []
        to_delete: list[core_pb2.Pod] = []
        if should_run and daemon_pods is None:
            to_create.append(name)
        elif should_continue:
            running = []
            for pod in daemon_pods or []:
                if pod.metadata.HasField("deletion_timestamp"):
                    continue
                if pod.status.phase == "Failed":
                    # The kubelet rejected it (or it failed): replace it, but do not fight the kubelet in a hot loop.
                    backoff_key = f"{self._key(ds)}/{name}"
                    now = self.clock()
                    if self.failed_pods_backoff.in_backoff_since_update(backoff_key, now):
                        self.queue.add_after(self._key(ds), self.failed_pods_backoff.get(backoff_key))
                        continue
                    self.failed_pods_backoff.next(backoff_key, now)
                    await self.recorder.event(
                        ds, "Warning", "FailedDaemonPod",
                        f"Found failed daemon pod {pod.metadata.namespace}/{pod.metadata.name} on node {name}, "
                        f"will try to kill it")
                    to_delete.append(pod)
                elif pod.status.phase == "Succeeded":
                    await self.recorder.event(
                        ds, "Normal", "SucceededDaemonPod",
                        f"Found succeeded daemon pod {pod.metadata.namespace}/{pod.metadata.name} on node {name}, "
                        f"will try to delete it")
                    to_delete.append(pod)
                else:
                    running.append(pod)
            running.sort(key=creation_order)
            if not allows_surge(ds):
                # One pod per node: keep the oldest.
                to_delete += running[1:]
            else:
                # Two are allowed only while the new one is not yet available and the old one still ready.
                oldest_new: core_pb2.Pod | None = None
                oldest_old: core_pb2.Pod | None = None
                for pod in running:
                    if pod.metadata.labels.get(HASH_LABEL) == hash:
                        if oldest_new is None:
                            oldest_new = pod
                            continue
                    elif oldest_old is None:
                        oldest_old = pod
                        continue
                    to_delete.append(pod)
                if oldest_new is not None and oldest_old is not None and (
                        not is_pod_ready(oldest_old)
                        or is_pod_available(oldest_new, ds.spec.min_ready_seconds, self.clock())):
                    to_delete.append(oldest_old)
        elif daemon_pods:
            to_delete += [p for p in daemon_pods if not p.metadata.HasField("deletion_timestamp")]
        return to_create, to_delete

    async def _sync_nodes(self, ds: apps_pb2.DaemonSet, to_delete: list[core_pb2.Pod], to_create: list[str],
                          hash: str) -> None:
        """syncNodes: set expectations first, then create (slow start: batches of 1, 2, 4, ...) and delete."""
        key = self._key(ds)
        to_create = to_create[:BURST_REPLICAS]
        to_delete = to_delete[:BURST_REPLICAS]
        self.expectations.expect_deletions(key, {p.metadata.uid for p in to_delete})
        self.expectations.raise_expectations(key, len(to_create), 0)
        if to_create or to_delete:
            self.log.info("daemonset.sync_nodes", daemonset=key, create=to_create,
                          delete=[p.metadata.name for p in to_delete])
        template = pod_template(ds, hash)
        pos, batch = 0, 1
        while pos < len(to_create):
            size = min(batch, len(to_create) - pos)
            failures = await self._create_pods(ds, template, to_create[pos:pos + size])
            for _ in range(failures):
                self.expectations.creation_observed(key)
            pos += size
            if failures and pos < len(to_create):
                # Slow start: a template that fails fails once, not once per node; the rest wait for a retry.
                self.expectations.lower_expectations(key, len(to_create) - pos, 0)
                break
            batch *= 2
        error = await delete_pods(self.client, self.recorder, ds, to_delete,
                                  lambda p: self.expectations.deletion_observed(key, p.metadata.uid))
        if error is not None:
            raise error

    async def _create_pods(self, ds: apps_pb2.DaemonSet, template: core_pb2.PodTemplateSpec,
                           node_names: list[str]) -> int:
        """One slow-start batch, each node's pod (which the default scheduler binds: the affinity leaves it
        exactly one node), created at once. Returns how many creates failed."""
        pods = []
        for node_name in node_names:
            pod = pod_from_template(template, ds, API_VERSION, KIND)
            pin_to_node(pod.spec, node_name)
            pods.append(pod)
        results = await create_pods(self.client, self.recorder, ds, pods)
        return sum(1 for r in results if isinstance(r, errors.ApiError))

    # -- rolling update (update.go) -----------------------------------------------------------------------------

    async def _rolling_update(self, ds: apps_pb2.DaemonSet, nodes: list[core_pb2.Node], hash: str) -> None:
        by_node = await self._nodes_to_daemon_pods(ds)
        desired = 0
        for node in nodes:
            if node_should_run_daemon_pod(node, ds)[0]:
                desired += 1
                by_node.setdefault(node.metadata.name, [])
        max_surge, max_unavailable = surge_count(ds, desired), unavailable_count(ds, desired)
        if desired > 0 and max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1  # an impossible configuration falls back to accepting unavailability
        generation = template_generation(ds)
        now = self.clock()
        mrs = ds.spec.min_ready_seconds
        if max_surge == 0:
            # Delete just enough old pods to stay within maxUnavailable; the manage loop creates the new ones.
            num_unavailable = 0
            allowed: list[core_pb2.Pod] = []
            candidates: list[core_pb2.Pod] = []
            for node_name in sorted(by_node):
                found = _find_updated_pods_on_node(by_node[node_name], hash, generation)
                if found is None:
                    num_unavailable += 1  # excess pods: the manage loop cleans up first
                    continue
                new, old = found
                if (old is None) == (new is None):
                    num_unavailable += 1  # the manage loop creates or deletes here
                elif new is not None:
                    if not is_pod_available(new, mrs, now):
                        num_unavailable += 1
                elif old is not None:
                    if not is_pod_available(old, mrs, now):
                        allowed.append(old)  # not serving anyway: replace it at no cost
                        num_unavailable += 1
                    elif num_unavailable < max_unavailable:
                        candidates.append(old)
            remaining = max(0, min(max_unavailable - num_unavailable, len(candidates)))
            await self._sync_nodes(ds, allowed + candidates[:remaining], [], hash)
            return
        # Surge: create a new pod beside an old one (at most maxSurge at a time), delete the old once the new
        # is available.
        old_to_delete: list[core_pb2.Pod] = []
        should_not_run: list[core_pb2.Pod] = []
        candidate_nodes: list[str] = []
        allowed_nodes: list[str] = []
        num_surge = num_available = 0
        for node_name in sorted(by_node):
            found = _find_updated_pods_on_node(by_node[node_name], hash, generation)
            if found is None:
                num_surge += 1
                continue
            new, old = found
            if old is not None:
                num_available += is_pod_available(old, mrs, now)
            elif new is not None:
                num_available += is_pod_available(new, mrs, now)
            if old is None:
                continue
            if new is None:
                found_node = self.nodes.store.get(node_name)
                should_run = found_node is not None and node_should_run_daemon_pod(found_node, ds)[0]
                if not is_pod_available(old, mrs, now):
                    if not should_run:
                        old_to_delete.append(old)
                    else:
                        allowed_nodes.append(node_name)
                elif not should_run:
                    should_not_run.append(old)
                elif num_surge < max_surge:
                    candidate_nodes.append(node_name)
            elif not is_pod_available(new, mrs, now):
                num_surge += 1
            else:
                old_to_delete.append(old)
        # With surge the owner expects full availability: pods on nodes that no longer qualify go only as
        # pods elsewhere become available.
        deletable = min(num_available - desired, len(should_not_run))
        if deletable > 0:
            old_to_delete += should_not_run[:deletable]
        remaining = max(0, min(max_surge - num_surge, len(candidate_nodes)))
        await self._sync_nodes(ds, old_to_delete, allowed_nodes + candidate_nodes[:remaining], hash)

    # -- status -------------------------------------------------------------------------------------------------

    async def _update_status(self, ds: apps_pb2.DaemonSet, nodes: list[core_pb2.Node], hash: str, *,
                             update_observed_generation: bool) -> None:
        """updateDaemonSetStatus: counted over nodes, looking at the oldest daemon pod on each."""
        by_node = await self._nodes_to_daemon_pods(ds)
        now = self.clock()
        generation = template_generation(ds)
        desired = current = misscheduled = ready = updated = available = 0
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, ds)
            pods = by_node.get(node.metadata.name, [])
            if should_run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = min(pods, key=creation_order)
                if is_pod_ready(pod):
                    ready += 1
                    if is_pod_available(pod, ds.spec.min_ready_seconds, now):
                        available += 1
                if is_pod_updated(pod, hash, generation):
                    updated += 1
            elif pods:
                misscheduled += 1
        counts = (desired, current, misscheduled, ready, updated, available, desired - available)
        await self._store_status(ds, counts, update_observed_generation)
        if ds.spec.min_ready_seconds > 0 and ready != available:
            self.queue.add_after(self._key(ds), float(ds.spec.min_ready_seconds))

    async def _store_status(self, ds: apps_pb2.DaemonSet, counts: tuple[int, ...], observed: bool) -> None:
        def current(st: apps_pb2.DaemonSetStatus) -> tuple[int, ...]:
            return (st.desired_number_scheduled, st.current_number_scheduled, st.number_misscheduled,
                    st.number_ready, st.updated_number_scheduled, st.number_available, st.number_unavailable)

        if current(ds.status) == counts and ds.status.observed_generation >= ds.metadata.generation:
            return
        to_update = apps_pb2.DaemonSet()
        to_update.CopyFrom(ds)
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            st = to_update.status
            if observed:
                st.observed_generation = ds.metadata.generation
            (st.desired_number_scheduled, st.current_number_scheduled, st.number_misscheduled, st.number_ready,
             st.updated_number_scheduled, st.number_available, st.number_unavailable) = counts
            try:
                await self.client.daemon_sets.update_status(to_update)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                if attempt >= STATUS_UPDATE_RETRIES:
                    raise
                to_update = await self.client.daemon_sets.get(ds.metadata.name, ds.metadata.namespace)


def _selector(ds: apps_pb2.DaemonSet) -> labels.Selector | None:
    """The DaemonSet's selector; None when absent or invalid (it then selects nothing)."""
    if not ds.spec.HasField("selector"):
        return None
    try:
        return labels.from_label_selector(ds.spec.selector)
    except labels.SelectorError:
        return None


def _find_updated_pods_on_node(pods: Iterable[core_pb2.Pod], hash: str,
                               generation: int | None) -> tuple[core_pb2.Pod | None, core_pb2.Pod | None] | None:
    """findUpdatedPodsOnNode: the (new, old) pod on a node, or None when it has more than one of either."""
    new: core_pb2.Pod | None = None
    old: core_pb2.Pod | None = None
    for pod in pods:
        if pod.metadata.HasField("deletion_timestamp"):
            continue
        if is_pod_updated(pod, hash, generation):
            if new is not None:
                return None
            new = pod
        else:
            if old is not None:
                return None
            old = pod
    return new, old
