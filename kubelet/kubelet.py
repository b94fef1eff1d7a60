"""The kubelet: merges its pod sources (the API, filtered to this node, and the static pod folder), runs one
worker per pod, writes pod status through one status manager that only writes on change, mirrors static pods,
and keeps the Node and its Lease alive."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import structlog

from kubelet import static_pods
from kubelet.images import ImageCache
from kubelet.node_status import NodeAgent, NodeSpec, pod_cidr_for
from kubelet.pod_worker import KubeletContext, PodWorker
from kubelet.server import KubeletService
from kubemu.api.quantity import bytes_of
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.config import ClusterConfig
from kubemu.pb import api_pb2_grpc, core_pb2

log = structlog.get_logger()


EVICTION_THRESHOLD = 100 * 1024 * 1024
"""The default hard eviction threshold, memory.available<100Mi."""


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
    def __init__(self, client: Client, spec: NodeSpec, config: ClusterConfig, static_path: Path | None,
                 listen: str = "127.0.0.1:0", clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.spec = spec
        self.config = config
        self.listen = listen
        self.clock = clock
        self.images = ImageCache(pull_seconds=config.pod.image_pull_seconds)
        self.agent = NodeAgent(client, spec, config, self.images, clock)
        self.static = static_pods.StaticPodSource(static_path, spec.name)
        self.recorder = EventRecorder(client, "kubelet", spec.name, clock)
        self.ips = IpAllocator(pod_cidr_for(spec.name, set()))
        self.workers: dict[str, PodWorker] = {}  # by pod uid
        self.static_workers: dict[str, PodWorker] = {}  # by mirror name namespace/name
        self.dirty: dict[str, PodWorker] = {}
        self.status_wake = asyncio.Event()
        self.static_wake = asyncio.Event()
        self.written: dict[str, bytes] = {}
        self.informer: Informer[core_pb2.Pod] | None = None
        self.server: grpc.aio.Server | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.log = log.bind(component="kubelet", node=spec.name)
        self.ctx = KubeletContext(
            node_name=spec.name, config=config, images=self.images, host_ip=spec.address,
            allocate_ip=self.ips.allocate, release_ip=self.ips.release, publish=self._publish,
            event=self._event, confirm_deletion=self._confirm_deletion, clock=clock,
        )

    # -- start and stop ---------------------------------------------------------------------------

    async def start(self) -> None:
        self.server = grpc.aio.server()
        api_pb2_grpc.add_KubeletServicer_to_server(KubeletService(self.find), self.server)
        port = self.server.add_insecure_port(self.listen)
        await self.server.start()
        self.spec.kubelet_port = port
        # Static pods run from the first moment, with or without an apiserver.
        self.tasks.append(asyncio.create_task(self._static_loop(), name="static-pods"))
        self.tasks.append(asyncio.create_task(self._status_loop(), name="status-manager"))
        self.tasks.append(asyncio.create_task(self._register_and_run(), name="node"))
        self.tasks.append(asyncio.create_task(self._eviction_loop(), name="eviction-manager"))
        self.log.info("kubelet.started", kubelet_port=port)

    async def _register_and_run(self) -> None:
        node = await self.agent.register()
        if node.spec.pod_cidr:
            self.ips.set_cidr(node.spec.pod_cidr)
        self.tasks.append(asyncio.create_task(self.agent.run_lease(), name="lease"))
        self.tasks.append(asyncio.create_task(self.agent.run_status(), name="node-status"))
        informer: Informer[core_pb2.Pod] = Informer(self.client.pods, field_selector=f"spec.nodeName={self.spec.name}")
        informer.add_handler(self._on_pod, lambda old, new: self._on_pod(new), self._on_pod_deleted)
        self.informer = informer
        informer.start()
        self.static_wake.set()

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        if self.informer is not None:
            await self.informer.stop()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for w in list(self.workers.values()) + list(self.static_workers.values()):
            await w.abandon()
        if self.server is not None:
            await self.server.stop(0.5)

    def find(self, namespace: str, name: str) -> PodWorker | None:
        key = f"{namespace}/{name}"
        for w in self.workers.values():
            if w.key == key:
                return w
        return self.static_workers.get(key)

    # -- API pods ---------------------------------------------------------------------------------

    async def _on_pod(self, pod: core_pb2.Pod) -> None:
        if is_mirror(pod):
            if pod.metadata.HasField("deletion_timestamp"):
                self.static_wake.set()  # the mirror is being deleted: the static loop re-creates it
            return
        uid = pod.metadata.uid
        worker = self.workers.get(uid)
        if worker is not None:
            worker.update(pod)
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

    async def _on_pod_deleted(self, pod: core_pb2.Pod) -> None:
        if is_mirror(pod):
            self.static_wake.set()
            return
        worker = self.workers.pop(pod.metadata.uid, None)
        if worker is not None:
            # Deleted without our confirmation (--force): stop its containers at once.
            await worker.abandon()
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
            for _ in range(5):
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
                    await self.client.pods.update_status(cur)
                    self.written[key] = data
                    return
                except errors.Conflict:
                    continue
        except errors.ApiError as e:
            self.log.info("status.write_failed", pod=key, error=str(e))
            self.dirty.setdefault(uid, worker)  # try again on the next wake-up

    # -- memory: OOM kills and node-pressure eviction ----------------------------------------------

    def _all_workers(self) -> list[PodWorker]:
        return list(self.workers.values()) + list(self.static_workers.values())

    async def _eviction_loop(self) -> None:
        """Every monitoring interval: OOM-kill containers past their limit; when the node's simulated memory
        use leaves less than the hard threshold (memory.available<100Mi), evict pods in upstream's order."""
        interval = max(0.1, self.config.time_scale)
        while True:
            await asyncio.sleep(interval)
            for w in self._all_workers():
                w.check_memory()
            capacity = bytes_of(self.spec.memory)
            used = sum(w.memory_usage(r) for w in self._all_workers() for r in w.records.values())
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

    async def _static_loop(self) -> None:
        interval = max(0.2, min(20.0, self.config.node.node_status_update_frequency_seconds / 5))
        while True:
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
            try:
                await asyncio.wait_for(self.static_wake.wait(), interval)
            except TimeoutError:
                pass
            self.static_wake.clear()

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
