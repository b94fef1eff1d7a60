"""The kubelet of one node: merges its pod sources (the API pods bound to this node, and the static pod folder),
runs one worker per pod, writes pod status through one status manager that only writes on change, mirrors static
pods, and keeps the Node alive. What a process shares between its nodes (the connection to the apiserver, the pod
watch, the logs/exec server, the lease timer) is the host's: see kubelet/host.py."""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog

from kubelet import static_pods
from kubelet.images import ImageCache
from kubelet.node_status import NodeAgent, NodeSpec, PodCidrs, pod_cidr_for
from kubelet.object_manager import PodObjects
from kubelet.persistent_volumes import RETRY_SECONDS, VolumeManager
from kubelet.pod_worker import KubeletContext, PodWorker
from kubelet.runtime.net import Network
from kubelet.token import Source, TokenError, TokenManager
from kubelet.volumes import DEFAULT_MODE, FileProjection, MountError, Payload
from kubemu.api.quantity import bytes_of
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

log = structlog.get_logger()


EVICTION_THRESHOLD = 100 * 1024 * 1024
"""The default hard eviction threshold, memory.available<100Mi."""
EVICTION_MONITORING_PERIOD = 10.0
"""Seconds between the eviction manager's checks for memory pressure (upstream's evictionMonitoringPeriod)."""
STATUS_COALESCE_SECONDS = 0.01
"""How long the status manager lets a burst of changes settle before writing the latest status."""


def is_mirror(pod: core_pb2.Pod) -> bool:
    return static_pods.CONFIG_MIRROR in pod.metadata.annotations


class IpAllocator:
    """Pod IPs from the node's podCIDR, each new pod a new address (a recreated pod gets another IP)."""

    def __init__(self, cidr: str) -> None:
        self.set_cidr(cidr)
        self.in_use: set[str] = set()

    def set_cidr(self, cidr: str) -> None:
        net = ipaddress.ip_network(cidr)
        self.hosts = [str(h) for h in net.hosts()][1:]  # .1 is the bridge, as on a real node
        self.next = 0

    def allocate(self) -> str:
        for _ in range(len(self.hosts)):
            ip = self.hosts[self.next % len(self.hosts)]
            self.next += 1
            if ip not in self.in_use:
                self.in_use.add(ip)
                return ip
        raise RuntimeError("pod CIDR exhausted")

    def release(self, ip: str) -> None:
        self.in_use.discard(ip)


