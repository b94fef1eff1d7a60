"""A pod worker acts on its probe workers' results as the prober reports them: startup gates liveness and
readiness, a failed startup or liveness probe restarts the container, readiness sets the container's Ready.
One pod worker in-process, with the node's callbacks recording what it does (no apiserver, no processes)."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from kubelet.images import ImageCache
from kubelet.pod_worker import KubeletContext, PodWorker
from kubemu.config import profile
from kubemu.pb import core_pb2
from tests.support import until

pytestmark = pytest.mark.unit

Event = tuple[str, str, str]


def pod_with(container: core_pb2.Container) -> core_pb2.Pod:
    pod = core_pb2.Pod()
    pod.metadata.name, pod.metadata.namespace, pod.metadata.uid = "web", "default", "uid-web"
    pod.spec.containers.add().CopyFrom(container)
    return pod


def container(**probes: list[str]) -> core_pb2.Container:
    """busybox sleeping, with an exec probe (failure threshold 1) per keyword: startup=[...], liveness=[...]."""
    c = core_pb2.Container(name="web", image="busybox", command=["sleep", "3600"])
    for kind, command in probes.items():
        probe = getattr(c, f"{kind}_probe")
        probe.exec.command.extend(command)
        probe.failure_threshold = 1
    return c


async def run(c: core_pb2.Container, done: Callable[[list[Event], PodWorker], bool]) -> list[Event]:
    events: list[Event] = []
    ips = (f"10.0.0.{i}" for i in itertools.count(2))

    async def event(pod: core_pb2.Pod, type: str, reason: str, message: str) -> None:
        events.append((type, reason, message))

    async def nothing(pod: core_pb2.Pod) -> None:
        pass

    ctx = KubeletContext(node_name="n1", config=profile("fast"), images=ImageCache(pull_seconds=0),
                         host_ip="192.168.0.2", allocate_ip=lambda: next(ips), release_ip=lambda ip: None,
                         publish=lambda w: None, event=event, confirm_deletion=nothing)
    worker = PodWorker(ctx, pod_with(c))
    worker.start()
    try:
        await until(lambda: done(events, worker), timeout=5, interval=0.01, describe=lambda: events)
    finally:
        await worker.abandon()
    return events


def reasons(events: list[Event]) -> list[str]:
    return [reason for _, reason, _ in events]


async def test_a_failed_liveness_probe_restarts_the_container_once_started() -> None:
    events = await run(container(startup=["true"], liveness=["false"]), lambda e, _: "Killing" in reasons(e))
    assert ("Warning", "Unhealthy", 'Liveness probe failed: command "false" exited with 1') in events
    assert events[-1] == ("Normal", "Killing", "Container web failed liveness probe, will be restarted")
    assert not any("Startup probe failed" in message for _, _, message in events)


async def test_a_failed_startup_probe_restarts_the_container_and_liveness_never_runs() -> None:
    events = await run(container(startup=["false"], liveness=["false"]), lambda e, _: "Killing" in reasons(e))
    assert ("Warning", "Unhealthy", 'Startup probe failed: command "false" exited with 1') in events
    assert events[-1] == ("Normal", "Killing", "Container web failed startup probe, will be restarted")
    assert not any("Liveness probe failed" in message for _, _, message in events)


async def test_readiness_sets_ready_once_started() -> None:
    def ready(events: list[Event], worker: PodWorker) -> bool:
        return worker.records["web"].ready

    await run(container(startup=["cat", "/etc/hostname"], readiness=["true"]), ready)


async def test_a_failed_readiness_probe_clears_ready_without_a_restart() -> None:
    """Ready at the first probe, which leaves a file behind; the second, a period later, finds it and fails."""
    c = container(readiness=["sh", "-c", "test -f /tmp/probed && exit 1; touch /tmp/probed"])
    c.readiness_probe.period_seconds = 1
    was_ready: list[bool] = []

    def unready_again(events: list[Event], worker: PodWorker) -> bool:
        if worker.records["web"].ready:
            was_ready.append(True)
        return bool(was_ready) and not worker.records["web"].ready

    events = await run(c, unready_again)
    assert events[-1][:2] == ("Warning", "Unhealthy")
    assert events[-1][2].startswith("Readiness probe failed: command \"sh -c test -f /tmp/probed")
    assert "Killing" not in reasons(events)
