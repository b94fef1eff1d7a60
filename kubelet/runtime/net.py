"""What a simulated container sees of the cluster network: names that resolve (Service DNS names, pod IPs) and
connections that a simulated server answers, refuses or never answers. The kubelet provides it
(kubelet/network.py, from what it knows through the API); the shell's wget, curl and nslookup use it."""

from __future__ import annotations

from typing import Protocol

CLUSTER_DOMAIN = "cluster.local"
DNS_SERVER = "10.96.0.10"
"""The kube-dns Service's address a pod's resolv.conf names (clusterDNS)."""


class ConnectError(Exception):
    """A connection that failed: `refused` (nothing listens, or a Service without ready endpoints, which kube-proxy
    rejects) or `timeout` (nothing at that address answers)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Network(Protocol):
    """The network as one pod sees it."""

    def resolve(self, host: str) -> str | None:
        """The IPv4 address of `host` (a Service name as the pod's DNS search path completes it, an FQDN, a pod
        DNS name, an address), or None when the name does not exist (NXDOMAIN)."""
        ...

    def fqdn(self, host: str) -> str:
        """The name the resolver found `host` as (`web.default.svc.cluster.local`), or `host` itself."""
        ...

    async def request(self, ip: str, port: int, data: bytes) -> bytes:
        """Send one request to ip:port and return the whole answer; raises ConnectError."""
        ...
