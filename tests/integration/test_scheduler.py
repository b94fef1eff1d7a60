"""A real kubemu-scheduler process against a real apiserver, with nodes registered through the SDK (no
kubelets): plugin behaviours end to end, the unschedulable message, no double-booking, retries on node
changes, preemption, leader failover, and explain mode; and, in process, how the scheduling loop sends its
bindings while pods wait."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import ApiServer, SchedulerProcess, fresh_database, has_event, run_cli, until

pytestmark = pytest.mark.integration


@pytest.fixture
def own_apiserver(redis_server: Any, fast_config: Path) -> Iterator[ApiServer]:
    """Each test gets its own store (a Redis database of its own), so nodes from one test never take pods
    of another."""
    server = ApiServer(fresh_database(redis_server.url, 2), config=fast_config).start()
    yield server
    server.stop()



@pytest.fixture
async def api(own_apiserver: ApiServer) -> AsyncIterator[Client]:
    c = Client(own_apiserver.address)
    yield c
    await c.close()


@pytest.fixture
def scheduler(own_apiserver: ApiServer, fast_config: Path) -> Iterator[SchedulerProcess]:
    s = SchedulerProcess(own_apiserver.address, fast_config).start()
    yield s
    s.stop()


async def add_node(client: Client, name: str, cpu: str = "2", memory: str = "4Gi", pods: str = "110",
                   labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
                   extra: dict[str, str] | None = None) -> None:
    cap = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    node = from_dict({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                      "spec": {"taints": taints or []},
                      "status": {"capacity": cap, "allocatable": cap,
                                 "conditions": [{"type": "Ready", "status": "True"}]}})
    await client.nodes.create(node)


def pod(name: str, cpu: str = "", **spec: Any) -> core_pb2.Pod:
    c: dict[str, Any] = {"name": "c", "image": "nginx"}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}}
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [c], **spec}}
    return from_dict(body)  # type: ignore[no-any-return]


async def node_of(client: Client, name: str) -> str | None:
    p = await client.pods.get(name, "default")
    return p.spec.node_name or None


async def scheduled_condition(client: Client, name: str) -> core_pb2.PodCondition | None:
    p = await client.pods.get(name, "default")
    return next((c for c in p.status.conditions if c.type == "PodScheduled" and c.status == "False"), None)


async def test_node_selector_taints_and_the_unschedulable_message(
    api: Client, scheduler: SchedulerProcess, own_apiserver: ApiServer
) -> None:
    for i in (1, 2, 3):
        await add_node(api, f"node-{i}")
    r = run_cli("label", "node", "node-2", "gpu=true", server=own_apiserver.address)
    assert r.stdout == "node/node-2 labeled\n", r.stderr
    await api.pods.create(pod("kubia-gpu", nodeSelector={"gpu": "true"}))
    assert await until(lambda: node_of(api, "kubia-gpu"), 20, describe=scheduler.logs) == "node-2"

    r = run_cli("taint", "nodes", "node-1", "dedicated=infra:NoSchedule", server=own_apiserver.address)
    assert r.stdout == "node/node-1 tainted\n", r.stderr
    await api.pods.create(pod("big", cpu="3"))
    cond = await until(lambda: scheduled_condition(api, "big"), 20, describe=scheduler.logs)
    assert cond.reason == "Unschedulable"
    assert cond.message.startswith(
        "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu."
    ), cond.message
    # Events are written after the fact (the recorder does not hold up scheduling): wait for them.
    await until(lambda: has_event(api, "big", lambda e: e.reason == "FailedScheduling" and e.type == "Warning"),
                10, describe=scheduler.logs)
    await until(lambda: has_event(api, "kubia-gpu", lambda e: e.reason == "Scheduled" and e.message
                                  == "Successfully assigned default/kubia-gpu to node-2"), 10, describe=scheduler.logs)
    r = run_cli("describe", "pod", "big", server=own_apiserver.address)
    assert "FailedScheduling" in r.stdout and "0/3 nodes are available" in r.stdout


async def test_cordon_and_retry_when_a_node_changes(
    api: Client, scheduler: SchedulerProcess, own_apiserver: ApiServer
) -> None:
    await add_node(api, "only")
    r = run_cli("cordon", "only", server=own_apiserver.address)
    assert r.stdout == "node/only cordoned\n"
    await api.pods.create(pod("waiting"))
    cond = await until(lambda: scheduled_condition(api, "waiting"), 20, describe=scheduler.logs)
    assert "1 node(s) were unschedulable" in cond.message
    r = run_cli("uncordon", "only", server=own_apiserver.address)
    assert r.stdout == "node/only uncordoned\n"
    assert await until(lambda: node_of(api, "waiting"), 20, describe=scheduler.logs) == "only"
    assert run_cli("uncordon", "only", server=own_apiserver.address).stdout == "node/only already uncordoned\n"


async def test_no_double_booking_when_pods_race_for_capacity(
    api: Client, scheduler: SchedulerProcess
) -> None:
    for i in range(10):
        await add_node(api, f"n{i}", cpu="1")
    # 200 pods of 100m race for 10 nodes x 1 cpu: exactly 100 fit.
    await asyncio.gather(*(api.pods.create(pod(f"p{i:03d}", cpu="100m")) for i in range(200)))

    async def settled() -> bool:
        pods = (await api.pods.list("default")).items
        bound = [p for p in pods if p.spec.node_name]
        failed = [p for p in pods if any(c.type == "PodScheduled" and c.status == "False"
                                         for c in p.status.conditions)]
        return len(bound) == 100 and len(failed) == 100

    await until(settled, 60, interval=0.2, describe=scheduler.logs)
    per_node: dict[str, int] = {}
    for p in (await api.pods.list("default")).items:
        if p.spec.node_name:
            per_node[p.spec.node_name] = per_node.get(p.spec.node_name, 0) + 1
    assert per_node == {f"n{i}": 10 for i in range(10)}


async def add_priority_class(client: Client, name: str, value: int, **more: Any) -> None:
    await client.resource("PriorityClass").create(from_dict({
        "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name}, "value": value,
        **more}))


async def test_preemption_evicts_lower_priority(api: Client, scheduler: SchedulerProcess) -> None:
    await add_priority_class(api, "low", 1)
    await add_priority_class(api, "high", 1000)
    await add_priority_class(api, "high-nonpreempting", 100, preemptionPolicy="Never")
    await add_node(api, "small", cpu="1")
    await api.pods.create(pod("low", cpu="800m", priorityClassName="low"))
    assert await until(lambda: node_of(api, "low"), 20) == "small"
    never = await api.pods.create(pod("never", cpu="800m", priorityClassName="high-nonpreempting"))
    # The Priority admission plugin resolved the class into the pod.
    assert (never.spec.priority, never.spec.preemption_policy) == (100, "Never")
    cond = await until(lambda: scheduled_condition(api, "never"), 20)
    assert "Insufficient cpu" in cond.message
    assert (await api.pods.get("low", "default")).metadata.uid  # a Never pod preempts no one
    assert not (await api.pods.get("low", "default")).metadata.HasField("deletion_timestamp")

    high = await api.pods.create(pod("high", cpu="800m", priorityClassName="high"))
    assert (high.spec.priority, high.spec.preemption_policy) == (1000, "PreemptLowerPriority")

    async def low_deleting() -> bool:
        return (await api.pods.get("low", "default")).metadata.HasField("deletion_timestamp")

    await until(low_deleting, 20, describe=scheduler.logs)
    low = await api.pods.get("low", "default")
    target = next(c for c in low.status.conditions if c.type == "DisruptionTarget")
    assert (target.status, target.reason, target.message) == (
        "True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")

    async def nominated() -> bool:
        return (await api.pods.get("high", "default")).status.nominated_node_name == "small"

    await until(nominated, 20)
    await until(lambda: has_event(api, "low", lambda e: e.reason == "Preempted" and e.message
                                  == f"Preempted by pod {high.metadata.uid} on node small"), 10,
                describe=scheduler.logs)
    # There is no kubelet here: confirm the victim's termination as its kubelet would.
    await api.pods.delete("low", "default", grace_period_seconds=0)
    assert await until(lambda: node_of(api, "high"), 20, describe=scheduler.logs) == "small"
    # The non-preempting pod still waits: it is lower than `high`, which took the room.
    assert await node_of(api, "never") is None


async def test_explain_mode_annotates_verdicts_and_scores(api: Client, scheduler: SchedulerProcess) -> None:
    await add_node(api, "a", cpu="4")
    await add_node(api, "b", cpu="1", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}])
    await add_node(api, "c", cpu="2")
    p = pod("explained", cpu="500m")
    p.metadata.annotations["scheduler.kubemu.io/explain"] = "true"
    await api.pods.create(p)
    await until(lambda: node_of(api, "explained"), 20, describe=scheduler.logs)
    got = await api.pods.get("explained", "default")
    filters = json.loads(got.metadata.annotations["scheduler.kubemu.io/filter-result"])
    scores = json.loads(got.metadata.annotations["scheduler.kubemu.io/score-result"])
    assert filters["b"]["TaintToleration"] == "node(s) had untolerated taint {k: v}"
    assert set(scores) == {"a", "c"} and all("total" in s for s in scores.values())
    assert got.metadata.annotations["scheduler.kubemu.io/selected-node"] == got.spec.node_name


async def test_leader_failover_binds_nothing_twice(
    api: Client, own_apiserver: ApiServer, fast_config: Path
) -> None:
    await add_node(api, "n1", cpu="8")
    first = SchedulerProcess(own_apiserver.address, fast_config).start()
    await until(lambda: _lease_holder(api), 20, describe=first.logs)
    second = SchedulerProcess(own_apiserver.address, fast_config).start()
    try:
        await api.pods.create(pod("before"))
        await until(lambda: node_of(api, "before"), 20)
        leader = await _lease_holder(api)
        first.kill()  # the active scheduler dies without releasing the lease
        await until(lambda: _lease_holder_is_not(api, leader), 20, describe=second.logs)
        await api.pods.create(pod("after"))
        assert await until(lambda: node_of(api, "after"), 20, describe=second.logs) == "n1"
        bound = [line for line in first.logs().splitlines() + second.logs().splitlines()
                 if '"pod.scheduled"' in line]
        assert len(bound) == 2, bound  # each pod bound exactly once
    finally:
        first.stop()
        second.stop()


async def _lease_holder(client: Client) -> str:
    try:
        lease = await client.leases.get("kube-scheduler", "kube-system")
    except errors.NotFound:
        return ""
    return str(lease.spec.holder_identity)


async def _lease_holder_is_not(client: Client, old: str) -> bool:
    holder = await _lease_holder(client)
    return bool(holder) and holder != old


def test_taint_cli_messages(own_apiserver: ApiServer) -> None:
    async def setup() -> None:
        async with Client(own_apiserver.address) as c:
            await add_node(c, "t1")

    asyncio.run(setup())
    srv = own_apiserver.address
    assert run_cli("taint", "nodes", "t1", "a=b:NoSchedule", server=srv).stdout == "node/t1 tainted\n"
    r = run_cli("taint", "nodes", "t1", "a=c:NoSchedule", server=srv)
    assert r.returncode == 1
    assert r.stderr.strip() == "error: node t1 already has a taint(s) with same effect(s) and --overwrite is false"
    assert run_cli("taint", "nodes", "t1", "a=c:NoSchedule", "--overwrite", server=srv).returncode == 0
    assert run_cli("taint", "nodes", "t1", "a:NoSchedule-", server=srv).stdout == "node/t1 untainted\n"
    r = run_cli("taint", "nodes", "t1", "a-", server=srv)
    assert (r.returncode, r.stderr.strip()) == (1, 'error: taint "a" not found')
    r = run_cli("taint", "nodes", "t1", "a=b:Sometimes", server=srv)
    assert r.returncode == 1 and "invalid taint effect: Sometimes" in r.stderr


async def test_the_scheduling_loop_lets_the_bindings_go_out_while_pods_wait(
    api: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a backlog, the loop yields every YIELD_EVERY (here after every pod), so the bindings of the pods
    # decided so far are sent while the rest are decided: several calls, none carrying the whole backlog. A loop
    # that never yields while pods wait sends them all in one call once the queue is empty.
    from scheduler import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "YIELD_EVERY", 0.0)
    await add_node(api, "n1", cpu="100")
    names = [f"p{i}" for i in range(40)]
    for name in names:
        await api.pods.create(pod(name, cpu="100m"))
    sizes: list[int] = []
    bind_many = api.pods.bind_many

    async def recorded(bindings: Any) -> Any:
        sizes.append(len(bindings))
        return await bind_many(bindings)

    monkeypatch.setattr(api.pods, "bind_many", recorded)
    s = scheduler_module.Scheduler(api, seed=1)
    run = asyncio.create_task(s.run())
    try:
        async def all_bound() -> bool:
            return all(p.spec.node_name == "n1" for p in (await api.pods.list("default")).items)

        await until(all_bound, 20, describe=lambda: sizes)
    finally:
        run.cancel()
        await asyncio.gather(run, *s.bind_tasks, return_exceptions=True)
        await s.recorder.close()
        await s.pods.stop()
        await s.nodes.stop()
    assert sum(sizes) == 40
    assert max(sizes) < 40, sizes
