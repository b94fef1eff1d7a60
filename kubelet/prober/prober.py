"""Startup, liveness and readiness probes against the simulated container, with upstream's timing fields and
thresholds: startup gates the others; liveness failure kills the container; readiness only clears Ready."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubelet.runtime.shell import ShellContext, run_command
from kubemu.pb import core_pb2, meta_pb2

if TYPE_CHECKING:
    from kubelet.pod_worker import ContainerRecord, PodWorker


def _port(worker: PodWorker, rec: ContainerRecord, port: meta_pb2.IntOrString) -> int | None:
    if port.WhichOneof("value") == "int_val":
        return port.int_val
    for p in rec.spec.ports:
        if p.name == port.str_val:
            return p.container_port
    return None


async def probe_once(worker: PodWorker, rec: ContainerRecord, probe: core_pb2.Probe) -> tuple[bool, str]:
    """One probe: (success, failure output) as the kubelet's prober reports it."""
    if worker.ctx.clock() < rec.available_at:
        return False, "container is still starting (sim.kubemu.io/ready-after)"
    if probe.HasField("exec"):
        lines: list[str] = []
        ctx = ShellContext(fs=rec.fs, env=worker._env(rec.spec), stdout=lines.append, now=worker.ctx.clock,
                           hostname=worker.pod.metadata.name)
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
        port = _port(worker, rec, probe.http_get.port)
        scheme = (probe.http_get.scheme or "HTTP").lower()
        url = f"{scheme}://{worker.pod_ip}:{port}{probe.http_get.path or '/'}"
        if port is not None and port in rec.listening:
            return True, ""
        return False, f'Get "{url}": dial tcp {worker.pod_ip}:{port}: connect: connection refused'
    if probe.HasField("tcp_socket"):
        port = _port(worker, rec, probe.tcp_socket.port)
        if port is not None and port in rec.listening:
            return True, ""
        return False, f"dial tcp {worker.pod_ip}:{port}: connect: connection refused"
    if probe.HasField("grpc"):
        if probe.grpc.port in rec.listening:
            return True, ""
        return False, (f'timeout: failed to connect service "{worker.pod_ip}:{probe.grpc.port}" within '
                       f"{probe.timeout_seconds or 1}s: context deadline exceeded")
    return True, ""


async def _loop(worker: PodWorker, rec: ContainerRecord, kind: str, probe: core_pb2.Probe) -> None:
    name = {"startup": "Startup", "liveness": "Liveness", "readiness": "Readiness"}[kind]
    success_threshold = probe.success_threshold or 1
    failure_threshold = probe.failure_threshold or 3
    period = max(probe.period_seconds or 10, 1)
    if kind != "startup":
        await rec.started_event.wait()  # startup gates liveness and readiness
    await asyncio.sleep(probe.initial_delay_seconds)
    successes = failures = 0
    while rec.state == "running":
        ok, output = await probe_once(worker, rec, probe)
        if rec.state != "running":
            return
        if ok:
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
            await worker.ctx.event(worker.pod, "Warning", "Unhealthy", f"{name} probe failed: {output}")
        if kind == "readiness":
            if ok and successes >= success_threshold and not rec.ready:
                rec.ready = True
                worker.wake.set()
            elif not ok and failures >= failure_threshold and rec.ready:
                rec.ready = False
                worker.wake.set()
        elif kind == "startup":
            if ok:
                rec.mark_started()
                if not rec.spec.HasField("readiness_probe") and (not rec.init or rec.sidecar):
                    rec.ready = True
                worker.wake.set()
                return
            if failures >= failure_threshold:
                await worker.kill_for_probe(rec, f"Container {rec.name} failed startup probe, will be restarted")
                return
        elif kind == "liveness" and not ok and failures >= failure_threshold:
            await worker.kill_for_probe(rec, f"Container {rec.name} failed liveness probe, will be restarted")
            return
        await asyncio.sleep(period)


def start_probes(worker: PodWorker, rec: ContainerRecord) -> list[asyncio.Task[None]]:
    c = rec.spec
    probes = (("startup", c.HasField("startup_probe"), c.startup_probe),
              ("liveness", c.HasField("liveness_probe"), c.liveness_probe),
              ("readiness", c.HasField("readiness_probe"), c.readiness_probe))
    return [asyncio.create_task(_loop(worker, rec, kind, probe)) for kind, present, probe in probes if present]
