"""The DaemonSet controller in-process against a real apiserver, with nodes registered through the SDK (no kubelets,
no scheduler): one pod per eligible node, node churn, taints, rolling and OnDelete updates, and status."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from controllers.daemonset import HASH_LABEL, DaemonSetController, target_node_name
from kubemu.api.serialization import from_dict, set_time
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer, by_node
from kubemu.pb import apps_pb2, core_pb2
from tests.support import ApiServer, CreateManySpy, fresh_database, until

pytestmark = pytest.mark.integration

NS = "default"


@pytest.fixture
def own_apiserver(redis_server: Any, fast_config: Path) -> Iterator[ApiServer]:
    """A store of its own (Redis database 5), so only this test's nodes and DaemonSets exist."""
    server = ApiServer(fresh_database(redis_server.url, 5), config=fast_config).start()
    yield server
    server.stop()


@pytest.fixture
async def api(own_apiserver: ApiServer) -> AsyncIterator[Client]:
    c = Client(own_apiserver.address)
    yield c
    await c.close()


@pytest.fixture
async def controller(api: Client) -> AsyncIterator[DaemonSetController]:
    daemon_sets: Informer[apps_pb2.DaemonSet] = Informer(api.daemon_sets)
    pods: Informer[core_pb2.Pod] = Informer(api.pods, indexers={"node": by_node})
    nodes: Informer[core_pb2.Node] = Informer(api.nodes)
    informers: list[Informer[Any]] = [daemon_sets, pods, nodes]
    ctrl = DaemonSetController(api, daemon_sets, pods, nodes, EventRecorder(api, "daemonset-controller"))
    for inf in informers:
        inf.start()
    await asyncio.gather(*(inf.wait_synced(10) for inf in informers))
    task = asyncio.create_task(ctrl.run())
    yield ctrl
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    for inf in informers:
        await inf.stop()


async def add_node(api: Client, name: str, labels: dict[str, str] | None = None,
                   taints: list[dict[str, str]] | None = None) -> None:
    cap = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    await api.nodes.create(from_dict({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or []},
        "status": {"capacity": cap, "allocatable": cap, "conditions": [{"type": "Ready", "status": "True"}]},
    }))


def daemon_set(name: str, image: str = "nginx:1.25", strategy: dict[str, Any] | None = None,
               node_selector: dict[str, str] | None = None) -> apps_pb2.DaemonSet:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": image}]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    body: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": NS},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }
    if strategy:
        body["spec"]["updateStrategy"] = strategy
    return from_dict(body)  # type: ignore[no-any-return]


async def daemon_pods(api: Client, ds: str) -> list[core_pb2.Pod]:
    return [p for p in (await api.pods.list(NS)).items
            if any(r.kind == "DaemonSet" and r.name == ds and r.controller for r in p.metadata.owner_references)
            and not p.metadata.HasField("deletion_timestamp")]


async def pods_by_node(api: Client, ds: str) -> dict[str, list[core_pb2.Pod]]:
    out: dict[str, list[core_pb2.Pod]] = {}
    for p in await daemon_pods(api, ds):
        out.setdefault(target_node_name(p) or "", []).append(p)
    return out


async def on_nodes(api: Client, ds: str, nodes: set[str]) -> dict[str, list[core_pb2.Pod]] | None:
    """The pods by node once there is exactly one on each of `nodes` and none elsewhere."""
    by = await pods_by_node(api, ds)
    return by if set(by) == nodes and all(len(v) == 1 for v in by.values()) else None


async def mark_ready(api: Client, pod: core_pb2.Pod) -> None:
    """What a kubelet would report once the pod's containers run and pass readiness."""
    cur = await api.pods.get(pod.metadata.name, NS)
    cur.status.phase = "Running"
    del cur.status.conditions[:]
    cond = cur.status.conditions.add(type="Ready", status="True")
    set_time(cond.last_transition_time, time.time())
    await api.pods.update_status(cur)


