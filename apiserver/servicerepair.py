"""The repair loops of Service allocations, as kube-apiserver's (pkg/registry/core/service/ipallocator/controller
RepairIPAddress, portallocator/controller Repair): an apiserver that died between taking an address or a node port and
storing its Service leaves it taken; a Service whose IPAddress is gone would let its address be handed out twice.

Every `interval` seconds: a Service's address without its IPAddress gets one back; an IPAddress of the allocator whose
Service is gone (or holds another address), and a node port whose Service is gone (or no longer uses it), is freed
once it has been seen so twice in a row, so that a create in flight (address taken, Service not yet stored) is never
robbed of what it took."""

from __future__ import annotations

import asyncio

import structlog

from apiserver import errors
from apiserver.apis.core.serviceallocator import MANAGED_BY, NODE_PORTS
from apiserver.registry import Registry
from apiserver.watch import make_filter

log = structlog.get_logger()

REPAIR_INTERVAL = 180.0
"""Seconds between passes (upstream repairs every 3 minutes), scaled by the timing profile."""


class ServiceRepair:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.suspects: set[str] = set()
        self.log = log.bind(component="apiserver", controller="service-repair")

    async def repair_once(self) -> int:
        """One pass; returns how many allocations it fixed."""
        registry = self.registry
        services, _ = await registry.list("Service", "", make_filter("Service", "", "", ""))
        addresses, _ = await registry.list("IPAddress", "", make_filter("IPAddress", "", "", ""))
        held = {a.metadata.name: a for a in addresses}
        owners: dict[str, tuple[str, str]] = {}
        ports: dict[str, str] = {}
        fixed = 0
        for svc in services:
            key = (svc.metadata.namespace, svc.metadata.name)
            for ip in svc.spec.cluster_ips or [svc.spec.cluster_ip]:
                if ip and ip != "None":
                    owners[ip] = key
                    if ip not in held and registry.services.contains(ip):
                        try:
                            await registry.services.allocate_ip(registry, svc, ip)
                            fixed += 1
                            self.log.warning("ipaddress.recreated", ip=ip, service="/".join(key))
                        except errors.StatusError:
                            pass
            for p in svc.spec.ports:
                if p.node_port:
                    ports[str(p.node_port)] = f"{svc.metadata.namespace}/{svc.metadata.name}/{svc.metadata.uid}"
        now_suspect: set[str] = set()
        for ip, obj in held.items():
            if obj.metadata.labels.get("ipaddress.kubernetes.io/managed-by") != MANAGED_BY:
                continue
            ref = obj.spec.parent_ref
            if owners.get(ip) == (ref.namespace, ref.name):
                continue
            suspect = f"ip/{ip}/{obj.metadata.uid}"
            now_suspect.add(suspect)
            if suspect in self.suspects:
                try:
                    await registry.delete("IPAddress", "", ip, uid=obj.metadata.uid)
                    fixed += 1
                    self.log.warning("ipaddress.leak_freed", ip=ip, parent=f"{ref.namespace}/{ref.name}")
                except (errors.NotFound, errors.Conflict):
                    pass
        for port, owner in (await registry.store.claimed(NODE_PORTS)).items():
            if ports.get(port) == owner:
                continue
            suspect = f"port/{port}/{owner}"
            now_suspect.add(suspect)
            if suspect in self.suspects and await registry.store.release(NODE_PORTS, port, owner):
                fixed += 1
                self.log.warning("nodeport.leak_freed", node_port=int(port), owner=owner)
        self.suspects = now_suspect
        return fixed

    async def run(self, interval: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
            if stop.is_set():
                return
            try:
                await self.repair_once()
            except Exception as e:  # the store may be down for a while: the next pass tries again
                self.log.warning("repair.failed", error=str(e))
