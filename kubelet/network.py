"""The simulated cluster network, as kube-proxy and the cluster DNS would make it, from what the kubelet learns
through the API (kubelet/services.py): a Service's DNS names resolve to its cluster IP (a headless one's to a ready
pod), a connection to a cluster IP goes to one of its ready endpoints in turn and is refused when there is none
(kube-proxy's REJECT), a connection to a pod IP goes to that pod. The pod's simulated server answers: in this
process when the pod runs here, else through the apiserver's pods/portforward to the kubelet that runs it."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import structlog

from kubelet import portforward
from kubelet.pod_worker import PodWorker
from kubelet.runtime.net import CLUSTER_DOMAIN, ConnectError, Network
from kubelet.services import ServiceView
from kubemu.client import errors
from kubemu.client.client import Client

log = structlog.get_logger()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class ClusterNetwork:
    """One per kubelet process; `for_pod` gives each pod its view (its namespace completes short names)."""

    def __init__(self, client: Client, view: ServiceView, find: Callable[[str, str], PodWorker | None],
                 find_ip: Callable[[str], PodWorker | None]) -> None:
        self.client = client
        self.view = view
        self.find = find
        self.find_ip = find_ip
        self.log = log.bind(component="kubelet")

    def for_pod(self, namespace: str, name: str) -> Network:
        return PodNetwork(self, namespace, name)

    async def deliver(self, namespace: str, name: str, port: int, data: bytes) -> bytes:
        """The answer of pod namespace/name's server on `port`."""
        worker = self.find(namespace, name)
        if worker is not None:
            rec = next((r for r in worker.records.values() if r.state == "running" and port in r.listening), None)
            if rec is None:
                raise ConnectError("refused")
            reply = portforward.answer(rec.spec.image, port, rec.fs, data, worker.ctx.clock(),
                                       hostname=worker.pod.spec.hostname or worker.pod.metadata.name,
                                       args=list(rec.spec.args))
            if not reply:
                raise ConnectError("timeout")  # not HTTP: the server waits for more
            return reply
        try:
            reply, error = await self.client.pods.port_forward(name, port, data, namespace)
        except errors.ApiError as e:
            self.log.info("network.unreachable", pod=f"{namespace}/{name}", port=port, error=str(e))
            raise ConnectError("timeout") from e
        if error:
            raise ConnectError("refused")
        if not reply:
            raise ConnectError("timeout")
        return reply


class PodNetwork:
    def __init__(self, network: ClusterNetwork, namespace: str, pod: str) -> None:
        self.network = network
        self.namespace = namespace
        self.pod = pod

    def _parts(self, host: str) -> list[str]:
        name = host.lower().rstrip(".")
        if name.endswith("." + CLUSTER_DOMAIN):
            name = name[: -len(CLUSTER_DOMAIN) - 1]
        return name.split(".")

    def fqdn(self, host: str) -> str:
        if _is_ip(host) or host == "localhost":
            return host
        parts = self._parts(host)
        if len(parts) == 1:
            return f"{parts[0]}.{self.namespace}.svc.{CLUSTER_DOMAIN}"
        if len(parts) == 2:
            return f"{parts[0]}.{parts[1]}.svc.{CLUSTER_DOMAIN}"
        return ".".join(parts) + f".{CLUSTER_DOMAIN}"

    def resolve(self, host: str) -> str | None:
        if _is_ip(host):
            return host
        if host == "localhost":
            return "127.0.0.1"
        parts = self._parts(host)
        view = self.network.view
        if len(parts) == 3 and parts[2] == "pod":  # 10-244-1-5.ns.pod
            ip = parts[0].replace("-", ".")
            return ip if _is_ip(ip) else None
        if len(parts) == 1:
            svc = view.service(self.namespace, parts[0])
        elif len(parts) == 2 or (len(parts) == 3 and parts[2] == "svc"):
            svc = view.service(parts[1], parts[0])
        else:
            return None
        if svc is None or svc.spec.type == "ExternalName":
            return None
        if svc.spec.cluster_ip == "None":  # headless: the A records of its ready pods
            backends = view.endpoints(svc, None)
            return backends[0].ip if backends else None
        return svc.spec.cluster_ip

    async def request(self, ip: str, port: int, data: bytes) -> bytes:
        net = self.network
        if ip.startswith("127."):
            return await net.deliver(self.namespace, self.pod, port, data)
        svc = net.view.service_at(ip)
        if svc is not None:
            sp = next((p for p in svc.spec.ports if p.port == port and (p.protocol or "TCP") == "TCP"), None)
            if sp is None:
                raise ConnectError("timeout")  # nothing is programmed for that port of the cluster IP
            backend = net.view.pick(svc, sp)
            if backend is None:
                raise ConnectError("refused")  # kube-proxy rejects a Service with no ready endpoints
            if not backend.pod:
                raise ConnectError("timeout")
            return await net.deliver(backend.namespace, backend.pod, backend.port, data)
        local = net.find_ip(ip)
        if local is not None:
            return await net.deliver(local.pod.metadata.namespace, local.pod.metadata.name, port, data)
        found = net.view.pod_at(ip)
        if found is None:
            raise ConnectError("timeout")
        return await net.deliver(found[0], found[1], port, data)