class Kubelet:
    """One node. Its host (kubelet/host.py) gives it the pods bound to it, heartbeats its Lease and serves its
    pods' logs; the node registers itself, runs its pods and static pods and reports their status."""

    def __init__(self, client: Client, spec: NodeSpec, config: ClusterConfig, static_path: Path | None,
                 clock: Callable[[], float] = time.time, *,
                 on_registered: Callable[[Kubelet], Awaitable[None]] | None = None,
                 register_gate: asyncio.Semaphore | None = None, spread: bool = False,
                 cidrs: PodCidrs | None = None, objects: PodObjects | None = None,
                 service_env: Callable[[str, bool], dict[str, str]] | None = None,
                 network: Callable[[str, str], Network | None] | None = None) -> None:
        self.client = client
        self.owns_objects = objects is None
        self.objects = objects if objects is not None else PodObjects(client)
        self.tokens = TokenManager(client.service_accounts, clock)
        """The node's ServiceAccount tokens (upstream's token manager), for the projected volumes."""
        """The watches of the ConfigMaps and Secrets the pods reference (the host's, shared by its nodes)."""
        self.spec = spec
        self.config = config
        self.clock = clock
        self.on_registered = on_registered
        """Called by the node once registered: the host then hands it the pods already bound to it."""
        self.register_gate = register_gate
        self.spread = spread
        """Many nodes start together: stagger their periodic status updates."""
        self.registered = False
        self.images = ImageCache(pull_seconds=config.pod.image_pull_seconds)
        self.agent = NodeAgent(client, spec, config, self.images, clock, cidrs)
        self.static = static_pods.StaticPodSource(static_path, spec.name)
        self.recorder = EventRecorder(client, "kubelet", spec.name, clock)
        self.ips = IpAllocator(pod_cidr_for(spec.name, set()))
        self.workers: dict[str, PodWorker] = {}  # by pod uid
        self.static_workers: dict[str, PodWorker] = {}  # by mirror name namespace/name
        self.dirty: dict[str, PodWorker] = {}
        self.status_wake = asyncio.Event()
        self.static_wake = asyncio.Event()
        self.written: dict[str, bytes] = {}
        self.written_rv: dict[str, int] = {}  # by pod key: the resourceVersion our last status write produced
        self.tasks: list[asyncio.Task[Any]] = []
        self.log = log.bind(component="kubelet", node=spec.name)
        # Every task of this node logs with node=<name>, also through the SDK (events, retries).
        self.log_context = contextvars.copy_context()
        self.log_context.run(structlog.contextvars.bind_contextvars, node=spec.name)
        self.ctx = KubeletContext(
            node_name=spec.name, config=config, images=self.images, host_ip=spec.address,
            allocate_ip=self.ips.allocate, release_ip=self.ips.release, publish=self._publish,
            event=self._event, confirm_deletion=self._confirm_deletion, clock=clock, log_context=self.log_context,
            objects=self.objects,
            allocatable={"cpu": spec.cpu, "memory": spec.memory, "ephemeral-storage": spec.ephemeral_storage},
            volumes=VolumeManager(client.resource("PersistentVolumeClaim").get, client.resource("PersistentVolume").get,
                                  retry=config.scaled(RETRY_SECONDS)),
            service_account_token=self._service_account_token,
        )
        if service_env is not None:
            self.ctx.service_env = service_env
        if network is not None:
            self.ctx.network = network

    @property
    def name(self) -> str:
        return self.spec.name

    async def _service_account_token(self, pod: core_pb2.Pod,
                                     projection: core_pb2.ServiceAccountTokenProjection) -> Payload:
        """A projected serviceAccountToken source's file (the volumes' hook): the token manager's token for the pod,
        asked for again when due, at the source's path."""
        try:
            tr = await self.tokens.token(pod, Source.of(projection))
        except TokenError as e:
            raise MountError(str(e)) from None
        return {projection.path: FileProjection(tr.status.token.encode(), DEFAULT_MODE)}

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self.tasks.append(asyncio.create_task(coro, name=f"{name}-{self.spec.name}",
                                              context=self.log_context.copy()))

    # -- start and stop ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the node; the host has set spec.kubelet_port to its logs/exec server."""
        # Static pods run from the first moment, with or without an apiserver.
        self._spawn(self._static_loop(), "static-pods")
        self._spawn(self._status_loop(), "status-manager")
        self._spawn(self._register_and_run(), "node")

    async def _register_and_run(self) -> None:
        if self.register_gate is not None:
            async with self.register_gate:
                node = await self.agent.register()
        else:
            node = await self.agent.register()
        if node.spec.pod_cidr:
            self.ips.set_cidr(node.spec.pod_cidr)
        self._spawn(self.agent.run_status(jitter=self.spread), "node-status")
        self.registered = True
        if self.on_registered is not None:
            await self.on_registered(self)
        self.static_wake.set()

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for w in list(self.workers.values()) + list(self.static_workers.values()):
            await w.abandon()
        if self.owns_objects:
            await self.objects.stop()

    def find(self, namespace: str, name: str) -> PodWorker | None:
        key = f"{namespace}/{name}"
        for w in self.workers.values():
            if w.key == key:
                return w
        return self.static_workers.get(key)

    # -- API pods ---------------------------------------------------------------------------------

    async def on_pod(self, pod: core_pb2.Pod) -> None:
        """A pod bound to this node was added or changed in the API."""
        if is_mirror(pod):
            if pod.metadata.HasField("deletion_timestamp"):
                self.static_wake.set()  # the mirror is being deleted: the static loop re-creates it
            return
        uid = pod.metadata.uid
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
            self._reconcile_status(worker, pod)
            return
        if pod.metadata.HasField("deletion_timestamp"):
            await self._confirm_deletion(pod)  # never run a pod the API is deleting
            return
        if pod.status.phase in ("Succeeded", "Failed"):
            return
        previous = pod.status if len(pod.status.container_statuses) else None
        worker = PodWorker(self.ctx, pod, previous=previous)
        self.workers[uid] = worker
        self.log.info("pod.admitted", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", uid=uid)
        worker.start()

    def _reconcile_status(self, worker: PodWorker, pod: core_pb2.Pod) -> None:
        """As upstream's status manager: when the API's status of a pod, newer than our last write, disagrees with
        what the kubelet knows (the node lifecycle controller marks a silent node's pods NotReady; the kubelet comes
        back from a pause or partition with its pods still ready), write ours again. Compared on what others
        change (phase, condition statuses, container readiness), so a field the apiserver normalises cannot make
        the kubelet write in a loop."""
        key = worker.key
        rv = int(pod.metadata.resource_version or 0)
        if key not in self.written or rv <= self.written_rv.get(key, 0):
            return  # nothing written yet (the worker will), or an event older than our last write
        if _digest(pod.status) != _digest(worker.status):
            self.log.info("status.reconciled", pod=key, uid=pod.metadata.uid)
            self.written.pop(key, None)
            self._publish(worker)

    async def on_pod_deleted(self, pod: core_pb2.Pod) -> None:
        """A pod bound to this node is gone from the API."""
        if is_mirror(pod):
            self.static_wake.set()
            return
        worker = self.workers.pop(pod.metadata.uid, None)
        if worker is not None:
            # Deleted without our confirmation (--force): stop its containers at once.
            await worker.abandon("deleted")
            self.log.info("pod.removed", pod=worker.key)

    async def _confirm_deletion(self, pod: core_pb2.Pod) -> None:
        await self._flush(pod.metadata.uid)
        try:
            await self.client.pods.delete(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0,
                                          uid=pod.metadata.uid)
            self.log.info("pod.deleted", pod=f"{pod.metadata.namespace}/{pod.metadata.name}")
        except (errors.NotFound, errors.Conflict):
            pass
        self.workers.pop(pod.metadata.uid, None)

    async def _event(self, pod: core_pb2.Pod, type: str, reason: str, message: str) -> None:
        target = pod
        if static_pods.CONFIG_SOURCE in pod.metadata.annotations and not pod.metadata.resource_version:
            return  # a static pod's events would point at no API object
        await self.recorder.event(target, type, reason, message)

    # -- status manager ---------------------------------------------------------------------------

    def _publish(self, worker: PodWorker) -> None:
        self.dirty[worker.pod.metadata.uid] = worker
        self.status_wake.set()

    async def _status_loop(self) -> None:
        while True:
            await self.status_wake.wait()
            # Let the pod workers woken with this change finish their step first: as upstream's status
            # manager writes the latest status when it syncs (not every one it was handed), a pod whose
            # containers start at once reports Running in one write instead of Pending, then Running.
            await asyncio.sleep(STATUS_COALESCE_SECONDS)
            self.status_wake.clear()
            for uid in list(self.dirty):
                await self._flush(uid)

    async def _flush(self, uid: str) -> None:
        worker = self.dirty.pop(uid, None)
        if worker is None:
            return
        status = worker.status
        data = status.SerializeToString(deterministic=True)
        key = worker.key
        if self.written.get(key) == data:
            return
        try:
            for attempt in range(5):
                if attempt == 0 and not worker.static and worker.pod.metadata.resource_version:
                    # The pod as the informer last delivered it: no read before the write. If it has changed
                    # since, the write's resourceVersion precondition fails and the next attempt reads it.
                    cur = core_pb2.Pod()
                    cur.CopyFrom(worker.pod)
                else:
                    try:
                        cur = await self.client.pods.get(worker.pod.metadata.name, worker.pod.metadata.namespace)
                    except errors.NotFound:
                        return
                if worker.static != is_mirror(cur) or (not worker.static and cur.metadata.uid != uid):
                    return
                if cur.status.phase in ("Succeeded", "Failed") and status.phase != cur.status.phase:
                    return
                cur.status.CopyFrom(status)
                try:
                    done = await self.client.pods.update_status(cur)
                    self.written[key] = data
                    self.written_rv[key] = int(done.metadata.resource_version or 0)
                    return
                except errors.Conflict:
                    continue
                except errors.NotFound:
                    return  # deleted meanwhile: nothing to report to
        except errors.ApiError as e:
            self.log.info("status.write_failed", pod=key, error=str(e))
            self.dirty.setdefault(uid, worker)  # try again on the next wake-up

    # -- memory: OOM kills and node-pressure eviction ----------------------------------------------

    def _all_workers(self) -> list[PodWorker]:
        return list(self.workers.values()) + list(self.static_workers.values())

    def oom_interval(self) -> float:
        """How often containers are checked against their memory limit (the kernel's OOM killer acts at once;
        a tenth of a second of simulated time stands in for that)."""
        return max(0.1, self.config.time_scale)

    def eviction_interval(self) -> float:
        """The eviction manager's monitoring period (upstream's evictionMonitoringPeriod, 10 s, scaled)."""
        return max(0.1, self.config.scaled(EVICTION_MONITORING_PERIOD))

    def oom_tick(self) -> None:
        """OOM-kill containers past their memory limit."""
        for w in self._all_workers():
            if w.memory_limited:
                w.check_memory()

    async def eviction_tick(self) -> None:
        """Every monitoring period (the host's timer): when the node's simulated memory use leaves less than the
        hard threshold (memory.available<100Mi), evict a pod in upstream's order."""
        workers = self._all_workers()
        if not workers:
            return
        capacity = bytes_of(self.spec.memory)
        used = sum(w.memory_usage(r) for w in workers for r in w.records.values())
        available = capacity - used
        pressure = available < EVICTION_THRESHOLD
        if pressure:
            self.agent.memory_pressure_since = self.clock()
            victim = self._eviction_candidate()
            if victim is not None:
                msg = (f"The node was low on resource: memory. Threshold quantity: 100Mi, available: "
                       f"{available // 1024}Ki. ")
                self.log.warning("pod.evicted", pod=victim.key, available=available)
                await self._event(victim.pod, "Warning", "Evicted", msg)
                await victim.evict(msg)

    def _eviction_candidate(self) -> PodWorker | None:
        """Upstream's rank: pods using more than they request first (BestEffort always), then lower priority,
        then by how far usage exceeds the request. Static pods are critical and never evicted."""
        ranked = []
        for w in self.workers.values():
            if w.evicted or w.terminating:
                continue
            usage = sum(w.memory_usage(r) for r in w.records.values())
            if usage == 0:
                continue
            request = sum(bytes_of(r.spec.resources.requests["memory"]) for r in w.records.values()
                          if "memory" in r.spec.resources.requests)
            ranked.append((usage <= request, w.pod.spec.priority, -(usage - request), w.key, w))
        ranked.sort(key=lambda t: t[:4])
        return ranked[0][4] if ranked else None

    # -- static pods and their mirrors -------------------------------------------------------------

    def static_interval(self) -> float:
        return max(0.2, min(20.0, self.config.node.node_status_update_frequency_seconds / 5))

    def static_tick(self) -> None:
        """The host's timer: look at the static pod folder again, when there is one or static pods run."""
        if self.static_workers or self.static.present():
            self.static_wake.set()

    async def _static_loop(self) -> None:
        while True:
            try:
                await self._static_sync()
            except Exception as e:  # the loop must outlive one bad pass: the next wake-up tries again
                self.log.warning("static_pod.sync_failed", error=str(e) or type(e).__name__)
            await self.static_wake.wait()
            self.static_wake.clear()

    async def _static_sync(self) -> None:
        """One pass over the static pod folder: stop what was removed or changed, start what is new, mirror."""
        added, changed, removed = self.static.scan()
        for sp in removed + changed:
            old = self.static_workers.pop(f"{sp.pod.metadata.namespace}/{sp.pod.metadata.name}", None)
            if old is not None:
                old.terminate()
                await old.wait()
                self.log.info("static_pod.stopped", pod=old.key, file=str(sp.path))
        for sp in added + changed:
            worker = PodWorker(self.ctx, sp.pod, static=True)
            self.static_workers[worker.key] = worker
            worker.start()
            self.log.info("static_pod.started", pod=worker.key, file=str(sp.path))
        try:
            await self._sync_mirrors([sp.pod for sp in removed])
        except errors.ApiError as e:
            self.log.debug("mirror.sync_failed", error=str(e))

    async def _sync_mirrors(self, removed: list[core_pb2.Pod]) -> None:
        if self.agent.node is None:
            return
        for pod in removed:
            try:
                await self.client.pods.delete(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
            except errors.NotFound:
                pass
        for key, worker in list(self.static_workers.items()):
            static = worker.pod
            want_hash = static.metadata.annotations[static_pods.CONFIG_HASH]
            try:
                mirror = await self.client.pods.get(static.metadata.name, static.metadata.namespace)
            except errors.NotFound:
                mirror = None
            if mirror is not None and (
                mirror.metadata.annotations.get(static_pods.CONFIG_MIRROR) != want_hash
                or mirror.metadata.HasField("deletion_timestamp")
            ):
                try:
                    await self.client.pods.delete(mirror.metadata.name, mirror.metadata.namespace,
                                                  grace_period_seconds=0, uid=mirror.metadata.uid)
                except (errors.NotFound, errors.Conflict):
                    pass
                mirror = None
            if mirror is None:
                try:
                    created = await self.client.pods.create(static_pods.mirror_of(static, self.agent.node))
                    self.log.info("mirror_pod.created", pod=key, uid=created.metadata.uid)
                    self.written.pop(key, None)
                    self._publish(worker)
                except errors.AlreadyExists:
                    pass


def _digest(status: core_pb2.PodStatus) -> tuple[Any, ...]:
    """What of a pod's status others may change behind the kubelet's back."""
    return (
        status.phase,
        tuple(sorted((c.type, c.status) for c in status.conditions)),
        tuple(sorted((c.name, c.ready) for c in status.container_statuses)),
    )
