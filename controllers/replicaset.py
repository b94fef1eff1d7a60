"""ReplicaSet and ReplicationController: keep `replicas` active pods matching the selector, created from the
template with a controller ownerReference; adopt matching orphans, release pods that stop matching, delete in
upstream's order, and never create twice for a slow watch (expectations). Status reports what is there."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from controllers.expectations import UIDTrackingExpectations
from controllers.podcontrol import create_pods, delete_pods, pod_from_template
from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import kinds, labels
from kubemu.api.serialization import time_value
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

log = structlog.get_logger()

BURST_REPLICAS = 500
"""At most this many creates or deletes per sync (burstReplicas upstream)."""


def is_pod_active(pod: core_pb2.Pod) -> bool:
    """controller.IsPodActive: not finished and not being deleted."""
    return pod.status.phase not in ("Succeeded", "Failed") and not pod.metadata.HasField("deletion_timestamp")


def is_pod_ready(pod: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def ready_since(pod: core_pb2.Pod) -> float:
    for c in pod.status.conditions:
        if c.type == "Ready" and c.status == "True":
            return time_value(c.last_transition_time)
    return 0.0


def is_pod_available(pod: core_pb2.Pod, min_ready_seconds: int, now: float) -> bool:
    return is_pod_ready(pod) and (min_ready_seconds == 0 or ready_since(pod) + min_ready_seconds <= now)


def controller_ref(obj: Any) -> Any | None:
    for ref in obj.metadata.owner_references:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def deletion_rank(pod: core_pb2.Pod, pods_on_node: dict[str, int]) -> tuple[Any, ...]:
    """ActivePodsWithRanks: which pod to delete first when scaling down (smaller goes first)."""
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.status.phase, 3)
    restarts = sum(s.restart_count for s in pod.status.container_statuses)
    cost = int(pod.metadata.annotations.get("controller.kubernetes.io/pod-deletion-cost", "0") or 0)
    return (
        1 if pod.spec.node_name else 0,
        phase_rank,
        1 if is_pod_ready(pod) else 0,
        cost,
        -pods_on_node.get(pod.spec.node_name, 0),
        -ready_since(pod) if is_pod_ready(pod) else 0.0,
        -restarts,
        -time_value(pod.metadata.creation_timestamp),
    )


class ReplicaSetController:
    """One controller for both kinds: they differ in API group and selector type only."""

    def __init__(self, client: Client, kind: str, owners: Informer[Any], pods: Informer[core_pb2.Pod],
                 recorder: EventRecorder, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.kind = kind
        self.info = kinds.by_kind(kind)
        self.owners = owners
        self.owner_client: ResourceClient[Any] = client.resource(kind)
        self.pods = pods
        self.recorder = recorder
        self.clock = clock
        self.queue = RateLimitingQueue(name=kind)
        self.expectations = UIDTrackingExpectations()
        self.log = log.bind(component="controllers", controller=kind)
        owners.add_handler(lambda o: self._enqueue(o), lambda old, new: self._enqueue(new),
                           lambda o: self._enqueue(o))
        pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)

    # -- event handlers only enqueue keys ---------------------------------------------------------

    @staticmethod
    def _key(obj: Any) -> str:
        return f"{obj.metadata.namespace}/{obj.metadata.name}"

    def _enqueue(self, obj: Any) -> None:
        self.queue.add(self._key(obj))

    def _selector(self, owner: Any) -> labels.Selector:
        if self.kind == "ReplicationController":
            return labels.from_map(owner.spec.selector)
        return labels.from_label_selector(owner.spec.selector)

    def _owner_of(self, pod: core_pb2.Pod) -> Any | None:
        ref = controller_ref(pod)
        if ref is None or ref.kind != self.kind:
            return None
        owner = self.owners.store.get(f"{pod.metadata.namespace}/{ref.name}")
        if owner is None or owner.metadata.uid != ref.uid:
            return None
        return owner

    def _matching_owners(self, pod: core_pb2.Pod) -> list[Any]:
        return [o for o in self.owners.store.by_index("namespace", pod.metadata.namespace)
                if self._selector(o).matches(pod.metadata.labels) and not self._selector(o).empty]

    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.metadata.HasField("deletion_timestamp"):
            self._pod_deleted(pod)
            return
        owner = self._owner_of(pod)
        if owner is not None:
            self.expectations.creation_observed(self._key(owner))
            self._enqueue(owner)
        elif controller_ref(pod) is None:
            for o in self._matching_owners(pod):  # an orphan: whoever matches may adopt it
                self._enqueue(o)

    def _pod_updated(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        if new.metadata.HasField("deletion_timestamp") and not old.metadata.HasField("deletion_timestamp"):
            owner = self._owner_of(new)
            if owner is not None:
                self.expectations.deletion_observed(self._key(owner), new.metadata.uid)
        for pod in (old, new):
            owner = self._owner_of(pod)
            if owner is not None:
                self._enqueue(owner)
        if controller_ref(new) is None:
            for o in self._matching_owners(new):
                self._enqueue(o)

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        owner = self._owner_of(pod)
        if owner is not None:
            self.expectations.deletion_observed(self._key(owner), pod.metadata.uid)
            self._enqueue(owner)

    # -- reconcile --------------------------------------------------------------------------------

    async def run(self, workers: int = 2) -> None:
        await run_workers(self.queue, self.sync, workers,
                          on_error=lambda k, e: self.log.warning("sync.failed", object=k, error=str(e)))

    async def _claim(self, owner: Any, selector: labels.Selector) -> list[core_pb2.Pod]:
        """ClaimPods: keep owned matching pods, adopt matching orphans, release owned pods that stop matching."""
        claimed = []
        for pod in self.pods.store.by_index("namespace", owner.metadata.namespace):
            ref = controller_ref(pod)
            matches = not selector.empty and selector.matches(pod.metadata.labels)
            if ref is not None and ref.uid == owner.metadata.uid:
                if matches:
                    claimed.append(pod)
                elif is_pod_active(pod):
                    await self._patch_owner_refs(pod, owner, adopt=False)
            elif ref is None and matches and is_pod_active(pod) and not owner.metadata.HasField(
                    "deletion_timestamp"):
                adopted = await self._patch_owner_refs(pod, owner, adopt=True)
                if adopted is not None:
                    claimed.append(adopted)
        return claimed

    async def _patch_owner_refs(self, pod: core_pb2.Pod, owner: Any, *, adopt: bool) -> core_pb2.Pod | None:
        try:
            cur = await self.client.pods.get(pod.metadata.name, pod.metadata.namespace)
            if adopt:
                if controller_ref(cur) is not None:
                    return None
                cur.metadata.owner_references.add(api_version=self.info.api_version, kind=self.kind,
                                                  name=owner.metadata.name, uid=owner.metadata.uid,
                                                  controller=True, block_owner_deletion=True)
            else:
                keep = [r for r in cur.metadata.owner_references if r.uid != owner.metadata.uid]
                del cur.metadata.owner_references[:]
                cur.metadata.owner_references.extend(keep)
            updated = await self.client.pods.update(cur)
            self.log.info("pod.adopted" if adopt else "pod.released", owner=self._key(owner),
                          pod=self._key(pod))
            return updated
        except (errors.NotFound, errors.Conflict, errors.Invalid):
            return None

    async def sync(self, key: str) -> None:
        owner = self.owners.store.get(key)
        if owner is None:
            self.expectations.delete(key)
            return
        selector = self._selector(owner)
        pods = await self._claim(owner, selector)
        active = [p for p in pods if is_pod_active(p)]
        if self.expectations.satisfied(key) and not owner.metadata.HasField("deletion_timestamp"):
            await self._manage(owner, key, active)
        await self._update_status(owner, pods, active)

    async def _manage(self, owner: Any, key: str, active: list[core_pb2.Pod]) -> None:
        want = owner.spec.replicas if owner.spec.HasField("replicas") else 1
        diff = len(active) - want
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            created = await self._slow_start(owner, key, count)
            if created < count:
                self.expectations.lower_expectations(key, count - created, 0)
        elif diff > 0:
            count = min(diff, BURST_REPLICAS)
            per_node: dict[str, int] = {}
            for p in active:
                per_node[p.spec.node_name] = per_node.get(p.spec.node_name, 0) + 1
            victims = sorted(active, key=lambda p: deletion_rank(p, per_node))[:count]
            self.expectations.expect_deletions(key, {p.metadata.uid for p in victims})
            error = await delete_pods(self.client, self.recorder, owner, victims,
                                      lambda p: self.expectations.deletion_observed(key, p.metadata.uid))
            if error is not None:
                raise error

    async def _slow_start(self, owner: Any, key: str, count: int) -> int:
        """slowStartBatch: create in batches of 1, 2, 4, ..., each batch's pods at once (upstream: one goroutine
        per pod; here one CreateMany per batch), and stop after a batch in which a create failed, so a template
        that always fails costs one call, not hundreds. Returns how many were created."""
        created, batch = 0, 1
        while created < count:
            size = min(batch, count - created)
            results = await create_pods(self.client, self.recorder, owner, [
                pod_from_template(owner.spec.template, owner, self.info.api_version, self.kind) for _ in range(size)])
            failed = False
            for result in results:
                if isinstance(result, errors.ApiError):
                    failed = True
                else:
                    created += 1
            if failed:
                return created
            batch *= 2
        return created

    async def _update_status(self, owner: Any, pods: list[core_pb2.Pod], active: list[core_pb2.Pod]) -> None:
        now = self.clock()
        tpl_labels = labels.from_map(owner.spec.template.metadata.labels)
        ready = [p for p in active if is_pod_ready(p)]
        available = [p for p in ready if is_pod_available(p, owner.spec.min_ready_seconds, now)]
        st = owner.status
        new = (len(active), sum(1 for p in active if tpl_labels.matches(p.metadata.labels)), len(ready),
               len(available), owner.metadata.generation)
        if (st.replicas, st.fully_labeled_replicas, st.ready_replicas, st.available_replicas,
                st.observed_generation) == new:
            return
        try:
            cur = await self.owner_client.get(owner.metadata.name, owner.metadata.namespace)
            (cur.status.replicas, cur.status.fully_labeled_replicas, cur.status.ready_replicas,
             cur.status.available_replicas, cur.status.observed_generation) = new
            await self.owner_client.update_status(cur)
        except errors.NotFound:
            return
        if len(ready) > len(available):
            # Pods become available minReadySeconds after Ready: look again then.
            self.queue.add_after(self._key(owner), float(owner.spec.min_ready_seconds))
