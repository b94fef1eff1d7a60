"""The EndpointSlice controller (pkg/controller/endpointslice upstream): for every Service with a selector, slices
listing the matching pods that have an IP, with their readiness (ready, serving, terminating), the service's ports
resolved per pod (a named targetPort is the pod's containerPort of that name), labelled
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, owned by the Service. Pods whose ports
resolve alike share slices of at most 100 endpoints; a Service with no endpoints keeps one empty placeholder slice.

The helpers that say which pods back a Service and on which ports are shared with the Endpoints controller."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from typing import Any

import structlog

from controllers.workqueue import RateLimitingQueue, run_workers
from kubemu.api import labels
from kubemu.client import errors
from kubemu.client.client import Client, ResourceClient
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2, discovery_pb2

log = structlog.get_logger()

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
MAX_ENDPOINTS_PER_SLICE = 100
"""--max-endpoints-per-slice."""

PortKey = tuple[tuple[str, int, str], ...]
"""A pod's resolved ports: (name, port, protocol) per service port it has."""


# -- shared with the Endpoints controller -----------------------------------------------------------------------------


def service_key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


def selects(svc: core_pb2.Service, pod_labels: Any) -> bool:
    return bool(svc.spec.selector) and labels.from_map(svc.spec.selector).matches(pod_labels)


def services_of(services: Informer[core_pb2.Service], pod: core_pb2.Pod) -> list[core_pb2.Service]:
    """The Services of the pod's namespace whose selector matches it (GetPodServiceMemberships)."""
    return [s for s in services.store.by_index("namespace", pod.metadata.namespace) if selects(s, pod.metadata.labels)]


def pod_ip(pod: core_pb2.Pod) -> str:
    return pod.status.pod_ips[0].ip if len(pod.status.pod_ips) else pod.status.pod_ip


