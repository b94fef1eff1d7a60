"""`kubemu chaos run`: workloads, writers and watchers against a live cluster while faults land on a seeded
schedule; every operation, event and fault goes into a History, and the checkers judge it afterwards.

Writers keep Leases in the run's namespace under read-modify-write with resourceVersion preconditions, through
a client that never retries (an UNAVAILABLE or a timeout is recorded as indeterminate, never as a failure).
Watchers follow Leases, pods (all, and per node), ReplicaSets and Deployments, resuming from their last
revision after every break as an informer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TextIO

import yaml

from kubemu import config as cfg
from kubemu.api.serialization import from_dict
from kubemu.chaos import checkers
from kubemu.chaos.backends import Backend, BackendError, parse_log_time
from kubemu.chaos.faults import FaultSpec, Scheduled, SpecError, WorkloadSpec, schedule
from kubemu.chaos.history import History
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient
from kubemu.pb import apps_pb2, coordination_pb2, meta_pb2

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
STATIC_POD = "chaos-static"


@dataclass
class Options:
    duration: float
    seed: int
    faults: list[FaultSpec]
    workloads: list[WorkloadSpec]
    namespace: str
    config: cfg.ClusterConfig
    history_path: str | None = None
    writers: int = 4
    keys_per_writer: int = 4
    write_interval: float = 0.05
    slack: float = 15.0
    keep: bool = False
    out: TextIO | None = None


@dataclass
class Run:
    opts: Options
    backend: Backend
    history: History
    client: Client
    t0: float = field(default_factory=time.time)
    stop_writers: asyncio.Event = field(default_factory=asyncio.Event)
    busy: set[str] = field(default_factory=set)
    fault_ids: int = 0
    last_fault_end: float = 0.0
    written_keys: set[str] = field(default_factory=set)
    ops: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def say(self, text: str) -> None:
        if self.opts.out is not None:
            print(text, file=self.opts.out, flush=True)

    @property
    def grace(self) -> float:
        return self.opts.config.node.node_monitor_grace_period_seconds

    @property
    def toleration(self) -> int:
        return max(1, math.ceil(self.grace))

    @property
    def bound(self) -> float:
        return self.grace + self.toleration + self.opts.slack


def check_specs(opts: Options, backend: Backend) -> None:
    """Refuse, before anything is touched, a fault this cluster cannot take."""
    for spec in opts.faults:
        if spec.fault == "kill-redis" and not backend.durable:
            raise SpecError(f'--fault "{spec.text}": this cluster\'s Redis is not durable (it fsyncs once a '
                            "second), so a killed Redis may lose acknowledged writes: start it with "
                            "'kubemu up --durable'")
        if spec.fault == "partition-kubelet" and not backend.can_partition():
            raise SpecError(f'--fault "{spec.text}": partitions need the compose backend (--compose PROJECT): '
                            "local processes share one network")
        if not backend.members(spec.role):
            raise SpecError(f'--fault "{spec.text}": this cluster has no {spec.role} to hit')


async def run(opts: Options, backend: Backend) -> tuple[list[checkers.Verdict], History]:
    check_specs(opts, backend)
    history = History(opts.history_path)
    client = Client(backend.apiserver, retry_for=30.0, token=backend.token)
    r = Run(opts, backend, history, client, rng=random.Random(opts.seed))
    try:
        return await _run(r), history
    finally:
        history.close()
        await client.close()


async def _run(r: Run) -> list[checkers.Verdict]:
    opts, h, backend = r.opts, r.history, r.backend
    kubelets = {k: backend.nodes_of(k) for k in backend.members("kubelet")}
    h.record("cluster", apiservers=backend.members("apiserver"), kubelets=kubelets, backend=backend.kind,
             seed=opts.seed, config={"grace": r.grace, "toleration": r.toleration, "slack": opts.slack},
             namespace=opts.namespace, faults=[f.text for f in opts.faults],
             workloads=[w.text for w in opts.workloads])
    plan = schedule(opts.faults, opts.duration, opts.seed)
    r.say(f"chaos: {len(plan)} faults over {opts.duration:g}s (seed {opts.seed}), namespace {opts.namespace}, "
          f"{backend.kind} cluster at {backend.apiserver}")

    await _ensure_namespace(r.client, opts.namespace)
    statics = _place_static_pods(r)
    watchers = [asyncio.create_task(t) for t in _watchers(r, kubelets)]
    await asyncio.sleep(0.5)  # the watches are open before the first write they should see
    for w in opts.workloads:
        await _create_workload(r, w)
    writers_client = Client(backend.apiserver, retry_for=0, timeout=3.0, token=backend.token)
    writers = [asyncio.create_task(_writer(r, writers_client, i)) for i in range(opts.writers)]
    r.t0 = time.time()
    faults = [asyncio.create_task(_fault(r, s)) for s in plan]
    watchers.append(asyncio.create_task(_supervise(r)))
    try:
        await asyncio.sleep(opts.duration)
        r.stop_writers.set()
        await asyncio.gather(*writers)
        if faults:
            r.say("chaos: waiting for the last faults to heal")
        await asyncio.gather(*faults)
        if not r.last_fault_end:
            r.last_fault_end = time.time()  # no fault fired: convergence is measured from now
        await _converge(r, statics)
        await _final_reads(r)
        await asyncio.sleep(1.0)  # let the watches deliver the last writes
    finally:
        r.stop_writers.set()
        for t in [*writers, *faults, *watchers]:
            t.cancel()
        await asyncio.gather(*writers, *faults, *watchers, return_exceptions=True)
        await writers_client.close()
    _kubelet_records(r, kubelets)
    verdicts = checkers.check_all(h)
    if not opts.keep:
        await _clean_up(r, statics)
    return verdicts


# ---- set-up ---------------------------------------------------------------------------------------


async def _ensure_namespace(client: Client, name: str) -> None:
    with contextlib.suppress(errors.AlreadyExists):
        await client.namespaces.create(from_dict({"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": name}}))


def _place_static_pods(r: Run) -> dict[str, str]:
    """A static pod on every node, as node -> mirror pod key. Local clusters get one dropped into each node's
    manifest folder; the compose deployment already runs deploy/static-pods/node-agent.yaml everywhere."""
    dirs = r.backend.static_pod_dirs()
    if not dirs:
        return {n: f"default/node-agent-{n}" for nodes in
                (r.backend.nodes_of(k) for k in r.backend.members("kubelet")) for n in nodes}
    manifest = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": STATIC_POD, "namespace": r.opts.namespace, "labels": {"app": STATIC_POD}},
                "spec": {"containers": [{"name": "agent", "image": "busybox",
                                         "command": ["sh", "-c", "while true; do sleep 1; done"]}]}}
    out = {}
    for node, folder in dirs.items():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{STATIC_POD}.yaml").write_text(yaml.safe_dump(manifest))
        out[node] = f"{r.opts.namespace}/{STATIC_POD}-{node}"
    return out


async def _create_workload(r: Run, w: WorkloadSpec) -> None:
    ns = r.opts.namespace
    tolerations = [{"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": r.toleration}
                   for key in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    annotations = {"sim.kubemu.io/image-pull-seconds": "0"}
    if w.kind == "deployment":
        obj = from_dict({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": w.name, "namespace": ns},
            "spec": {"replicas": w.replicas, "selector": {"matchLabels": {"chaos": w.name}},
                     "template": {"metadata": {"labels": {"chaos": w.name}, "annotations": annotations},
                                  "spec": {"containers": [{"name": "app", "image": "nginx"}],
                                           "terminationGracePeriodSeconds": 1, "tolerations": tolerations}}}})
        await r.client.deployments.create(obj)
    else:
        obj = from_dict({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": w.name, "namespace": ns},
            "spec": {"completions": w.completions, "parallelism": w.parallelism, "backoffLimit": 1000,
                     "template": {"metadata": {"labels": {"chaos": w.name}, "annotations": annotations},
                                  "spec": {"restartPolicy": "OnFailure", "terminationGracePeriodSeconds": 1,
                                           "tolerations": tolerations,
                                           "containers": [{"name": "work", "image": "busybox",
                                                           "command": ["sh", "-c", "sleep 2"]}]}}}})
        await r.client.jobs.create(obj)
    r.say(f"chaos: created {w.kind} {ns}/{w.name}")


# ---- writers --------------------------------------------------------------------------------------


async def _writer(r: Run, client: Client, index: int) -> None:
    """Read-modify-write on this writer's own Leases; every call's outcome goes into the history."""
    ns, h = r.opts.namespace, r.history
    rng = random.Random(r.opts.seed * 1000 + index)
    names = [f"w{index}-k{k}" for k in range(r.opts.keys_per_writer)]
    known: dict[str, str] = {}  # name -> resourceVersion we last saw acknowledged ("" when it may not exist)
    counter = 0
    while not r.stop_writers.is_set():
        name = rng.choice(names)
        key = f"Lease/{ns}/{name}"
        counter += 1
        value = f"w{index}-{counter}"
        r.written_keys.add(key)
        lease = coordination_pb2.Lease()
        lease.metadata.name, lease.metadata.namespace = name, ns
        lease.spec.holder_identity = value
        create = name not in known
        if not create:
            lease.metadata.resource_version = known[name]
        r.ops += 1
        op = r.ops
        h.record("invoke", op=op, client=f"w{index}", f="create" if create else "update", key=key, value=value)
        try:
            done = await (client.leases.create(lease) if create else client.leases.update(lease))
            h.record("ok", op=op, rv=done.metadata.resource_version)
            known[name] = done.metadata.resource_version
        except (errors.Conflict, errors.AlreadyExists, errors.NotFound, errors.Invalid) as e:
            h.record("fail", op=op, error=f"{type(e).__name__}: {e.message}")
            await _refresh(client, ns, name, known)
        except Exception as e:  # unavailable, timeout, anything else: it may or may not have happened
            h.record("info", op=op, error=f"{type(e).__name__}: {getattr(e, 'message', str(e))}")
            await asyncio.sleep(0.2)
            await _refresh(client, ns, name, known)
        await asyncio.sleep(r.opts.write_interval)


async def _refresh(client: Client, ns: str, name: str, known: dict[str, str]) -> None:
    """After a failed or indeterminate write, learn the object's current revision (or that it is absent)."""
    try:
        known[name] = (await client.leases.get(name, ns)).metadata.resource_version
    except errors.NotFound:
        known.pop(name, None)
    except Exception:  # still unreachable: retry with what we have; a conflict will tell us
        pass


