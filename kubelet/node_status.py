"""The Node a kubelet registers and keeps alive: capacity, addresses, nodeInfo, podCIDR, conditions, images,
and the Lease in kube-node-lease renewed every renew interval (the heartbeat the node controller watches)."""

from __future__ import annotations

import asyncio
import platform
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

KUBELET_VERSION = "v1.32.0-kubemu"


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


def pod_cidr_for(name: str, taken: set[str]) -> str:
    """A /24 in 10.244.0.0/16 distinct per node: from the node's number when it has one, else the lowest free."""
    m = re.search(r"(\d+)$", name)
    if m and 0 < int(m.group(1)) < 255:
        preferred = f"10.244.{int(m.group(1))}.0/24"
        if preferred not in taken:
            return preferred
    for i in range(1, 255):
        cidr = f"10.244.{i}.0/24"
        if cidr not in taken:
            return cidr
    raise RuntimeError("no free podCIDR left in 10.244.0.0/16")


class NodeAgent:
    def __init__(self, client: Client, spec: NodeSpec, config: ClusterConfig, image_cache: ImageCache,
                 clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.spec = spec
        self.config = config
        self.images = image_cache
        self.clock = clock
        self.node: core_pb2.Node | None = None
        self.boot_id = str(uuid.uuid4())
        self.last_reported = 0.0
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
                    taken = {n.spec.pod_cidr for n in (await self.client.nodes.list()).items}
                    node.spec.pod_cidr = pod_cidr_for(self.spec.name, taken)
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
        name, ns = self.spec.name, "kube-node-lease"
        now = self.clock()
        try:
            lease = await self.client.leases.get(name, ns)
        except errors.NotFound:
            lease = coordination_pb2.Lease()
            lease.metadata.name, lease.metadata.namespace = name, ns
            if self.node is not None:
                lease.metadata.owner_references.add(api_version="v1", kind="Node", name=name,
                                                    uid=self.node.metadata.uid)
            lease.spec.holder_identity = name
            lease.spec.lease_duration_seconds = int(self.config.node.lease_duration_seconds) or 1
            set_time(lease.spec.renew_time, now)
            try:
                await self.client.leases.create(lease)
            except errors.AlreadyExists:
                pass
            return
        lease.spec.holder_identity = name
        lease.spec.lease_duration_seconds = max(1, round(self.config.node.lease_duration_seconds))
        set_time(lease.spec.renew_time, now)
        await self.client.leases.update(lease)

    async def run_lease(self) -> None:
        backoff = 0.2
        while True:
            try:
                await self.renew_lease()
                backoff = 0.2
                await asyncio.sleep(self.config.node.lease_renew_interval_seconds)
            except errors.ApiError as e:
                # Retry quickly (200 ms doubling to 7 s upstream) so a brief outage costs no heartbeat.
                self.log.info("lease.renew_failed", error=str(e), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 7.0)

    async def run_status(self) -> None:
        while True:
            await asyncio.sleep(self.config.node.node_status_update_frequency_seconds)
            try:
                await self.update_status()
            except errors.ApiError as e:
                self.log.info("node.status_failed", error=str(e))
