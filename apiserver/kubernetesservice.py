"""The `kubernetes` Service in `default` and its endpoints, which point at the apiserver, as kube-apiserver's
kubernetesservice controller and endpoint reconciler keep them (pkg/controlplane/controller/kubernetesservice,
pkg/controlplane/reconcilers); and the default ServiceCIDR `kubernetes`
(pkg/controlplane/controller/defaultservicecidr).

Every apiserver writes its own address on start; afterwards it only puts back what was deleted, so several
apiservers do not take the endpoints from one another on every tick (upstream's lease reconciler would list them
all; kubemu keeps the latest started).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from apiserver import errors
from apiserver.registry import Registry
from kubemu.pb import core_pb2, discovery_pb2

log = structlog.get_logger()

NAME = "kubernetes"
NAMESPACE = "default"
PORT_NAME = "https"
SERVICE_PORT = 443
ENDPOINT_INTERVAL = 10.0
"""Seconds between reconciles (kube-apiserver's --endpoint-reconciler interval, EndpointInterval)."""


def kubernetes_service(cluster_ip: str, target_port: int) -> core_pb2.Service:
    svc = core_pb2.Service()
    svc.metadata.name = NAME
    svc.metadata.namespace = NAMESPACE
    svc.metadata.labels["component"] = "apiserver"
    svc.metadata.labels["provider"] = "kubernetes"
    svc.spec.type = "ClusterIP"
    svc.spec.cluster_ip = cluster_ip
    svc.spec.session_affinity = "None"
    port = svc.spec.ports.add(name=PORT_NAME, port=SERVICE_PORT, protocol="TCP")
    port.target_port.int_val = target_port
    return svc


def kubernetes_endpoints(ip: str, port: int) -> core_pb2.Endpoints:
    ep = core_pb2.Endpoints()
    ep.metadata.name = NAME
    ep.metadata.namespace = NAMESPACE
    ep.metadata.labels["endpointslice.kubernetes.io/skip-mirror"] = "true"
    subset = ep.subsets.add()
    subset.addresses.add(ip=ip)
    subset.ports.add(name=PORT_NAME, port=port, protocol="TCP")
    return ep


def kubernetes_endpoint_slice(ip: str, port: int) -> discovery_pb2.EndpointSlice:
    es = discovery_pb2.EndpointSlice()
    es.metadata.name = NAME
    es.metadata.namespace = NAMESPACE
    es.metadata.labels["kubernetes.io/service-name"] = NAME
    es.address_type = "IPv6" if ":" in ip else "IPv4"
    endpoint = es.endpoints.add()
    endpoint.addresses.append(ip)
    endpoint.conditions.ready = True
    es.ports.add(name=PORT_NAME, port=port, protocol="TCP")
    return es


async def _put(registry: Registry, obj: core_pb2.Endpoints | discovery_pb2.EndpointSlice, *, overwrite: bool) -> None:
    """Create `obj`, or (with `overwrite`) make the stored one say the same."""
    kind = type(obj).DESCRIPTOR.name
    try:
        await registry.create(obj)
        log.info("kubernetes_service.endpoints_created", component="apiserver", kind=kind)
        return
    except errors.AlreadyExists:
        if not overwrite:
            return
    current = await registry.get(kind, NAMESPACE, NAME)
    desired: Any = type(obj)()
    desired.CopyFrom(obj)
    desired.metadata.CopyFrom(current.metadata)
    desired.metadata.labels.update(obj.metadata.labels)
    await registry.update(desired, status=False)


async def reconcile(registry: Registry, ip: str, port: int, *, overwrite: bool) -> None:
    """The default ServiceCIDR, the Service and its endpoints, created where missing."""
    try:
        await registry.create(registry.services.default_service_cidr(registry.clock()))
    except errors.AlreadyExists:
        pass
    try:
        await registry.get("Service", NAMESPACE, NAME)
    except errors.NotFound:
        try:
            await registry.create(kubernetes_service(registry.services.first_address(), port))
            log.info("kubernetes_service.created", component="apiserver",
                     cluster_ip=registry.services.first_address())
        except errors.AlreadyExists:
            pass  # another apiserver made it meanwhile
        except errors.Invalid as e:
            # Another apiserver's create holds the address until its own create is stored; or the range changed
            # under a live store and a user's Service holds it.
            log.warning("kubernetes_service.refused", component="apiserver", error=str(e))
    await _put(registry, kubernetes_endpoints(ip, port), overwrite=overwrite)
    await _put(registry, kubernetes_endpoint_slice(ip, port), overwrite=overwrite)


async def run(registry: Registry, ip: str, port: int, stop: asyncio.Event, interval: float = ENDPOINT_INTERVAL) -> None:
    """Reconcile now (this apiserver's address wins), then every `interval` seconds put back what is missing."""
    first = True
    while not stop.is_set():
        try:
            await reconcile(registry, ip, port, overwrite=first)
            first = False
        except Exception as e:  # the store may be down for a while: the next tick tries again
            log.warning("kubernetes_service.reconcile_failed", component="apiserver", error=str(e))
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass
