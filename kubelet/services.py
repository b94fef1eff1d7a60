"""What the kubelet knows of Services, through the apiserver (informers on Services and EndpointSlices, one per
process): the service environment variables of a pod (pkg/kubelet/envvars, kubelet_pods.go getServiceEnvVarMap),
and, for the simulated network, which name is which address and which ready endpoints stand behind a Service port."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2, discovery_pb2

log = structlog.get_logger()

MASTER_SERVICES = frozenset({"kubernetes"})
"""The Services of `default` every pod gets variables for, enableServiceLinks or not."""
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _by_cluster_ip(svc: core_pb2.Service) -> list[str]:
    return [ip for ip in svc.spec.cluster_ips or [svc.spec.cluster_ip] if ip and ip != "None"]


def _by_service(es: discovery_pb2.EndpointSlice) -> list[str]:
    name = es.metadata.labels.get(SERVICE_NAME_LABEL)
    return [f"{es.metadata.namespace}/{name}"] if name else []


def _by_address(es: discovery_pb2.EndpointSlice) -> list[str]:
    return [a for e in es.endpoints for a in e.addresses]


def ip_set(svc: core_pb2.Service) -> bool:
    """IsServiceIPSet: a cluster IP that is neither empty nor None (headless)."""
    return svc.spec.cluster_ip not in ("", "None")


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _join(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_env(services: Iterable[core_pb2.Service]) -> dict[str, str]:
    """envvars.FromServices: per Service, `<NAME>_SERVICE_HOST`, `_SERVICE_PORT`, `_SERVICE_PORT_<PORTNAME>`, and
    the Docker link variables `<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]`."""
    env: dict[str, str] = {}
    for svc in services:
        if not ip_set(svc) or not svc.spec.ports:
            continue
        prefix = _env_name(svc.metadata.name)
        ip = svc.spec.cluster_ip
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(svc.spec.ports[0].port)
        for p in svc.spec.ports:
            if p.name:
                env[f"{prefix}_SERVICE_PORT_{_env_name(p.name)}"] = str(p.port)
        for i, p in enumerate(svc.spec.ports):
            protocol = p.protocol or "TCP"
            url = f"{protocol.lower()}://{_join(ip, p.port)}"
            if i == 0:
                env[f"{prefix}_PORT"] = url  # Docker special-cases the first port
            port_prefix = f"{prefix}_PORT_{p.port}_{protocol.upper()}"
            env[port_prefix] = url
            env[f"{port_prefix}_PROTO"] = protocol.lower()
            env[f"{port_prefix}_PORT"] = str(p.port)
            env[f"{port_prefix}_ADDR"] = ip
    return env


@dataclass(frozen=True)
class Backend:
    """One ready endpoint of a Service port: the pod behind it (when the slice names one) and where it listens."""

    namespace: str
    pod: str
    ip: str
    port: int


class ServiceView:
    def __init__(self, client: Client) -> None:
        self.services: Informer[core_pb2.Service] = Informer(client.resource("Service"),
                                                             indexers={"clusterIP": _by_cluster_ip})
        self.slices: Informer[discovery_pb2.EndpointSlice] = Informer(
            client.resource("EndpointSlice"), indexers={"service": _by_service, "address": _by_address})
        self._turn: dict[tuple[str, int], int] = {}

    def start(self) -> None:
        self.services.start()
        self.slices.start()

    async def wait_synced(self, timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until both informers have listed once (at most `timeout` seconds); whether they have."""
        try:
            await asyncio.wait_for(asyncio.gather(self.services.wait_synced(), self.slices.wait_synced()), timeout)
        except TimeoutError:
            log.warning("services.not_synced", component="kubelet", timeout=timeout)
            return False
        return True

    async def stop(self) -> None:
        await self.services.stop()
        await self.slices.stop()

    # -- environment -----------------------------------------------------------------------------------------------

    def env(self, namespace: str, enable_service_links: bool) -> dict[str, str]:
        """getServiceEnvVarMap: the Services of the pod's namespace (with service links), plus `kubernetes`."""
        chosen: dict[str, core_pb2.Service] = {}
        for svc in self.services.store.by_index("namespace", "default"):
            if svc.metadata.name in MASTER_SERVICES and ip_set(svc):
                chosen[svc.metadata.name] = svc
        if enable_service_links:
            for svc in self.services.store.by_index("namespace", namespace):
                if ip_set(svc):
                    chosen[svc.metadata.name] = svc
        return service_env(chosen[name] for name in sorted(chosen))

    # -- the network -----------------------------------------------------------------------------------------------

    def service(self, namespace: str, name: str) -> core_pb2.Service | None:
        return self.services.store.get(f"{namespace}/{name}")

    def service_at(self, ip: str) -> core_pb2.Service | None:
        found = self.services.store.by_index("clusterIP", ip)
        return found[0] if found else None

    def endpoints(self, svc: core_pb2.Service, port_name: str | None) -> list[Backend]:
        """The ready endpoints of the Service's port named `port_name` (None: any port, at the first), by address."""
        out: list[Backend] = []
        for es in self.slices.store.by_index("service", f"{svc.metadata.namespace}/{svc.metadata.name}"):
            number = None
            for p in es.ports:
                if port_name is None or p.name == port_name:
                    number = p.port
                    break
            if number is None and port_name is not None:
                continue
            for e in es.endpoints:
                if e.conditions.HasField("ready") and not e.conditions.ready:
                    continue
                ref = e.target_ref
                for address in e.addresses[:1]:
                    out.append(Backend(ref.namespace or svc.metadata.namespace, ref.name if ref.kind == "Pod" else "",
                                       address, number or 0))
        return sorted(out, key=lambda b: (ipaddress.ip_address(b.ip), b.port))

    def pick(self, svc: core_pb2.Service, port: core_pb2.ServicePort) -> Backend | None:
        """The next ready endpoint of the port, round robin (kube-proxy spreads connections over them)."""
        backends = self.endpoints(svc, port.name)
        if not backends:
            return None
        key = (f"{svc.metadata.namespace}/{svc.metadata.name}", port.port)
        turn = self._turn.get(key, 0)
        self._turn[key] = turn + 1
        return backends[turn % len(backends)]

    def pod_at(self, ip: str) -> tuple[str, str] | None:
        """The pod with address `ip` as the EndpointSlices name it (namespace, name)."""
        for es in self.slices.store.by_index("address", ip):
            for e in es.endpoints:
                if ip in e.addresses and e.target_ref.kind == "Pod":
                    return e.target_ref.namespace or es.metadata.namespace, e.target_ref.name
        return None
