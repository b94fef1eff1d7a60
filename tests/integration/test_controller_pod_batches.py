"""The ReplicaSet and Job controllers' pod creates and deletes in-process against a real apiserver: slow start in
batches of 1, 2, 4, ... each created in one CreateMany, a SuccessfulCreate Event per pod, and a stop after the
first batch in which a create failed (upstream's slowStartBatch, manageJob), with a FailedCreate Event naming the
error; a scale-down's deletes all at once, a failed one no longer expected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controllers.job import JobController
from controllers.replicaset import ReplicaSetController
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import apps_pb2, batch_pb2, core_pb2
from tests.support import CreateManySpy

pytestmark = pytest.mark.integration


def _replica_set(namespace: str) -> apps_pb2.ReplicaSet:
    rs: apps_pb2.ReplicaSet = from_dict({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": namespace},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    return rs


@pytest.fixture
async def controller(client: Client) -> AsyncIterator[ReplicaSetController]:
    owners: Informer[apps_pb2.ReplicaSet] = Informer(client.replica_sets)
    pods: Informer[core_pb2.Pod] = Informer(client.pods)
    yield ReplicaSetController(client, "ReplicaSet", owners, pods, EventRecorder(client, "replicaset-controller"))


async def _reasons(client: Client, controller: ReplicaSetController | JobController,
                   namespace: str) -> list[tuple[str, str]]:
    await controller.recorder.flush()
    return sorted((e.reason, e.message) for e in (await client.events.list(namespace)).items)


async def test_slow_start_creates_each_batch_in_one_call(
    client: Client, namespace: str, controller: ReplicaSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await client.replica_sets.create(_replica_set(namespace))
    batches = CreateManySpy(client, monkeypatch)
    assert await controller._slow_start(owner, f"{namespace}/web", 40) == 40
    assert batches.sizes == [1, 2, 4, 8, 16, 9]
    pods = (await client.pods.list(namespace)).items
    assert len(pods) == 40
    assert all(p.metadata.name.startswith("web-") and p.metadata.owner_references[0].uid == owner.metadata.uid
               for p in pods)
    reasons = await _reasons(client, controller, namespace)
    assert reasons == sorted(("SuccessfulCreate", f"Created pod: {p.metadata.name}") for p in pods)


async def test_slow_start_stops_after_the_batch_where_a_create_failed(
    client: Client, namespace: str, controller: ReplicaSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await client.replica_sets.create(_replica_set(namespace))
    batches = CreateManySpy(client, monkeypatch, spoil=(2, 1))  # the third call's second pod
    assert await controller._slow_start(owner, f"{namespace}/web", 40) == 6  # 1 + 2 + 3
    assert batches.sizes == [1, 2, 4]
    assert len((await client.pods.list(namespace)).items) == 6
    reasons = [r for r in await _reasons(client, controller, namespace) if r[0] == "FailedCreate"]
    assert len(reasons) == 1
    assert reasons[0][1].startswith("Error creating: ")
    assert "spec.containers[0].image: Required value" in reasons[0][1]


async def test_a_namespace_that_is_gone_costs_one_call(
    client: Client, controller: ReplicaSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = _replica_set("no-such-namespace")
    owner.metadata.uid = "0f0f0f0f-0000-4000-8000-000000000000"
    batches = CreateManySpy(client, monkeypatch)
    assert await controller._slow_start(owner, "no-such-namespace/web", 500) == 0
    assert batches.sizes == [1]


@pytest.fixture
async def job_controller(client: Client) -> JobController:
    jobs: Informer[batch_pb2.Job] = Informer(client.jobs)
    pods: Informer[core_pb2.Pod] = Informer(client.pods)
    return JobController(client, jobs, pods, EventRecorder(client, "job-controller"))


async def _job(client: Client, namespace: str) -> batch_pb2.Job:
    job: batch_pb2.Job = from_dict({
        "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "work", "namespace": namespace},
        "spec": {"parallelism": 10, "template": {"spec": {"restartPolicy": "Never",
                                                          "containers": [{"name": "c", "image": "busybox"}]}}}})
    return await client.jobs.create(job)


async def test_a_job_creates_its_missing_pods_in_slow_start_batches(
    client: Client, namespace: str, job_controller: JobController, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await _job(client, namespace)
    batches = CreateManySpy(client, monkeypatch)
    key = f"{namespace}/work"
    active = await job_controller._manage(job, key, [], 10, 0, [], 0.0)
    assert batches.sizes == [1, 2, 4, 3]
    assert sorted(p.metadata.name for p in active) == sorted(
        p.metadata.name for p in (await client.pods.list(namespace)).items)
    assert len(active) == 10 and all(p.metadata.owner_references[0].uid == job.metadata.uid for p in active)
    assert job_controller.expectations.get(key) == (10, 0)  # until the informer sees them


async def test_a_job_stops_creating_after_a_failed_batch_and_expects_only_what_it_made(
    client: Client, namespace: str, job_controller: JobController, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = await _job(client, namespace)
    batches = CreateManySpy(client, monkeypatch, spoil=(2, 0))
    key = f"{namespace}/work"
    with pytest.raises(errors.Invalid, match=r"spec.containers\[0\].image: Required value"):
        await job_controller._manage(job, key, [], 10, 0, [], 0.0)
    assert batches.sizes == [1, 2, 4]
    assert len((await client.pods.list(namespace)).items) == 6
    assert job_controller.expectations.get(key) == (6, 0)  # 10 expected, 1 refused and 3 never tried
    reasons = [r for r, _ in await _reasons(client, job_controller, namespace)]
    assert reasons.count("FailedCreate") == 1 and reasons.count("SuccessfulCreate") == 6


async def test_scale_down_deletes_its_victims_at_once_and_forgets_a_failed_one(
    client: Client, namespace: str, controller: ReplicaSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await client.replica_sets.create(_replica_set(namespace))
    key = f"{namespace}/web"
    assert await controller._slow_start(owner, key, 5) == 5
    active = (await client.pods.list(namespace)).items
    real = client.pods.delete
    in_flight, most = 0, 0
    refused = active[0].metadata.name

    async def delete(name: str, namespace: str | None = None, **kw: Any) -> Any:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0)  # every delete has started before any returns, if they run at once
            if name == refused:
                raise errors.Unavailable("the apiserver is unreachable")
            return await real(name, namespace, **kw)
        finally:
            in_flight -= 1

    monkeypatch.setattr(client.pods, "delete", delete)
    owner.spec.replicas = 0
    with pytest.raises(errors.Unavailable):
        await controller._manage(owner, key, active)
    assert most == 5
    left = {p.metadata.name for p in (await client.pods.list(namespace)).items
            if not p.metadata.HasField("deletion_timestamp")}
    assert left == {refused}
    # The refused pod will not be seen deleted: only the four deleted are still awaited.
    uids = controller.expectations.get_uids(key)
    assert uids == {p.metadata.uid for p in active[1:]}
    reasons = [r for r, _ in await _reasons(client, controller, namespace)]
    assert reasons.count("SuccessfulDelete") == 4 and reasons.count("FailedDelete") == 1
