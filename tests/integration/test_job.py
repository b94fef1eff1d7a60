"""Jobs end to end with the real controller manager, scheduler and kubelets: completions and parallelism,
backoffLimit, activeDeadlineSeconds, and ttlSecondsAfterFinished."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import batch_pb2
from tests.support import ApiServer, ControllersProcess, KubeletProcess, SchedulerProcess, fresh_database, until

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(redis_server: Any, fast_config: Path) -> Iterator[ApiServer]:
    api = ApiServer(fresh_database(redis_server.url, 7), config=fast_config).start()
    procs: list[Any] = [ControllersProcess(api.address, fast_config).start(),
                        SchedulerProcess(api.address, fast_config).start(),
                        KubeletProcess(api.address, "node-1", config=fast_config).start()]
    yield api
    for p in procs:
        p.cleanup() if isinstance(p, KubeletProcess) else p.stop()
    api.stop()


@pytest.fixture
async def api(cluster: ApiServer) -> AsyncIterator[Client]:
    c = Client(cluster.address)
    yield c
    await c.close()


def job(name: str, script: str, **spec: Any) -> batch_pb2.Job:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
        "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}}},
    })


async def condition(client: Client, name: str, ctype: str) -> batch_pb2.Job | None:
    j = await client.jobs.get(name, "default")
    return j if any(c.type == ctype and c.status == "True" for c in j.status.conditions) else None


async def test_completions_with_parallelism(api: Client) -> None:
    await api.jobs.create(job("hello", 'echo "Hello, Kubernetes!"; sleep 0.3', completions=3, parallelism=2))
    most_active = 0

    async def watch_active() -> None:
        nonlocal most_active
        async for _ev in api.pods.watch("default", label_selector="job-name=hello"):
            pods = (await api.pods.list("default", label_selector="job-name=hello")).items
            running = [p for p in pods if p.status.phase in ("Pending", "Running")
                       and not p.metadata.HasField("deletion_timestamp")]
            most_active = max(most_active, len(running))

    watcher = asyncio.create_task(watch_active())
    try:
        j = await until(lambda: condition(api, "hello", "Complete"), 40, interval=0.2)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert j.status.succeeded == 3 and j.status.active == 0
    assert [c.type for c in j.status.conditions] == ["SuccessCriteriaMet", "Complete"]
    assert j.status.HasField("completion_time") and j.status.HasField("start_time")
    assert 1 <= most_active <= 2  # never more than parallelism at once
    pods = (await api.pods.list("default", label_selector="job-name=hello")).items
    name = pods[0].metadata.name
    assert [line async for line in api.pods.logs(name, "default")] == ["Hello, Kubernetes!"]


async def test_backoff_limit_fails_the_job(api: Client) -> None:
    await api.jobs.create(job("flaky", "exit 1", backoffLimit=1))
    j = await until(lambda: condition(api, "flaky", "Failed"), 40, interval=0.2)
    failed = next(c for c in j.status.conditions if c.type == "Failed")
    assert (failed.reason, failed.message) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert j.status.failed == 2


async def test_active_deadline_and_ttl_after_finished(api: Client) -> None:
    await api.jobs.create(job("slow", "sleep 3600", activeDeadlineSeconds=1, ttlSecondsAfterFinished=1))
    j = await until(lambda: condition(api, "slow", "Failed"), 30, interval=0.2)
    failed = next(c for c in j.status.conditions if c.type == "Failed")
    assert (failed.reason, failed.message) == ("DeadlineExceeded", "Job was active longer than specified deadline")

    async def gone() -> bool:
        try:
            await api.jobs.get("slow", "default")
        except errors.NotFound:
            return True
        return False

    await until(gone, 30, interval=0.2)
