"""One probe (exec, httpGet, tcpSocket, grpc) against the simulated container, and the failure output the kubelet
reports for it (upstream's pkg/kubelet/prober/prober.go). What it probes is a ProbeTarget, never the pod worker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Set
from dataclasses import dataclass
from typing import Protocol

from kubelet.runtime.fs import ContainerFS
from kubelet.runtime.net import Network
from kubelet.runtime.shell import ShellContext, run_command
from kubemu.pb import core_pb2, meta_pb2


class Container(Protocol):
    """The container as its probes see it: read at every probe, because the runtime changes these while it runs."""

    @property
    def state(self) -> str:
        """waiting | running | terminated: a probe worker stops once its container no longer runs."""
        ...

    @property
    def spec(self) -> core_pb2.Container: ...

    @property
    def fs(self) -> ContainerFS: ...

    @property
    def listening(self) -> Set[int]:
        """The ports the container's process listens on now (httpGet, tcpSocket and grpc probes connect to them)."""
        ...


@dataclass(frozen=True)
class ProbeTarget:
    """One run of one container, as the pod worker hands it to the probe workers when the container starts."""

    pod_uid: str
    pod_name: str
    """The exec probe's hostname."""
    pod_ip: str
    container: Container
    container_id: str
    """The run: results are published for it, so that a result found on an earlier run is not acted on."""
    available_at: float
    """Before this time the process is still warming up: probes fail (sim.kubemu.io/ready-after)."""
    started: asyncio.Event
    """Set once the container counts as started (startup probe passed): liveness and readiness wait on it."""
    env: Callable[[], dict[str, str]]
    """The container's environment, as an exec probe sees it (computed at each probe, like the pod's)."""
    clock: Callable[[], float]
    event: Callable[[str, str, str], Awaitable[None]]
    """Records an Event (type, reason, message) on the pod."""
    network: Network | None = None
    """The cluster network as the pod sees it, for exec probes that call wget or curl."""


def _port(target: ProbeTarget, port: meta_pb2.IntOrString) -> int | None:
    if port.WhichOneof("value") == "int_val":
        return port.int_val
    for p in target.container.spec.ports:
        if p.name == port.str_val:
            return p.container_port
    return None


async def probe_once(target: ProbeTarget, probe: core_pb2.Probe) -> tuple[bool, str]:
    """One probe: (success, failure output) as the kubelet's prober reports it."""
    rec = target.container
    if target.clock() < target.available_at:
        return False, "container is still starting (sim.kubemu.io/ready-after)"
    if probe.HasField("exec"):
        lines: list[str] = []
        ctx = ShellContext(fs=rec.fs, env=target.env(), stdout=lines.append, now=target.clock,
                           hostname=target.pod_name, network=target.network)
        try:
            code = await asyncio.wait_for(run_command(list(probe.exec.command), ctx), probe.timeout_seconds or 1)
        except TimeoutError:
            return False, f"command timed out: \"{' '.join(probe.exec.command)}\" timed out after " \
                          f"{probe.timeout_seconds or 1}s"
        if code == 0:
            return True, ""
        out = "\n".join(lines)
        return False, out if out else f"command \"{' '.join(probe.exec.command)}\" exited with {code}"
    if probe.HasField("http_get"):
        port = _port(target, probe.http_get.port)
        scheme = (probe.http_get.scheme or "HTTP").lower()
        url = f"{scheme}://{target.pod_ip}:{port}{probe.http_get.path or '/'}"
        if port is not None and port in rec.listening:
            return True, ""
        return False, f'Get "{url}": dial tcp {target.pod_ip}:{port}: connect: connection refused'
    if probe.HasField("tcp_socket"):
        port = _port(target, probe.tcp_socket.port)
        if port is not None and port in rec.listening:
            return True, ""
        return False, f"dial tcp {target.pod_ip}:{port}: connect: connection refused"
    if probe.HasField("grpc"):
        if probe.grpc.port in rec.listening:
            return True, ""
        return False, (f'timeout: failed to connect service "{target.pod_ip}:{probe.grpc.port}" within '
                       f"{probe.timeout_seconds or 1}s: context deadline exceeded")
    return True, ""
