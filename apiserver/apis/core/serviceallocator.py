"""Cluster IPs and node ports of Services, as kube-apiserver allocates them (pkg/registry/core/service/ipallocator
and portallocator, 1.33+).

A cluster IP is an IPAddress object named by the address, whose parentRef is the Service: creating it is the
allocation, and the store's create (absent precondition, one atomic step) is what makes two Services never get one
address, across apiservers. A node port is an item of the `servicenodeports` range in the store (Store.claim: one
atomic HSETNX per port, the owner the Service's uid), the per-port form of upstream's RangeAllocation bitmap: it
lives in Redis, so it survives apiserver restarts, and claims of different ports never contend on one object.

Dynamic allocation starts at a random offset and scans on from there, upper band first (the lower band, 1/16 of the
range, at least 16 and at most 256 addresses or 128 ports, is kept for the values users ask for, as upstream's
static band), so that a just-freed value is rarely handed out again at once.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from apiserver import errors
from apiserver.validation import FieldError, GoValue, invalid
from kubemu.api import kinds, labels
from kubemu.pb import core_pb2, networking_pb2

if TYPE_CHECKING:
    from apiserver.apis.strategy import Finish
    from apiserver.registry import Registry

log = structlog.get_logger()

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
NODE_PORTS = "servicenodeports"
"""The store's range of node ports (upstream stores its bitmap at /ranges/servicenodeports)."""
MANAGED_BY = "ipallocator.k8s.io"
DEFAULT_SERVICE_CIDR_NAME = "kubernetes"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_port_range(text: str) -> tuple[int, int]:
    """`30000-32767` (or a single port) as kube-apiserver's --service-node-port-range reads it."""
    lo, _, hi = text.partition("-")
    try:
        first, last = int(lo), int(hi or lo)
    except ValueError:
        raise ValueError(f'invalid port range "{text}"') from None
    if not 0 < first <= last <= 65535:
        raise ValueError(f'invalid port range "{text}"')
    return first, last