# ---- watchers -------------------------------------------------------------------------------------


def _owner(meta: meta_pb2.ObjectMeta) -> str:
    for ref in meta.owner_references:
        if ref.controller:
            return f"{ref.kind}/{meta.namespace}/{ref.name}"
    return ""


def _max_surge(d: apps_pb2.Deployment) -> int:
    if d.spec.strategy.type == "Recreate":
        return 0
    v = d.spec.strategy.rolling_update.max_surge
    which = v.WhichOneof("value")
    if which == "int_val":
        return int(v.int_val)
    pct = v.str_val.rstrip("%") if which == "str_val" else "25"
    return math.ceil(d.spec.replicas * int(pct) / 100)


def _describe(kind: str, obj: Any) -> dict[str, Any]:
    meta = obj.metadata
    if kind == "Lease":
        return {"value": obj.spec.holder_identity}
    if kind == "Pod":
        return {"pod": {"uid": meta.uid, "node": obj.spec.node_name, "phase": obj.status.phase,
                        "deleting": meta.HasField("deletion_timestamp"), "owner": _owner(meta),
                        "static": MIRROR_ANNOTATION in meta.annotations}}
    if kind == "ReplicaSet":
        return {"rs": {"uid": meta.uid, "replicas": obj.spec.replicas, "owner": _owner(meta)}}
    if kind == "Deployment":
        return {"deployment": {"replicas": obj.spec.replicas, "max_surge": _max_surge(obj)}}
    return {}


