"""The prober's results manager publishes each change for the pod worker, keeps the latest result, and forgets a
stopped container's; a probe worker reports through it alone, with no pod worker anywhere."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from kubelet.prober.prober import ProbeTarget
from kubelet.prober.results import ProbeKey, Result, ResultsManager, Update
from kubelet.prober.worker import start_probes
from kubelet.runtime.fs import ContainerFS, image_root
from kubemu.pb import core_pb2

pytestmark = pytest.mark.unit

LIVENESS = ProbeKey("uid-1", "web", "liveness")
READINESS = ProbeKey("uid-1", "web", "readiness")


async def test_an_update_published_is_consumed() -> None:
    results = ResultsManager()
    updates = results.updates("uid-1")
    results.set(LIVENESS, "kubemu://a", Result.FAILURE)
    assert await asyncio.wait_for(updates.get(), 1) == Update(LIVENESS, "kubemu://a", Result.FAILURE)


async def test_only_changes_are_published_and_the_latest_result_wins() -> None:
    results = ResultsManager()
    updates = results.updates("uid-1")
    for result in (Result.SUCCESS, Result.SUCCESS, Result.FAILURE, Result.FAILURE, Result.SUCCESS):
        results.set(READINESS, "kubemu://a", result)
    published = [updates.get_nowait() for _ in range(updates.qsize())]
    assert [u.result for u in published] == [Result.SUCCESS, Result.FAILURE, Result.SUCCESS]
    assert results.get(READINESS) == Update(READINESS, "kubemu://a", Result.SUCCESS)
    results.set(READINESS, "kubemu://b", Result.SUCCESS)  # the same result on the container's next run is news
    assert updates.get_nowait().container_id == "kubemu://b"


async def test_updates_go_to_their_own_pod() -> None:
    results = ResultsManager()
    mine, other = results.updates("uid-1"), results.updates("uid-2")
    results.set(LIVENESS, "kubemu://a", Result.FAILURE)
    assert mine.qsize() == 1 and other.empty()


async def test_a_removed_containers_results_go() -> None:
    results = ResultsManager()
    sidecar = ProbeKey("uid-1", "sidecar", "readiness")
    results.set(LIVENESS, "kubemu://a", Result.FAILURE)
    results.set(READINESS, "kubemu://a", Result.SUCCESS)
    results.set(sidecar, "kubemu://s", Result.SUCCESS)
    results.remove("uid-1", "web")
    assert results.get(LIVENESS) is None and results.get(READINESS) is None
    assert results.get(sidecar) is not None  # the pod's other containers keep theirs
    results.remove_pod("uid-1")
    assert results.get(sidecar) is None


@dataclass
class FakeContainer:
    spec: core_pb2.Container
    fs: ContainerFS = field(default_factory=lambda: ContainerFS(image_root("web"), {}))
    state: str = "running"
    listening: set[int] = field(default_factory=set)


async def test_a_probe_worker_reports_through_the_results_manager_alone() -> None:
    """Liveness on a port nobody listens on, failing at the first try: an Unhealthy Event, then a Failure update."""
    spec = core_pb2.Container(name="web", image="nginx")
    spec.liveness_probe.tcp_socket.port.int_val = 80
    spec.liveness_probe.failure_threshold = 1
    events: list[tuple[str, str, str]] = []

    async def event(type: str, reason: str, message: str) -> None:
        events.append((type, reason, message))

    started = asyncio.Event()
    started.set()
    target = ProbeTarget(pod_uid="uid-1", pod_name="web", pod_ip="10.0.0.5", container=FakeContainer(spec),
                         container_id="kubemu://a", available_at=0.0, started=started, env=dict, clock=lambda: 1.0,
                         event=event)
    results = ResultsManager()
    updates = results.updates("uid-1")
    tasks = start_probes(results, target)
    assert await asyncio.wait_for(updates.get(), 5) == Update(LIVENESS, "kubemu://a", Result.FAILURE)
    await asyncio.gather(*tasks)  # a failed liveness probe stops probing: the pod worker restarts the container
    assert events == [("Warning", "Unhealthy",
                       "Liveness probe failed: dial tcp 10.0.0.5:80: connect: connection refused")]