def pod_ready(pod: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def backs(pod: core_pb2.Pod) -> bool:
    """ShouldPodBeInEndpoints: a pod with an IP that has not finished."""
    return bool(pod_ip(pod)) and pod.status.phase not in ("Succeeded", "Failed")


def resolve_port(pod: core_pb2.Pod, port: core_pb2.ServicePort) -> int | None:
    """FindPort: a number as is; a name is the pod's containerPort of that name and protocol (None: it has none)."""
    target = port.target_port
    if target.WhichOneof("value") == "str_val":
        for c in pod.spec.containers:
            for cp in c.ports:
                if cp.name == target.str_val and (cp.protocol or "TCP") == (port.protocol or "TCP"):
                    return cp.container_port
        return None
    return target.int_val or port.port


def pod_ports(svc: core_pb2.Service, pod: core_pb2.Pod) -> PortKey:
    out = []
    for p in svc.spec.ports:
        number = resolve_port(pod, p)
        if number is not None:
            out.append((p.name, number, p.protocol or "TCP"))
    return tuple(out)


def pods_of(pods: Informer[core_pb2.Pod], svc: core_pb2.Service) -> list[core_pb2.Pod]:
    selector = labels.from_map(svc.spec.selector)
    return sorted((p for p in pods.store.by_index("namespace", svc.metadata.namespace)
                   if selector.matches(p.metadata.labels) and backs(p)), key=lambda p: p.metadata.name)


def owner_reference(svc: core_pb2.Service, target: Any) -> None:
    ref = target.add(api_version="v1", kind="Service", name=svc.metadata.name, uid=svc.metadata.uid)
    ref.controller = True
    ref.block_owner_deletion = True


TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"


def trigger_time(now: float) -> str:
    """The annotation's value for a change written now (RFC 3339, seconds)."""
    return datetime.datetime.fromtimestamp(int(now), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def service_labels(svc: core_pb2.Service) -> dict[str, str]:
    """The Service's own labels, and the headless label where it has no cluster IP."""
    out = dict(svc.metadata.labels)
    if svc.spec.cluster_ip == "None":
        out[HEADLESS_LABEL] = ""
    return out


class ServiceEndpointsController:
    """What both controllers share: a queue of Service keys fed by Services, their pods and what they write."""

    name = ""

    def __init__(self, client: Client, services: Informer[core_pb2.Service], pods: Informer[core_pb2.Pod]) -> None:
        self.client = client
        self.services = services
        self.pods = pods
        self.queue = RateLimitingQueue(name=self.name)
        self.log = log.bind(component="controllers", controller=self.name)
        services.add_handler(self._enqueue, lambda old, new: self._enqueue(new), self._enqueue)
        pods.add_handler(self._pod_changed, lambda old, new: self._pod_changed(old, new), self._pod_changed)

    def _enqueue(self, obj: Any) -> None:
        self.queue.add(service_key(obj))

    def _pod_changed(self, *versions: core_pb2.Pod) -> None:
        keys: set[str] = set()
        for pod in versions:
            keys.update(service_key(s) for s in services_of(self.services, pod))
        for key in keys:
            self.queue.add(key)

    async def run(self, workers: int = 2) -> None:
        await run_workers(self.queue, self.sync, workers,
                          on_error=lambda k, e: self.log.warning("sync.failed", service=k, error=str(e)))

    async def sync(self, key: str) -> None:
        raise NotImplementedError


# -- the EndpointSlice controller ---------------------------------------------------------------------------------


def _endpoint(svc: core_pb2.Service, pod: core_pb2.Pod, out: discovery_pb2.Endpoint) -> None:
    terminating = pod.metadata.HasField("deletion_timestamp")
    serving = pod_ready(pod) or svc.spec.publish_not_ready_addresses
    out.addresses.append(pod_ip(pod))
    out.conditions.ready = serving and not terminating
    out.conditions.serving = serving
    out.conditions.terminating = terminating
    fill_pod_fields(svc, pod, out)


def fill_pod_fields(svc: core_pb2.Service, pod: core_pb2.Pod, out: Any) -> None:
    """What an endpoint says of its pod, in a slice's Endpoint and in an Endpoints' EndpointAddress alike: its node,
    its hostname (when the pod's subdomain is the Service) and a reference to it."""
    if pod.spec.node_name:
        out.node_name = pod.spec.node_name
    if pod.spec.hostname and pod.spec.subdomain == svc.metadata.name:
        out.hostname = pod.spec.hostname
    ref = out.target_ref
    ref.kind = "Pod"
    ref.namespace = pod.metadata.namespace
    ref.name = pod.metadata.name
    ref.uid = pod.metadata.uid


def desired_slices(svc: core_pb2.Service, pods: Iterable[core_pb2.Pod]) -> list[discovery_pb2.EndpointSlice]:
    """The slices' content (no names): one group per distinct port set, chunked; one placeholder when empty."""
    groups: dict[PortKey, list[core_pb2.Pod]] = {}
    for pod in pods:
        groups.setdefault(pod_ports(svc, pod), []).append(pod)
    out: list[discovery_pb2.EndpointSlice] = []
    for ports, members in sorted(groups.items()):
        for start in range(0, len(members), MAX_ENDPOINTS_PER_SLICE):
            es = discovery_pb2.EndpointSlice(address_type="IPv4")
            for name, number, protocol in ports:
                es.ports.add(name=name, port=number, protocol=protocol)
            for pod in members[start:start + MAX_ENDPOINTS_PER_SLICE]:
                _endpoint(svc, pod, es.endpoints.add())
            out.append(es)
    if not out:
        out.append(discovery_pb2.EndpointSlice(address_type="IPv4"))
    return out


def _content(es: discovery_pb2.EndpointSlice) -> bytes:
    copy = discovery_pb2.EndpointSlice()
    copy.CopyFrom(es)
    copy.ClearField("metadata")
    return copy.SerializeToString(deterministic=True)


def _port_signature(es: discovery_pb2.EndpointSlice) -> tuple[tuple[str, int, str], ...]:
    return tuple((p.name, p.port, p.protocol) for p in es.ports)


class EndpointSliceController(ServiceEndpointsController):
    name = "endpointslice"

    def __init__(self, client: Client, services: Informer[core_pb2.Service], pods: Informer[core_pb2.Pod],
                 slices: Informer[discovery_pb2.EndpointSlice]) -> None:
        super().__init__(client, services, pods)
        self.slices = slices
        self.api: ResourceClient[discovery_pb2.EndpointSlice] = client.resource("EndpointSlice")
        slices.add_handler(self._slice_changed, lambda old, new: self._slice_changed(new), self._slice_changed)

    def _slice_changed(self, es: discovery_pb2.EndpointSlice) -> None:
        if es.metadata.labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
            service = es.metadata.labels.get(SERVICE_NAME_LABEL)
            if service:
                self.queue.add(f"{es.metadata.namespace}/{service}")

    def _owned(self, namespace: str, service: str) -> list[discovery_pb2.EndpointSlice]:
        return sorted((es for es in self.slices.store.by_index("namespace", namespace)
                       if es.metadata.labels.get(SERVICE_NAME_LABEL) == service
                       and es.metadata.labels.get(MANAGED_BY_LABEL) == MANAGED_BY),
                      key=lambda es: es.metadata.name)

    async def sync(self, key: str) -> None:
        namespace, name = key.split("/", 1)
        svc = self.services.store.get(key)
        if svc is None or not svc.spec.selector or svc.spec.type == "ExternalName" or \
                svc.metadata.HasField("deletion_timestamp"):
            return  # the garbage collector removes the slices of a deleted Service (they are owned)
        desired = desired_slices(svc, pods_of(self.pods, svc))
        existing = self._owned(namespace, name)
        wanted_labels = {**service_labels(svc), SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        # Reuse a slice with the same ports where one exists (fewest writes), then any left over, then create.
        unused = list(existing)
        plan: list[tuple[discovery_pb2.EndpointSlice | None, discovery_pb2.EndpointSlice]] = []
        for want in desired:
            match = next((es for es in unused if _port_signature(es) == _port_signature(want)), None)
            if match is not None:
                unused.remove(match)
            plan.append((match, want))
        for i, (match, want) in enumerate(plan):
            if match is None and unused:
                plan[i] = (unused.pop(0), want)
        changed = 0
        for current, want in plan:
            want.metadata.annotations[TRIGGER_TIME] = trigger_time(time.time())
            if current is None:
                want.metadata.generate_name = f"{name}-"
                want.metadata.namespace = namespace
                want.metadata.labels.update(wanted_labels)
                owner_reference(svc, want.metadata.owner_references)
                await self.api.create(want)
                changed += 1
                continue
            if _content(current) == _content(want) and dict(current.metadata.labels) == wanted_labels:
                continue
            stamp = want.metadata.annotations[TRIGGER_TIME]
            want.metadata.CopyFrom(current.metadata)
            want.metadata.ClearField("labels")
            want.metadata.labels.update(wanted_labels)
            want.metadata.annotations[TRIGGER_TIME] = stamp
            await self.api.update(want)
            changed += 1
        for stale in unused:
            try:
                await self.api.delete(stale.metadata.name, namespace, uid=stale.metadata.uid)
            except errors.NotFound:
                pass
            changed += 1
        if changed:
            ready = sum(1 for es in desired for e in es.endpoints if e.conditions.ready)
            total = sum(len(es.endpoints) for es in desired)
            self.log.info("endpointslices.synced", service=key, slices=len(desired), endpoints=total, ready=ready,
                          writes=changed)

