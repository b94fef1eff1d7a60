"""The Node a kubelet registers and keeps alive: capacity, addresses, nodeInfo, podCIDR, conditions, images,
and the Lease in kube-node-lease renewed every renew interval (the heartbeat the node controller watches)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import platform
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from kubelet.images import ImageCache
from kubemu.api.serialization import set_time
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.config import ClusterConfig
from kubemu.pb import coordination_pb2, core_pb2

log = structlog.get_logger()

KUBELET_VERSION = "v1.35.0-kubemu"
LEASE_NAMESPACE = "kube-node-lease"


@dataclass
class NodeSpec:
    name: str
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[core_pb2.Taint] = field(default_factory=list)
    address: str = "127.0.0.1"
    kubelet_port: int = 0
    extended: dict[str, str] = field(default_factory=dict)
    """Extended resources such as nvidia.com/gpu."""


def _block(i: int) -> str:
    """The i-th /24 from 10.244.0.0: 1..255 are 10.244.1.0/24..10.244.255.0/24 (as before), then 10.245.0.0/24 and
    on, so that more than 254 nodes each get their own range."""
    return f"10.{244 + i // 256}.{i % 256}.0/24"


MAX_POD_CIDRS = 11 * 256 - 1
"""Blocks 1 to 2815: 10.244.1.0/24 to 10.254.255.0/24."""


def pod_cidr_for(name: str, taken: set[str]) -> str:
    """A /24 distinct per node: from the node's number when it has one (node-7: 10.244.7.0/24, node-300:
    10.245.44.0/24), else the lowest free."""
    m = re.search(r"(\d+)$", name)
    if m and 0 < int(m.group(1)) <= MAX_POD_CIDRS:
        preferred = _block(int(m.group(1)))
        if preferred not in taken:
            return preferred
    for i in range(1, MAX_POD_CIDRS + 1):
        cidr = _block(i)
        if cidr not in taken:
            return cidr
    raise RuntimeError("no free podCIDR left in 10.244.0.0-10.254.255.0")


class PodCidrs:
    """podCIDRs for the nodes of one process. The Nodes are listed once for many registrations (listing them for
    each of a thousand nodes registering is quadratic), and every range handed out here is remembered."""

    def __init__(self, client: Client, max_age: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.max_age = max_age
        self.clock = clock
        self.taken: set[str] = set()
        self.listed_at: float | None = None
        self.lock = asyncio.Lock()

    async def allocate(self, name: str) -> str:
        async with self.lock:
            if self.listed_at is None or self.clock() - self.listed_at > self.max_age:
                nodes = (await self.client.nodes.list()).items
                self.taken |= {n.spec.pod_cidr for n in nodes if n.spec.pod_cidr}
                self.listed_at = self.clock()
            cidr = pod_cidr_for(name, self.taken)
            self.taken.add(cidr)
            return cidr


class NodeAgent:
    def __init__(self, client: Client, spec: NodeSpec, config: ClusterConfig, image_cache: ImageCache,
                 clock: Callable[[], float] = time.time, cidrs: PodCidrs | None = None) -> None:
        self.client = client
        self.cidrs = cidrs or PodCidrs(client, max_age=0.0)
        self.spec = spec
        self.config = config
        self.images = image_cache
        self.clock = clock
        self.node: core_pb2.Node | None = None
        self.boot_id = str(uuid.uuid4())
        self.last_reported = 0.0
        self.lease: coordination_pb2.Lease | None = None
        """The Lease as we last wrote it: the next renewal updates it without reading it first."""
        self.memory_pressure_since = 0.0
        """When the eviction manager last saw memory pressure; the condition holds for the transition period."""
        self.log = log.bind(component="kubelet", node=spec.name)

    def _capacity(self) -> dict[str, str]:
        cap = {"cpu": self.spec.cpu, "memory": self.spec.memory, "pods": str(self.spec.pods),
               "ephemeral-storage": self.spec.ephemeral_storage}
        cap.update(self.spec.extended)
        return cap

    def _fill_status(self, node: core_pb2.Node, now: float) -> None:
        st = node.status
        st.capacity.clear()
        st.capacity.update(self._capacity())
        st.allocatable.clear()
        st.allocatable.update(self._capacity())
        del st.addresses[:]
        st.addresses.add(type="InternalIP", address=self.spec.address)
        st.addresses.add(type="Hostname", address=self.spec.name)
        st.daemon_endpoints.kubelet_endpoint.port = self.spec.kubelet_port
        info = st.node_info
        info.machine_id = uuid.uuid5(uuid.NAMESPACE_DNS, self.spec.name).hex
        info.system_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, self.spec.name))
        info.boot_id = self.boot_id
        info.kernel_version = platform.release()
        info.os_image = "kubemu simulated node"
        info.container_runtime_version = "kubemu://0.1.0"
        info.kubelet_version = KUBELET_VERSION
        info.kube_proxy_version = KUBELET_VERSION
        info.operating_system = "linux"
        info.architecture = "amd64"
        del st.images[:]
        for name, size in sorted(self.images.images.items()):
            st.images.add(names=[name], size_bytes=size)
        # MemoryPressure holds for the eviction-pressure-transition-period (5 min, scaled) after the last sign.
        pressure = self.memory_pressure_since and now - self.memory_pressure_since < self.config.scaled(300)
        memory = (("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
                  if pressure else
                  ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"))
        conds = {
            "MemoryPressure": memory,
            "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
        }
        existing = {c.type: c for c in st.conditions}
        del st.conditions[:]
        for ctype, (status, reason, message) in conds.items():
            c = st.conditions.add(type=ctype, status=status, reason=reason, message=message)
            old = existing.get(ctype)
            if old is not None and old.status == status:
                c.last_transition_time.CopyFrom(old.last_transition_time)
            else:
                set_time(c.last_transition_time, float(int(now)))
            set_time(c.last_heartbeat_time, float(int(now)))

    async def register(self) -> core_pb2.Node:
        """Create the Node, or take over the existing one of the same name (a restarted kubelet)."""
        now = self.clock()
        while True:
            try:
                try:
                    node = await self.client.nodes.get(self.spec.name)
                except errors.NotFound:
                    node = core_pb2.Node()
                    node.metadata.name = self.spec.name
                    node.spec.pod_cidr = await self.cidrs.allocate(self.spec.name)
                    node.spec.pod_cidrs.append(node.spec.pod_cidr)
                    node.spec.taints.extend(self.spec.taints)
                    node.metadata.labels.update(self._labels())
                    self._fill_status(node, now)
                    node = await self.client.nodes.create(node)
                    self.log.info("node.registered", pod_cidr=node.spec.pod_cidr)
                else:
                    node.metadata.labels.update(self._labels())
                    node = await self.client.nodes.update(node)
                    self.log.info("node.reregistered", pod_cidr=node.spec.pod_cidr)
                self._fill_status(node, now)
                self.node = await self.client.nodes.update_status(node)
                self.last_reported = now
                return self.node
            except (errors.Conflict, errors.AlreadyExists):
                continue
            except errors.Unavailable as e:
                self.log.warning("node.register_failed", error=str(e))
                await asyncio.sleep(1.0)

    def _labels(self) -> dict[str, str]:
        return {"kubernetes.io/hostname": self.spec.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": "amd64", **self.spec.labels}

    async def update_status(self, force: bool = False) -> None:
        """Post node status when it changed, or every nodeStatusReportFrequency."""
        now = self.clock()
        try:
            node = await self.client.nodes.get(self.spec.name)
        except errors.NotFound:
            await self.register()
            return
        before = node.status.SerializeToString(deterministic=True)
        self._fill_status(node, now)
        probe = core_pb2.NodeStatus()
        probe.CopyFrom(node.status)
        old = core_pb2.NodeStatus.FromString(before)
        for c in list(probe.conditions) + list(old.conditions):
            c.ClearField("last_heartbeat_time")
        changed = probe.SerializeToString(deterministic=True) != old.SerializeToString(deterministic=True)
        if changed or force or now - self.last_reported >= self.config.node.node_status_report_frequency_seconds:
            try:
                self.node = await self.client.nodes.update_status(node)
                self.last_reported = now
            except errors.Conflict:
                pass

    async def renew_lease(self) -> None:
        """One heartbeat: update the Lease we last wrote (one call, as upstream's latestLease), falling back to
        get (or create) when we have none or it went stale."""
        for _ in range(3):
            lease = self.lease
            if lease is None:
                lease = await self._get_or_create_lease()
                if lease is None:
                    return  # just created, with a fresh renewTime
            lease.spec.holder_identity = self.spec.name
            lease.spec.lease_duration_seconds = max(1, round(self.config.node.lease_duration_seconds))
            set_time(lease.spec.renew_time, self.clock())
            try:
                self.lease = await self.client.leases.update(lease)
                return
            except (errors.Conflict, errors.NotFound):
                self.lease = None  # changed or deleted behind our back: read it again
        raise errors.Conflict(f'lease "{self.spec.name}" keeps changing')

    async def _get_or_create_lease(self) -> coordination_pb2.Lease | None:
        name, ns = self.spec.name, LEASE_NAMESPACE
        try:
            return await self.client.leases.get(name, ns)
        except errors.NotFound:
            pass
        lease = coordination_pb2.Lease()
        lease.metadata.name, lease.metadata.namespace = name, ns
        if self.node is not None:
            lease.metadata.owner_references.add(api_version="v1", kind="Node", name=name,
                                                uid=self.node.metadata.uid)
        lease.spec.holder_identity = name
        lease.spec.lease_duration_seconds = max(1, round(self.config.node.lease_duration_seconds))
        set_time(lease.spec.renew_time, self.clock())
        try:
            self.lease = await self.client.leases.create(lease)
        except errors.AlreadyExists:
            pass
        return None

    async def run_status(self, jitter: bool = False) -> None:
        """Every nodeStatusUpdateFrequency; with `jitter` the first wait is cut by up to half, so that nodes
        registered together do not all report in one burst."""
        period = self.config.node.node_status_update_frequency_seconds
        first = period * (1 - random.random() / 2) if jitter else period
        await asyncio.sleep(first)
        while True:
            try:
                await self.update_status()
            except errors.ApiError as e:
                self.log.info("node.status_failed", error=str(e))
            await asyncio.sleep(period)


class LeaseRenewer:
    """The heartbeats of every node of the process from one timer loop: a heap of due times, each due lease
    renewed in its own task (a slow call delays no other node), then due again one renew interval after its
    previous due time, so that renewals do not drift by the call's latency. A failed renewal is retried soon
    (200 ms doubling to 7 s, as upstream) so that a brief outage costs no heartbeat."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._heap: list[tuple[float, int, NodeAgent, bool]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._backoff: dict[str, float] = {}

    def add(self, agent: NodeAgent, *, spread: bool = False) -> None:
        """Heartbeat `agent` from now on: at once, then every interval. With `spread`, the second renewal comes
        up to half an interval early, so that nodes registered together do not all renew in one burst."""
        if agent.spec.name in self._backoff:
            return
        self._backoff[agent.spec.name] = 0.2
        self._push(self.clock(), agent, spread)

    def __len__(self) -> int:
        return len(self._backoff)

    def _push(self, due: float, agent: NodeAgent, spread: bool = False) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), agent, spread))
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                now = self.clock()
                while self._heap and self._heap[0][0] <= now:
                    due, _, agent, spread = heapq.heappop(self._heap)
                    task = asyncio.create_task(self._renew(agent, due, spread), name=f"lease-{agent.spec.name}")
                    self._inflight.add(task)
                    task.add_done_callback(self._inflight.discard)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self._heap[0][0] - now if self._heap else None)
                except TimeoutError:
                    pass
        finally:
            for t in list(self._inflight):
                t.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def _renew(self, agent: NodeAgent, due: float, spread: bool) -> None:
        name = agent.spec.name
        try:
            await agent.renew_lease()
        except Exception as e:  # an ApiError, or a bug: either way this node must keep heartbeating
            backoff = self._backoff[name]
            agent.log.info("lease.renew_failed", error=str(e) or type(e).__name__, retry_in=backoff)
            self._backoff[name] = min(backoff * 2, 7.0)
            self._push(self.clock() + backoff, agent, spread)
            return
        self._backoff[name] = 0.2
        now = self.clock()
        if spread:
            self._push(now + self.interval * (1 - random.random() / 2), agent)
        else:
            # Fixed rate from the previous due time; when a call took longer than that, renew again at once.
            self._push(max(due + self.interval, now), agent)
