"""Deployments end to end, with the real controller manager, scheduler and kubelets: a rolling update keeps
within maxSurge and maxUnavailable on every watch event, revisions are kept, and deleting the Deployment
takes its ReplicaSets and pods with it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import apps_pb2, core_pb2
from tests.support import ApiServer, ControllersProcess, KubeletProcess, SchedulerProcess, fresh_database, until

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(redis_server: Any, fast_config: Path) -> Iterator[tuple[ApiServer, list[Any]]]:
    api = ApiServer(fresh_database(redis_server.url, 6), config=fast_config).start()
    procs: list[Any] = [ControllersProcess(api.address, fast_config).start(),
                        SchedulerProcess(api.address, fast_config).start()]
    procs += [KubeletProcess(api.address, f"node-{i}", config=fast_config).start() for i in (1, 2)]
    yield api, procs
    for p in procs:
        p.cleanup() if isinstance(p, KubeletProcess) else p.stop()
    api.stop()


@pytest.fixture
async def api(cluster: tuple[ApiServer, list[Any]]) -> AsyncIterator[Client]:
    c = Client(cluster[0].address)
    yield c
    await c.close()


def deployment(replicas: int, image: str) -> apps_pb2.Deployment:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": image,
                                                       "ports": [{"containerPort": 80}]}]}}},
    })


async def rolled_out(client: Client, replicas: int, image: str) -> apps_pb2.Deployment | None:
    d = await client.deployments.get("web", "default")
    pods = [p for p in (await client.pods.list("default", label_selector="app=web")).items
            if not p.metadata.HasField("deletion_timestamp")]
    done = (d.status.observed_generation >= d.metadata.generation and d.status.updated_replicas == replicas
            and d.status.available_replicas == replicas and d.status.replicas == replicas
            and len(pods) == replicas and all(p.spec.containers[0].image == image for p in pods))
    return d if done else None


async def test_rolling_update_stays_within_surge_and_unavailability(api: Client) -> None:
    await api.deployments.create(deployment(4, "nginx:1.14"))
    d = await until(lambda: rolled_out(api, 4, "nginx:1.14"), 40, interval=0.2)
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    conds = {c.type: (c.status, c.reason) for c in d.status.conditions}
    assert conds == {"Available": ("True", "MinimumReplicasAvailable"),
                     "Progressing": ("True", "NewReplicaSetAvailable")}

    listed = await api.pods.list("default", label_selector="app=web")
    pods: dict[str, core_pb2.Pod] = {p.metadata.name: p for p in listed.items}
    violations: list[str] = []

    def check() -> None:
        active = [p for p in pods.values() if not p.metadata.HasField("deletion_timestamp")
                  and p.status.phase not in ("Succeeded", "Failed")]
        ready = [p for p in active if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)]
        if len(active) > 4 + 1:
            violations.append(f"{len(active)} pods > replicas + maxSurge")
        if len(ready) < 4 - 1:
            violations.append(f"{len(ready)} ready < replicas - maxUnavailable")

    async def watch() -> None:
        async for ev in api.pods.watch("default", resource_version=listed.resource_version,
                                       label_selector="app=web"):
            if ev.object is None:
                continue
            if ev.type == "DELETED":
                pods.pop(ev.object.metadata.name, None)
            else:
                pods[ev.object.metadata.name] = ev.object
            check()

    watcher = asyncio.create_task(watch())
    try:
        cur = await api.deployments.get("web", "default")
        cur.spec.template.spec.containers[0].image = "nginx:1.15"
        await api.deployments.update(cur)
        d = await until(lambda: rolled_out(api, 4, "nginx:1.15"), 60, interval=0.2)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert not violations, violations[:5]
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "2"
    rss = (await api.replica_sets.list("default")).items
    by_rev = {rs.metadata.annotations["deployment.kubernetes.io/revision"]: rs for rs in rss}
    assert set(by_rev) == {"1", "2"} and by_rev["1"].spec.replicas == 0 and by_rev["2"].spec.replicas == 4
    assert all(rs.metadata.name == f"web-{rs.metadata.labels['pod-template-hash']}" for rs in rss)

    # Deleting the Deployment takes its ReplicaSets and pods too (garbage collection).
    await api.deployments.delete("web", "default")

    async def all_gone() -> bool:
        rs_left = (await api.replica_sets.list("default")).items
        pods_left = [p for p in (await api.pods.list("default", label_selector="app=web")).items
                     if not p.metadata.HasField("deletion_timestamp")]
        return not rs_left and not pods_left

    await until(all_gone, 30, interval=0.2)


async def test_scale_and_recreate(api: Client) -> None:
    d = deployment(2, "nginx:1.14")
    d.spec.strategy.type = "Recreate"
    d.spec.strategy.ClearField("rolling_update")
    await api.deployments.create(d)
    await until(lambda: rolled_out(api, 2, "nginx:1.14"), 40, interval=0.2)
    cur = await api.deployments.get("web", "default")
    cur.spec.replicas = 3
    await api.deployments.update(cur)
    await until(lambda: rolled_out(api, 3, "nginx:1.14"), 40, interval=0.2)
    cur = await api.deployments.get("web", "default")
    cur.spec.template.spec.containers[0].image = "nginx:1.15"
    await api.deployments.update(cur)
    await until(lambda: rolled_out(api, 3, "nginx:1.15"), 60, interval=0.2)
    try:
        await api.deployments.delete("web", "default")
    except errors.NotFound:
        pass
