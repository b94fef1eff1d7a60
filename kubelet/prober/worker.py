"""Probe workers: one task per probe of a running container, with upstream's timing fields and thresholds
(pkg/kubelet/prober/worker.go). Startup gates the others; each publishes its result once a threshold is crossed."""

from __future__ import annotations

import asyncio

from kubelet.prober.prober import ProbeTarget, probe_once
from kubelet.prober.results import ProbeKey, ProbeKind, Result, ResultsManager
from kubemu.pb import core_pb2

_NAMES: dict[ProbeKind, str] = {"startup": "Startup", "liveness": "Liveness", "readiness": "Readiness"}


async def _loop(results: ResultsManager, target: ProbeTarget, kind: ProbeKind, probe: core_pb2.Probe) -> None:
    name = _NAMES[kind]
    container = target.container
    key = ProbeKey(target.pod_uid, container.spec.name, kind)
    success_threshold = probe.success_threshold or 1
    failure_threshold = probe.failure_threshold or 3
    period = max(probe.period_seconds or 10, 1)
    if kind != "startup":
        await target.started.wait()  # startup gates liveness and readiness
    await asyncio.sleep(probe.initial_delay_seconds)
    successes = failures = 0
    while container.state == "running":
        ok, output = await probe_once(target, probe)
        if container.state != "running":
            return
        if ok:
            successes, failures = successes + 1, 0
        else:
            successes, failures = 0, failures + 1
            await target.event("Warning", "Unhealthy", f"{name} probe failed: {output}")
        if kind == "readiness":
            if ok and successes >= success_threshold:
                results.set(key, target.container_id, Result.SUCCESS)
            elif not ok and failures >= failure_threshold:
                results.set(key, target.container_id, Result.FAILURE)
        elif kind == "startup":
            if ok:
                results.set(key, target.container_id, Result.SUCCESS)
                return  # started: the startup probe has done its work
            if failures >= failure_threshold:
                results.set(key, target.container_id, Result.FAILURE)
                return  # the pod worker restarts the container; its next run gets new probe workers
        elif kind == "liveness" and not ok and failures >= failure_threshold:
            results.set(key, target.container_id, Result.FAILURE)
            return
        await asyncio.sleep(period)


def start_probes(results: ResultsManager, target: ProbeTarget) -> list[asyncio.Task[None]]:
    """Start a worker for each probe the container has; the caller cancels them when the container stops."""
    c = target.container.spec
    probes: tuple[tuple[ProbeKind, bool, core_pb2.Probe], ...] = (
        ("startup", c.HasField("startup_probe"), c.startup_probe),
        ("liveness", c.HasField("liveness_probe"), c.liveness_probe),
        ("readiness", c.HasField("readiness_probe"), c.readiness_probe),
    )
    return [asyncio.create_task(_loop(results, target, kind, probe)) for kind, present, probe in probes if present]
