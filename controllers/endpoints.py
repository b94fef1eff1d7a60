"""The legacy Endpoints controller (pkg/controller/endpoint upstream): an Endpoints object named after every Service
with a selector, its subsets the matching pods with an IP, ready ones in `addresses` and the others in
`notReadyAddresses`, grouped by the ports they resolve to (RepackSubsets); deleted with its Service."""

from __future__ import annotations

import time
from typing import Any

from controllers.endpointslice import (
    TRIGGER_TIME,
    PortKey,
    ServiceEndpointsController,
    fill_pod_fields,
    pod_ip,
    pod_ports,
    pod_ready,
    pods_of,
    service_labels,
    trigger_time,
)
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2

MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
MANAGED_BY = "endpoint-controller"


def _address(pod: core_pb2.Pod, svc: core_pb2.Service, out: core_pb2.EndpointAddress) -> None:
    out.ip = pod_ip(pod)
    fill_pod_fields(svc, pod, out)


def desired_subsets(svc: core_pb2.Service, pods: list[core_pb2.Pod]) -> list[core_pb2.EndpointSubset]:
    groups: dict[PortKey, tuple[list[core_pb2.Pod], list[core_pb2.Pod]]] = {}
    for pod in pods:
        ports = pod_ports(svc, pod)
        if svc.spec.ports and not ports:
            continue  # no port of the service resolves on this pod
        if pod.metadata.HasField("deletion_timestamp") and not svc.spec.publish_not_ready_addresses:
            continue  # a terminating pod leaves the Endpoints at once
        ready, not_ready = groups.setdefault(ports, ([], []))
        (ready if pod_ready(pod) or svc.spec.publish_not_ready_addresses else not_ready).append(pod)
    out = []
    for ports, (ready, not_ready) in sorted(groups.items()):
        subset = core_pb2.EndpointSubset()
        for pod in sorted(ready, key=pod_ip):
            _address(pod, svc, subset.addresses.add())
        for pod in sorted(not_ready, key=pod_ip):
            _address(pod, svc, subset.not_ready_addresses.add())
        for name, number, protocol in ports:
            port = subset.ports.add(port=number, protocol=protocol)
            if name:
                port.name = name
        out.append(subset)
    return out


class EndpointsController(ServiceEndpointsController):
    name = "endpoints"

    def __init__(self, client: Client, services: Informer[core_pb2.Service], pods: Informer[core_pb2.Pod],
                 endpoints: Informer[core_pb2.Endpoints]) -> None:
        super().__init__(client, services, pods)
        self.endpoints = endpoints
        self.api: ResourceClient[core_pb2.Endpoints] = client.resource("Endpoints")
        endpoints.add_handler(None, None, self._endpoints_deleted)

    def _endpoints_deleted(self, ep: Any) -> None:
        self.queue.add(f"{ep.metadata.namespace}/{ep.metadata.name}")

    async def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        svc = self.services.store.get(key)
        current = self.endpoints.store.get(key)
        if svc is None:
            if current is not None and current.metadata.labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
                try:
                    await self.api.delete(name, namespace, uid=current.metadata.uid)
                    self.log.info("endpoints.deleted", service=key)
                except errors.NotFound:
                    pass
            return
        if not svc.spec.selector:
            return  # endpoints of a selectorless Service are the user's
        want = core_pb2.Endpoints()
        want.metadata.name = name
        want.metadata.namespace = namespace
        want.metadata.labels.update({**service_labels(svc), MANAGED_BY_LABEL: MANAGED_BY})
        want.subsets.extend(desired_subsets(svc, pods_of(self.pods, svc)))
        want.metadata.annotations[TRIGGER_TIME] = trigger_time(time.time())
        if current is None:
            try:
                await self.api.create(want)
            except errors.AlreadyExists:
                current = await self.api.get(name, namespace)
            else:
                self.log.info("endpoints.synced", service=key, ready=_count(want, True), not_ready=_count(want, False))
                return
        if list(current.subsets) == list(want.subsets) and \
                dict(current.metadata.labels) == dict(want.metadata.labels):
            return
        metadata = core_pb2.Endpoints()
        metadata.metadata.CopyFrom(current.metadata)
        metadata.metadata.ClearField("labels")
        metadata.metadata.labels.update(want.metadata.labels)
        metadata.metadata.annotations[TRIGGER_TIME] = want.metadata.annotations[TRIGGER_TIME]
        want.metadata.CopyFrom(metadata.metadata)
        await self.api.update(want)
        self.log.info("endpoints.synced", service=key, ready=_count(want, True), not_ready=_count(want, False))


def _count(ep: core_pb2.Endpoints, ready: bool) -> int:
    return sum(len(s.addresses if ready else s.not_ready_addresses) for s in ep.subsets)