def is_ready(pod: core_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def status_is(api: Client, name: str, **want: int) -> apps_pb2.DaemonSetStatus | None:
    ds = await api.daemon_sets.get(name, NS)
    st = ds.status
    ok = st.observed_generation == ds.metadata.generation and all(getattr(st, k) == v for k, v in want.items())
    return st if ok else None


async def event_reasons(api: Client, name: str, recorder: EventRecorder | None = None) -> list[str]:
    """The reasons of the Events about `name`; with `recorder`, once it has written what it queued."""
    if recorder is not None:
        await recorder.flush()
    return [e.reason for e in (await api.events.list(NS)).items if e.involved_object.name == name]


async def has_event(api: Client, name: str, reason: str) -> bool:
    return reason in await event_reasons(api, name)


async def test_one_pod_per_eligible_node_follows_node_churn(api: Client, controller: DaemonSetController) -> None:
    worker = {"role": "worker"}
    for n in ("n1", "n2", "n3"):
        await add_node(api, n, worker)
    await add_node(api, "tainted", worker, taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])
    await add_node(api, "elsewhere", {"role": "edge"})
    # Cordoned: the automatic unschedulable toleration lets the daemon pod on anyway.
    await add_node(api, "cordoned", worker,
                   taints=[{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
    created = await api.daemon_sets.create(daemon_set("agent", node_selector=worker))

    eligible = {"n1", "n2", "n3", "cordoned"}
    by = await until(lambda: on_nodes(api, "agent", eligible), 15, describe=lambda: pods_by_node(api, "agent"))
    pod = by["n1"][0]
    assert pod.metadata.name.startswith("agent-")
    assert not pod.spec.node_name  # the scheduler binds it; the affinity leaves it exactly one node
    terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    assert len(terms) == 1 and not terms[0].match_expressions
    assert [(f.key, f.operator, list(f.values)) for f in terms[0].match_fields] == [("metadata.name", "In", ["n1"])]
    tolerations = {(t.key, t.effect): t for t in pod.spec.tolerations}
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert tolerations[key, "NoExecute"].operator == "Exists"
        assert not tolerations[key, "NoExecute"].HasField("toleration_seconds")
    for key in ("disk-pressure", "memory-pressure", "pid-pressure", "unschedulable"):
        assert (f"node.kubernetes.io/{key}", "NoSchedule") in tolerations
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in tolerations  # not hostNetwork
    assert pod.metadata.labels["app"] == "agent" and pod.metadata.labels[HASH_LABEL]
    assert len({p.metadata.labels[HASH_LABEL] for v in by.values() for p in v}) == 1
    ref = pod.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.uid, ref.controller) == ("DaemonSet", "agent", created.metadata.uid, True)
    await until(lambda: status_is(api, "agent", desired_number_scheduled=4, current_number_scheduled=4,
                                  updated_number_scheduled=4, number_misscheduled=0, number_ready=0,
                                  number_available=0, number_unavailable=4), 10)
    assert (await event_reasons(api, "agent", controller.recorder)).count("SuccessfulCreate") == 4

    # A fourth worker joins: it gets a pod.
    await add_node(api, "n4", worker)
    eligible.add("n4")
    await until(lambda: on_nodes(api, "agent", eligible), 10, describe=lambda: pods_by_node(api, "agent"))

    # A node goes away: so does its pod.
    await api.nodes.delete("n2")
    eligible.discard("n2")
    await until(lambda: on_nodes(api, "agent", eligible), 10, describe=lambda: pods_by_node(api, "agent"))
    await until(lambda: has_event(api, "agent", "SuccessfulDelete"), 5)

    # Pods become ready (as a kubelet would report): ready, available.
    for pods in (await pods_by_node(api, "agent")).values():
        await mark_ready(api, pods[0])
    await until(lambda: status_is(api, "agent", desired_number_scheduled=4, current_number_scheduled=4,
                                  number_ready=4, number_available=4, number_unavailable=0,
                                  updated_number_scheduled=4), 10)

    # A new NoSchedule taint keeps the pod there (misscheduled); a NoExecute one evicts it.
    node = await api.nodes.get("n1")
    node.spec.taints.add(key="maintenance", effect="NoSchedule")
    await api.nodes.update(node)
    await until(lambda: status_is(api, "agent", desired_number_scheduled=3, current_number_scheduled=3,
                                  number_misscheduled=1, number_ready=3, number_available=3), 10)
    assert "n1" in await pods_by_node(api, "agent")
    node = await api.nodes.get("n1")
    node.spec.taints.add(key="maintenance", effect="NoExecute")
    await api.nodes.update(node)
    eligible.discard("n1")
    await until(lambda: on_nodes(api, "agent", eligible), 10, describe=lambda: pods_by_node(api, "agent"))
    await until(lambda: status_is(api, "agent", desired_number_scheduled=3, number_misscheduled=0), 10)

    # Its labels stop matching the nodeSelector: the pod goes too.
    node = await api.nodes.get("n3")
    node.metadata.labels["role"] = "edge"
    await api.nodes.update(node)
    eligible.discard("n3")
    await until(lambda: on_nodes(api, "agent", eligible), 10, describe=lambda: pods_by_node(api, "agent"))


async def test_orphan_is_adopted_and_an_extra_pod_on_a_node_deleted(api: Client,
                                                                   controller: DaemonSetController) -> None:
    await add_node(api, "n1")
    await api.daemon_sets.create(daemon_set("dup"))
    by = await until(lambda: on_nodes(api, "dup", {"n1"}), 10)
    # A second pod aimed at the same node (an orphan matching the selector): adopted, then the newer deleted.
    extra = core_pb2.Pod()
    extra.CopyFrom(by["n1"][0])
    extra.metadata.ClearField("owner_references")
    for f in ("uid", "resource_version", "creation_timestamp", "generate_name"):
        extra.metadata.ClearField(f)
    extra.metadata.name = "dup-extra"
    extra.ClearField("status")
    await api.pods.create(extra)

    async def one_left() -> bool:
        # The older stays; creationTimestamps have second precision, so a tie goes to the name (as upstream).
        pods = (await api.pods.list(NS)).items
        return len(pods) == 1 and len(await daemon_pods(api, "dup")) == 1

    await until(one_left, 10, describe=lambda: pods_by_node(api, "dup"))
    assert "SuccessfulDelete" in await event_reasons(api, "dup", controller.recorder)


async def test_rolling_update_replaces_pods_within_max_unavailable(api: Client,
                                                                    controller: DaemonSetController) -> None:
    nodes = {"n1", "n2", "n3"}
    for n in sorted(nodes):
        await add_node(api, n)
    await api.daemon_sets.create(daemon_set("roll"))
    by = await until(lambda: on_nodes(api, "roll", nodes), 10)
    for pods in by.values():
        await mark_ready(api, pods[0])
    await until(lambda: status_is(api, "roll", number_available=3, updated_number_scheduled=3), 10)
    old_hash = by["n1"][0].metadata.labels[HASH_LABEL]

    # Watch every pod change, in order, and count nodes without an available pod after each.
    watched: Informer[core_pb2.Pod] = Informer(api.pods, namespace=NS)
    worst = [0]

    def observe(*_: Any) -> None:
        serving = {target_node_name(p) for p in watched.store.list()
                   if is_ready(p) and not p.metadata.HasField("deletion_timestamp")}
        worst[0] = max(worst[0], len(nodes - serving))

    watched.add_handler(observe, observe, observe)
    watched.start()
    await watched.wait_synced(10)
    # The initial list delivers the pods one by one; count from the synced state on.
    assert len(watched.store.list()) == 3
    worst[0] = 0
    try:
        ds = await api.daemon_sets.get("roll", NS)
        ds.spec.template.spec.containers[0].image = "nginx:1.26"
        await api.daemon_sets.update(ds)

        async def unready_new_pod() -> core_pb2.Pod | bool:
            pods = await daemon_pods(api, "roll")
            if all(p.metadata.labels[HASH_LABEL] != old_hash and is_ready(p) for p in pods) and len(pods) == 3:
                return True
            new = [p for p in pods if p.metadata.labels[HASH_LABEL] != old_hash and not is_ready(p)]
            return new[0] if new else False

        replaced: list[str] = []
        while True:
            got = await until(unready_new_pod, 10, describe=lambda: pods_by_node(api, "roll"))
            if got is True:
                break
            assert isinstance(got, core_pb2.Pod)
            # While this new pod is unavailable, the controller must not take down another old one.
            by = await pods_by_node(api, "roll")
            assert len(by) <= 3 and sum(1 for v in by.values() for p in v if is_ready(p)) >= 2, by
            replaced.append(target_node_name(got) or "")
            await mark_ready(api, got)
        assert sorted(replaced) == sorted(nodes)
        final = await until(lambda: on_nodes(api, "roll", nodes), 10)
        assert all(v[0].metadata.labels[HASH_LABEL] != old_hash for v in final.values())
        await until(lambda: status_is(api, "roll", desired_number_scheduled=3, current_number_scheduled=3,
                                      updated_number_scheduled=3, number_ready=3, number_available=3,
                                      number_unavailable=0), 10)
        assert worst[0] == 1  # one node at a time: never more than maxUnavailable (1) without a serving pod
        assert (await event_reasons(api, "roll", controller.recorder)).count("SuccessfulDelete") == 3
    finally:
        await watched.stop()


async def test_on_delete_replaces_only_pods_the_user_deletes(api: Client, controller: DaemonSetController) -> None:
    for n in ("n1", "n2"):
        await add_node(api, n)
    await api.daemon_sets.create(daemon_set("od", strategy={"type": "OnDelete"}))
    by = await until(lambda: on_nodes(api, "od", {"n1", "n2"}), 10)
    old_hash = by["n1"][0].metadata.labels[HASH_LABEL]
    ds = await api.daemon_sets.get("od", NS)
    ds.spec.template.spec.containers[0].image = "nginx:1.26"
    await api.daemon_sets.update(ds)
    await until(lambda: status_is(api, "od", desired_number_scheduled=2, updated_number_scheduled=0), 10)
    assert {p.metadata.name for v in (await pods_by_node(api, "od")).values() for p in v} == {
        p.metadata.name for v in by.values() for p in v}

    await api.pods.delete(by["n1"][0].metadata.name, NS)

    async def n1_replaced() -> bool:
        cur = await on_nodes(api, "od", {"n1", "n2"})
        return cur is not None and cur["n1"][0].metadata.labels[HASH_LABEL] != old_hash \
            and cur["n2"][0].metadata.name == by["n2"][0].metadata.name

    await until(n1_replaced, 10)
    await until(lambda: status_is(api, "od", updated_number_scheduled=1), 10)
    with pytest.raises(errors.NotFound):
        await api.pods.get(by["n1"][0].metadata.name, NS)


async def _agent_on_ten_nodes(api: Client, monkeypatch: pytest.MonkeyPatch,
                              spoil: tuple[int, int] | None = None) -> CreateManySpy:
    """Ten nodes, then a DaemonSet over them, its CreateMany calls recorded: once there is a pod on each."""
    nodes = {f"n{i}" for i in range(10)}
    for n in sorted(nodes):
        await add_node(api, n)
    calls = CreateManySpy(api, monkeypatch, spoil)
    await api.daemon_sets.create(daemon_set("agent"))
    await until(lambda: on_nodes(api, "agent", nodes), 15, describe=lambda: pods_by_node(api, "agent"))
    return calls


async def test_daemon_pods_are_created_in_slow_start_batches_of_one_call_each(
    api: Client, controller: DaemonSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = await _agent_on_ten_nodes(api, monkeypatch)
    assert calls.sizes == [1, 2, 4, 3]
    assert (await event_reasons(api, "agent", controller.recorder)).count("SuccessfulCreate") == 10


async def test_a_failed_create_ends_the_slow_start_and_the_next_sync_starts_over(
    api: Client, controller: DaemonSetController, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = await _agent_on_ten_nodes(api, monkeypatch, spoil=(1, 0))  # the second call's first pod is refused
    # 1 created; 1 of 2 created, then no batch of 4: the 8 left wait for the next sync, which starts at 1 again.
    assert calls.sizes == [1, 2, 1, 2, 4, 1]
    reasons = await event_reasons(api, "agent", controller.recorder)
    assert reasons.count("FailedCreate") == 1 and reasons.count("SuccessfulCreate") == 10