def _watchers(r: Run, kubelets: dict[str, list[str]]) -> list[Any]:
    ns, c = r.opts.namespace, r.client
    nodes = sorted(n for ns_ in kubelets.values() for n in ns_)[:2]
    specs: list[tuple[str, ResourceClient[Any], str | None, str]] = [
        *[(f"leases-{i}", c.leases, ns, "") for i in (1, 2, 3)],
        ("pods-1", c.pods, None, ""), ("pods-2", c.pods, None, ""),
        *[(f"pods-{n}", c.pods, None, f"spec.nodeName={n}") for n in nodes],
        ("replicasets", c.replica_sets, ns, ""), ("deployments", c.deployments, ns, ""),
    ]
    return [_watch(r, name, rc, namespace, fs) for name, rc, namespace, fs in specs]


async def _watch(r: Run, name: str, rc: ResourceClient[Any], namespace: str | None, field_selector: str) -> None:
    h, kind = r.history, rc.info.kind
    filt = field_selector or (f"namespace={namespace}" if namespace else "")
    rv = (await rc.list(namespace, field_selector=field_selector)).resource_version
    h.record("watch-start", watcher=name, kind=kind, filter=filt, rv=rv)
    delay = 0.1
    while True:
        try:
            async for ev in rc.watch(namespace, resource_version=rv, field_selector=field_selector,
                                     allow_bookmarks=True):
                delay = 0.1
                if ev.type != "BOOKMARK" and ev.object is not None:
                    meta = ev.object.metadata
                    h.record("watch-event", watcher=name, event=ev.type,
                             key=f"{kind}/{meta.namespace}/{meta.name}" if meta.namespace else f"{kind}//{meta.name}",
                             rv=ev.resource_version, **_describe(kind, ev.object))
                rv = ev.resource_version
            h.record("watch-break", watcher=name, error="stream ended by the server")
        except errors.Gone:
            rv = await _relist(rc, namespace, field_selector)
            h.record("watch-relist", watcher=name, rv=rv)
            continue
        except asyncio.CancelledError:
            raise
        except Exception as e:
            h.record("watch-break", watcher=name, error=f"{type(e).__name__}: {getattr(e, 'message', str(e))}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 1.0)
        h.record("watch-resume", watcher=name, rv=rv)


async def _relist(rc: ResourceClient[Any], namespace: str | None, field_selector: str) -> str:
    while True:
        try:
            return (await rc.list(namespace, field_selector=field_selector)).resource_version
        except errors.Unavailable:
            await asyncio.sleep(0.5)


# ---- faults ---------------------------------------------------------------------------------------


async def _leader(r: Run, role: str) -> str | None:
    lease_name = {"scheduler": "kube-scheduler", "controllers": "kube-controller-manager"}[role]
    try:
        lease = await r.client.leases.get(lease_name, "kube-system")
    except errors.ApiError:
        return None
    holder = lease.spec.holder_identity
    for name in r.backend.members(role):
        if name not in r.busy and r.backend.identity_matches(name, holder):
            return name
    return None


async def _fault(r: Run, s: Scheduled) -> None:
    await asyncio.sleep(max(0.0, r.t0 + s.at - time.time()))
    spec, backend, h = s.spec, r.backend, r.history
    elapsed = time.time() - r.t0
    if spec.fault == "kill-leader":
        leader = await _leader(r, spec.role)
        targets = [leader] if leader else []
    else:
        targets = [m for m in backend.members(spec.role) if m not in r.busy]
    if not targets:
        r.say(f"{elapsed:7.1f}s  {spec.fault:<18} skipped: no {spec.role} free to hit")
        h.record("fault-skipped", fault=spec.fault, reason=f"no {spec.role} free")
        return
    target = targets[int(s.pick * len(targets))]
    r.busy.add(target)
    r.fault_ids += 1
    fid, nodes = r.fault_ids, backend.nodes_of(target)
    start, undo, verb = {
        "kill-kubelet": (backend.kill, backend.restart, "restart"),
        "kill-apiserver": (backend.kill, backend.restart, "restart"),
        "kill-leader": (backend.kill, backend.restart, "restart"),
        "kill-redis": (backend.kill, backend.restart, "restart"),
        "pause-kubelet": (backend.pause, backend.resume, "resume"),
        "partition-kubelet": (backend.partition, backend.heal, "heal"),
    }[spec.fault]
    try:
        await start(target)
    except BackendError as e:
        r.say(f"{elapsed:7.1f}s  {spec.fault:<18} {target}: {e}")
        h.record("fault-error", fault=spec.fault, target=target, error=str(e))
        r.busy.discard(target)
        return
    try:
        h.record("fault", id=fid, fault=spec.fault, target=target, nodes=nodes, phase="start")
        on = f" ({', '.join(nodes)})" if nodes else ""
        elapsed = time.time() - r.t0
        r.say(f"{elapsed:7.1f}s  {spec.fault:<18} {target}{on}, {verb} in {spec.duration:g}s")
        await asyncio.sleep(spec.duration)
    finally:
        # Also when the run is interrupted: a paused kubelet is resumed, a killed process started again, a
        # partition healed, so that no run leaves the cluster broken behind it.
        t_end = time.time()
        try:
            await undo(target)
            h.record("fault", id=fid, fault=spec.fault, target=target, nodes=nodes, phase="end", t=t_end)
            r.last_fault_end = max(r.last_fault_end, time.time())
        except BackendError as e:
            r.say(f"{time.time() - r.t0:7.1f}s  {spec.fault:<18} {target}: could not {verb}: {e}")
            h.record("fault-error", fault=spec.fault, target=target, error=str(e))
        finally:
            r.busy.discard(target)


SUPERVISED = ("redis", "apiserver", "scheduler", "controllers")


async def _supervise(r: Run) -> None:
    """Restart control-plane processes that exit on their own, as a real cluster's kubelet restarts its static
    control-plane pods and compose's restart policy restarts their containers: a scheduler or controller manager
    exits when it loses its lease (upstream's behaviour), which an apiserver or Redis fault makes it do. Kubelets
    are not restarted here: a dead kubelet is a dead node until its fault ends."""
    while True:
        await asyncio.sleep(0.5)
        for role in SUPERVISED:
            for name in r.backend.members(role):
                if name in r.busy or not r.backend.exited(name):
                    continue
                r.busy.add(name)
                try:
                    r.say(f"{time.time() - r.t0:7.1f}s  {name} exited on its own; restarting it")
                    r.history.record("restart", target=name, reason="exited")
                    await r.backend.restart(name)
                except BackendError as e:
                    r.say(f"{time.time() - r.t0:7.1f}s  {name} could not be restarted: {e}")
                finally:
                    r.busy.discard(name)


# ---- after the faults -----------------------------------------------------------------------------


async def _converge(r: Run, statics: dict[str, str]) -> None:
    """Wait for every workload to reach its desired state, measured from the end of the last fault, and for the
    static pods' mirrors to be back."""
    ns, h = r.opts.namespace, r.history
    start = r.last_fault_end or time.time()
    give_up = start + r.bound + 30.0

    async def state(w: WorkloadSpec) -> tuple[int, int]:
        if w.kind == "deployment":
            d = await r.client.deployments.get(w.name, ns)
            pods = (await r.client.pods.list(ns, label_selector=f"chaos={w.name}")).items
            live = [p for p in pods if not p.metadata.HasField("deletion_timestamp")
                    and p.status.phase not in ("Succeeded", "Failed")]
            ready = sum(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions) for p in live)
            # Converged: exactly the desired pods, all Ready (no stragglers left over from the faults).
            return (ready if len(live) == d.spec.replicas else max(0, min(ready, len(live) - 1))), d.spec.replicas
        j = await r.client.jobs.get(w.name, ns)
        return j.status.succeeded, w.completions

    for w in r.opts.workloads:
        ready, desired = 0, 1
        while True:
            with contextlib.suppress(errors.Unavailable, errors.Timeout):
                ready, desired = await state(w)
            now = time.time()
            if ready >= desired or now > give_up:
                break
            await asyncio.sleep(0.25)
        seconds = max(0.0, now - start)
        ok = ready >= desired and seconds <= r.bound
        kind = "Deployment" if w.kind == "deployment" else "Job"
        h.record("converged", workload=f"{kind}/{ns}/{w.name}", ok=ok, ready=ready, desired=desired,
                 seconds=round(seconds, 2), bound=round(r.bound, 2))

    for node, key in sorted(statics.items()):
        pod_ns, name = key.split("/", 1)
        phase, present = "", False
        while True:
            try:
                p = await r.client.pods.get(name, pod_ns)
                present, phase = True, p.status.phase
            except errors.NotFound:
                present, phase = False, ""
            except (errors.Unavailable, errors.Timeout):
                pass
            if (present and phase == "Running") or time.time() > give_up:
                break
            await asyncio.sleep(0.25)
        h.record("mirror", node=node, pod=key, present=present, phase=phase)