def _static_band(size: int, cap: int) -> int:
    return min(max(16, size // 16), cap)


def _scan(lo: int, hi: int, static: int, rng: random.Random) -> Iterator[int]:
    """Offsets lo..hi (inclusive): the upper band from a random start, wrapping, then the static band likewise."""
    for a, b in ((lo + static, hi), (lo, min(lo + static - 1, hi))):
        if a > b:
            continue
        n = b - a + 1
        start = rng.randrange(n)
        for i in range(n):
            yield a + (start + i) % n


def _go_strings(values: list[str]) -> GoValue:
    return GoValue("[" + ",".join(labels.go_quote(v) for v in values) + "]")


def _invalid(svc: core_pb2.Service, errs: list[FieldError]) -> errors.Invalid:
    from apiserver.registry import _invalid as invalid_error  # the registry imports this module

    return invalid_error(kinds.by_kind("Service"), svc.metadata.name or svc.metadata.generate_name, errs)


def _owner(svc: core_pb2.Service) -> str:
    return f"{svc.metadata.namespace}/{svc.metadata.name}/{svc.metadata.uid}"


@dataclass
class _Taken:
    """What one write allocated, to give back if the write is not stored."""

    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)


class ServiceAllocators:
    def __init__(self, cidr: str = DEFAULT_SERVICE_CIDR, node_ports: tuple[int, int] = DEFAULT_NODE_PORT_RANGE,
                 rng: random.Random | None = None) -> None:
        self.network: Network = ipaddress.ip_network(cidr, strict=True)
        self.node_ports = node_ports
        self.rng = rng or random.SystemRandom()
        self.log = log.bind(component="apiserver", allocator="service")

    # -- addresses -------------------------------------------------------------------------------------------------

    @property
    def family(self) -> str:
        return "IPv6" if self.network.version == 6 else "IPv4"

    def _usable(self) -> tuple[int, int]:
        """The first and last address handed out: not the network address, nor IPv4's broadcast."""
        first = int(self.network.network_address) + 1
        last = int(self.network.broadcast_address) - (1 if self.network.version == 4 else 0)
        return first, last

    def first_address(self) -> str:
        """The `kubernetes` Service's address."""
        return str(ipaddress.ip_address(self._usable()[0]))

    def contains(self, ip: str) -> bool:
        first, last = self._usable()
        try:
            value = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return value.version == self.network.version and first <= int(value) <= last

    def _ip_object(self, ip: str, svc: core_pb2.Service) -> networking_pb2.IPAddress:
        obj = networking_pb2.IPAddress()
        obj.metadata.name = ip
        obj.metadata.labels["ipaddress.kubernetes.io/ip-family"] = self.family
        obj.metadata.labels["ipaddress.kubernetes.io/managed-by"] = MANAGED_BY
        ref = obj.spec.parent_ref
        ref.group = ""
        ref.resource = "services"
        ref.namespace = svc.metadata.namespace
        ref.name = svc.metadata.name
        return obj

    async def _take_ip(self, registry: Registry, ip: str, svc: core_pb2.Service) -> bool:
        try:
            await registry.create(self._ip_object(ip, svc))
        except errors.AlreadyExists:
            return False
        return True

    async def allocate_ip(self, registry: Registry, svc: core_pb2.Service, requested: str) -> str:
        """The requested address if it is free and in range, else a free one; raises Invalid as upstream."""
        if requested:
            if not self.contains(requested):
                raise _invalid(svc, [invalid("spec.clusterIPs", _go_strings([requested]),
                                             f"failed to allocate IP {requested}: the provided network does not "
                                             "match the current range")])
            if not await self._take_ip(registry, requested, svc):
                raise _invalid(svc, [invalid("spec.clusterIPs", _go_strings([requested]),
                                             f"failed to allocate IP {requested}: provided IP is already allocated")])
            return requested
        first, last = self._usable()
        for value in _scan(first, last, _static_band(last - first + 1, 256), self.rng):
            ip = str(ipaddress.ip_address(value))
            if await self._take_ip(registry, ip, svc):
                return ip
        raise errors.InternalError("failed to allocate a serviceIP: range is full")

    async def release_ip(self, registry: Registry, ip: str, svc: core_pb2.Service) -> None:
        """Delete the IPAddress of `ip` if `svc` holds it."""
        try:
            obj = await registry.get("IPAddress", "", ip)
            ref = obj.spec.parent_ref
            if (ref.resource, ref.namespace, ref.name) != ("services", svc.metadata.namespace, svc.metadata.name):
                return
            await registry.delete("IPAddress", "", ip, uid=obj.metadata.uid)
        except (errors.NotFound, errors.Conflict):
            return

    # -- node ports ------------------------------------------------------------------------------------------------

    def _port_range_text(self) -> str:
        return f"{self.node_ports[0]}-{self.node_ports[1]}"

    async def allocate_node_port(self, registry: Registry, svc: core_pb2.Service, requested: int, path: str) -> int:
        owner = _owner(svc)
        lo, hi = self.node_ports
        if requested:
            if not lo <= requested <= hi:
                raise _invalid(svc, [invalid(path, requested, "provided port is not in the valid range. The range of "
                                                              f"valid ports is {self._port_range_text()}")])
            if not await registry.store.claim(NODE_PORTS, str(requested), owner):
                raise _invalid(svc, [invalid(path, requested, "provided port is already allocated")])
            return requested
        held = await registry.store.claimed(NODE_PORTS)
        for port in _scan(lo, hi, _static_band(hi - lo + 1, 128), self.rng):
            if str(port) not in held and await registry.store.claim(NODE_PORTS, str(port), owner):
                return port
        raise errors.InternalError("failed to allocate a nodePort: range is full")

    async def release_node_port(self, registry: Registry, port: int, svc: core_pb2.Service) -> None:
        await registry.store.release(NODE_PORTS, str(port), _owner(svc))

    # -- the verbs -------------------------------------------------------------------------------------------------

    async def _release(self, registry: Registry, taken: _Taken, svc: core_pb2.Service) -> None:
        for ip in taken.ips:
            await self.release_ip(registry, ip, svc)
        for port in taken.ports:
            await self.release_node_port(registry, port, svc)

    def _finish(self, registry: Registry, taken: _Taken, svc: core_pb2.Service,
                released: _Taken | None = None) -> Finish:
        """Keep what was taken if the write was stored (and give back what it freed), else give it back."""
        owner = type(svc)()
        owner.CopyFrom(svc)

        async def finish(stored: bool) -> None:
            if not stored:
                await self._release(registry, taken, owner)
            elif released is not None:
                await self._release(registry, released, owner)
            if stored and (taken.ips or taken.ports):
                self.log.info("service.allocated", service=f"{owner.metadata.namespace}/{owner.metadata.name}",
                              cluster_ips=taken.ips, node_ports=taken.ports)
        return finish

    async def _allocate(self, registry: Registry, svc: core_pb2.Service, taken: _Taken, want_ip: bool,
                        skip_ports: set[int]) -> None:
        from apiserver.apis.core.service import needs_node_ports

        spec = svc.spec
        try:
            if want_ip:
                requested = spec.cluster_ips[0] if spec.cluster_ips else spec.cluster_ip
                try:
                    ipaddress.ip_address(requested)
                    parseable = True
                except ValueError:
                    parseable = not requested
                if parseable:  # a malformed one is validation's to report
                    ip = await self.allocate_ip(registry, svc, requested)
                    taken.ips.append(ip)
                    spec.cluster_ip = ip
                    del spec.cluster_ips[:]
                    spec.cluster_ips.append(ip)
                    if not spec.HasField("ip_family_policy"):
                        spec.ip_family_policy = "SingleStack"
                    if not spec.ip_families:
                        spec.ip_families.append(self.family)
            if needs_node_ports(svc):
                for i, port in enumerate(spec.ports):
                    if port.node_port and port.node_port in skip_ports:
                        continue
                    got = await self.allocate_node_port(registry, svc, port.node_port, f"spec.ports[{i}].nodePort")
                    taken.ports.append(got)
                    port.node_port = got
        except BaseException:
            await self._release(registry, taken, svc)
            raise

    async def allocate_create(self, registry: Registry, svc: core_pb2.Service, dry_run: bool) -> Finish | None:
        from apiserver.apis.core.service import is_headless, needs_cluster_ip

        if dry_run:
            return None
        taken = _Taken()
        await self._allocate(registry, svc, taken, needs_cluster_ip(svc) and not is_headless(svc), set())
        return self._finish(registry, taken, svc)

    async def allocate_update(self, registry: Registry, new: core_pb2.Service, old: core_pb2.Service,
                              dry_run: bool) -> Finish | None:
        """patchAllocatedValues, then allocate what the update newly needs and free what it no longer does."""
        from apiserver.apis.core.service import default_service, is_headless, needs_cluster_ip, needs_node_ports

        spec, was = new.spec, old.spec
        released = _Taken()
        if needs_cluster_ip(new) and needs_cluster_ip(old):
            if not spec.cluster_ip and not spec.cluster_ips:
                spec.cluster_ip = was.cluster_ip
                spec.cluster_ips.extend(was.cluster_ips)
            if not spec.ip_families:
                spec.ip_families.extend(was.ip_families)
            if not spec.HasField("ip_family_policy") and was.HasField("ip_family_policy"):
                spec.ip_family_policy = was.ip_family_policy
        elif not needs_cluster_ip(new) and needs_cluster_ip(old):
            if not spec.cluster_ip or spec.cluster_ip == was.cluster_ip:  # dropTypeDependentFields
                spec.ClearField("cluster_ip")
                spec.ClearField("cluster_ips")
                spec.ClearField("ip_families")
                spec.ClearField("ip_family_policy")
                spec.ClearField("internal_traffic_policy")
            if was.cluster_ip and not is_headless(old):
                released.ips.append(was.cluster_ip)
        old_ports = {(p.port, p.protocol): p.node_port for p in was.ports if p.node_port}
        if needs_node_ports(new):
            for p in spec.ports:
                if not p.node_port:
                    p.node_port = old_ports.get((p.port, p.protocol or "TCP"), 0)
        else:
            for p in spec.ports:
                if p.node_port and p.node_port in old_ports.values():
                    p.node_port = 0
        if spec.external_traffic_policy and spec.external_traffic_policy == was.external_traffic_policy and \
                spec.type not in ("NodePort", "LoadBalancer") and not (spec.type == "ClusterIP" and spec.external_ips):
            spec.ClearField("external_traffic_policy")  # dropTypeDependentFields
        if spec.type != "LoadBalancer" and spec.HasField("allocate_load_balancer_node_ports") and \
                was.HasField("allocate_load_balancer_node_ports") and \
                spec.allocate_load_balancer_node_ports == was.allocate_load_balancer_node_ports:
            spec.ClearField("allocate_load_balancer_node_ports")
        default_service(new)
        kept = {p.node_port for p in spec.ports if p.node_port} if needs_node_ports(new) else set()
        released.ports.extend(sorted(set(old_ports.values()) - kept))
        if dry_run:
            return None
        taken = _Taken()
        want_ip = needs_cluster_ip(new) and not needs_cluster_ip(old) and not is_headless(new)
        await self._allocate(registry, new, taken, want_ip, set(old_ports.values()))
        return self._finish(registry, taken, new, released)

    async def release_all(self, registry: Registry, svc: core_pb2.Service) -> None:
        """afterDelete: the Service's address and node ports go back."""
        from apiserver.apis.core.service import is_headless, needs_node_ports

        taken = _Taken()
        if svc.spec.cluster_ip and not is_headless(svc):
            taken.ips.extend(ip for ip in svc.spec.cluster_ips or [svc.spec.cluster_ip] if ip != "None")
        if needs_node_ports(svc):
            taken.ports.extend(p.node_port for p in svc.spec.ports if p.node_port)
        await self._release(registry, taken, svc)
        if taken.ips or taken.ports:
            self.log.info("service.released", service=f"{svc.metadata.namespace}/{svc.metadata.name}",
                          cluster_ips=taken.ips, node_ports=taken.ports)

    # -- the default ServiceCIDR ------------------------------------------------------------------------------------

    def default_service_cidr(self, now: float) -> Any:
        from kubemu.api.serialization import set_time

        obj = networking_pb2.ServiceCIDR()
        obj.metadata.name = DEFAULT_SERVICE_CIDR_NAME
        obj.spec.cidrs.append(str(self.network))
        cond = obj.status.conditions.add(type="Ready", status="True", message="Kubernetes Service CIDR is ready")
        set_time(cond.last_transition_time, float(int(now)))
        return obj