async def _final_reads(r: Run) -> None:
    ns = r.opts.namespace
    leases = (await r.client.leases.list(ns)).items
    found = {f"Lease/{ns}/{lease.metadata.name}": lease for lease in leases}
    for key in sorted(r.written_keys):
        lease = found.get(key)
        if lease is None:
            r.history.record("final", key=key, absent=True)
        else:
            r.history.record("final", key=key, rv=lease.metadata.resource_version,
                             value=lease.spec.holder_identity)


def _kubelet_records(r: Run, kubelets: dict[str, list[str]]) -> None:
    """What each kubelet itself did, from its structured log: pods started and stopped, during this run."""
    since = r.t0 - 60.0
    for name, nodes in kubelets.items():
        for line in r.backend.kubelet_log_lines(name):
            if '"pod.st' not in line:
                continue
            try:
                e = json.loads(line[line.index("{"):])
                t = parse_log_time(e["timestamp"])
            except (ValueError, KeyError):
                continue
            if e.get("event") not in ("pod.started", "pod.stopped") or t < since:
                continue
            r.history.record("kubelet", t=t, node=e.get("node") or (nodes[0] if nodes else name),
                             event=e["event"], uid=e.get("uid", ""), pod=e.get("pod", ""),
                             static=bool(e.get("static", False)))


async def _clean_up(r: Run, statics: dict[str, str]) -> None:
    ns = r.opts.namespace
    for folder in r.backend.static_pod_dirs().values():
        with contextlib.suppress(OSError):
            (folder / f"{STATIC_POD}.yaml").unlink()
    deletions: list[Awaitable[Any]] = []
    for w in r.opts.workloads:
        if w.kind == "deployment":
            deletions.append(r.client.deployments.delete(w.name, ns))
        else:
            deletions.append(r.client.jobs.delete(w.name, ns, propagation_policy="Background"))
    deletions += [r.client.leases.delete(key.rsplit("/", 1)[1], ns) for key in sorted(r.written_keys)]
    for delete in deletions:
        with contextlib.suppress(errors.ApiError):
            await delete


def exit_code(verdicts: list[checkers.Verdict]) -> int:
    return 0 if all(v.ok for v in verdicts) else 1


__all__ = ["Options", "Run", "check_specs", "exit_code", "run"]
