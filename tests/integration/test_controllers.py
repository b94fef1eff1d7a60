"""The controller manager against a real apiserver: ReplicaSet and ReplicationController, garbage collection
with each propagation policy, node lifecycle and taint-based eviction; then end to end with a real scheduler
and kubelets: kill a kubelet and watch its pods come back on the live nodes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict, set_time
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import coordination_pb2, core_pb2
from tests.support import (
    ApiServer,
    ControllersProcess,
    KubeletProcess,
    SchedulerProcess,
    fresh_database,
    unique,
    until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster_api(redis_server: Any, fast_config: Path) -> Iterator[ApiServer]:
    """An apiserver on a Redis database of its own, so these controllers see only this test's objects."""
    server = ApiServer(fresh_database(redis_server.url, 3), config=fast_config).start()
    yield server
    server.stop()


@pytest.fixture
async def api(cluster_api: ApiServer) -> AsyncIterator[Client]:
    c = Client(cluster_api.address)
    yield c
    await c.close()


@pytest.fixture
def controllers(cluster_api: ApiServer, fast_config: Path) -> Iterator[ControllersProcess]:
    p = ControllersProcess(cluster_api.address, fast_config).start()
    yield p
    p.stop()


def replicaset(name: str, replicas: int, **labels: str) -> Any:
    lab = labels or {"app": name}
    return from_dict({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
                      "spec": {"replicas": replicas, "selector": {"matchLabels": lab},
                               "template": {"metadata": {"labels": lab},
                                            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})


async def owned_pods(client: Client, owner: str) -> list[core_pb2.Pod]:
    """Active pods whose controller is `owner`, or a ReplicaSet of Deployment `owner` (`owner-<hash>`)."""
    return [p for p in (await client.pods.list("default")).items
            if any(r.controller and (r.name == owner or (r.kind == "ReplicaSet" and r.name.rsplit("-", 1)[0] == owner))
                   for r in p.metadata.owner_references)
            and not p.metadata.HasField("deletion_timestamp")]


async def count_is(client: Client, owner: str, n: int) -> list[core_pb2.Pod] | None:
    pods = await owned_pods(client, owner)
    return pods if len(pods) == n else None


async def test_replicaset_creates_scales_adopts_and_releases(api: Client, controllers: ControllersProcess) -> None:
    orphan = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "orphan", "labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    await api.pods.create(orphan)
    await api.replica_sets.create(replicaset("web", 3))
    pods = await until(lambda: count_is(api, "web", 3), 20, describe=controllers.logs)
    names = sorted(p.metadata.name for p in pods)
    assert "orphan" in names  # adopted, so only two were created
    assert all(n == "orphan" or (n.startswith("web-") and len(n) == 9) for n in names)

    async def status(replicas: int) -> bool:
        rs = await api.replica_sets.get("web", "default")
        return rs.status.replicas == replicas and rs.status.observed_generation == rs.metadata.generation

    await until(lambda: status(3), 20)

    victim = next(p for p in pods if p.metadata.name != "orphan")
    await api.pods.delete(victim.metadata.name, "default")
    await until(lambda: _replaced(api, victim.metadata.name), 20)

    released = await api.pods.get("orphan", "default")
    released.metadata.labels["app"] = "other"
    await api.pods.update(released)

    async def freed() -> bool:  # released when its labels stopped matching
        return not (await api.pods.get("orphan", "default")).metadata.owner_references

    await until(freed, 20, describe=controllers.logs)
    pods = await until(lambda: count_is(api, "web", 3), 20)
    assert "orphan" not in {p.metadata.name for p in pods}  # and replaced

    rs = await api.replica_sets.get("web", "default")
    rs.spec.replicas = 1
    await api.replica_sets.update(rs)
    await until(lambda: count_is(api, "web", 1), 20)
    await until(lambda: status(1), 20)


async def _replaced(client: Client, gone: str) -> bool:
    pods = await owned_pods(client, "web")
    return len(pods) == 3 and gone not in {p.metadata.name for p in pods}


async def test_replication_controller_defaults_selector_from_template(
    api: Client, controllers: ControllersProcess
) -> None:
    rc = from_dict({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "crane"},
                    "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": "crane"}},
                                                         "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
    await api.replication_controllers.create(rc)
    pods = await until(lambda: count_is(api, "crane", 1), 20, describe=controllers.logs)
    assert pods[0].metadata.name.startswith("crane-")
    assert pods[0].metadata.owner_references[0].kind == "ReplicationController"


@pytest.mark.parametrize("policy", ["Background", "Orphan", "Foreground"])
async def test_garbage_collection_honours_propagation(
    api: Client, controllers: ControllersProcess, policy: str
) -> None:
    name = unique("gc").lower()
    await api.replica_sets.create(replicaset(name, 2))
    pods = await until(lambda: count_is(api, name, 2), 20, describe=controllers.logs)
    await api.replica_sets.delete(name, "default", propagation_policy=policy)

    async def rs_gone() -> bool:
        try:
            await api.replica_sets.get(name, "default")
        except errors.NotFound:
            return True
        return False

    await until(rs_gone, 20, describe=controllers.logs)
    uids = {p.metadata.uid for p in pods}

    async def remaining() -> list[core_pb2.Pod]:
        return [p for p in (await api.pods.list("default")).items
                if p.metadata.uid in uids and not p.metadata.HasField("deletion_timestamp")]

    if policy == "Orphan":
        left = await until(lambda: _all_orphaned(remaining), 20)
        assert len(left) == 2
    else:
        await until(lambda: _none(remaining), 20, describe=controllers.logs)


async def _all_orphaned(remaining: Any) -> list[core_pb2.Pod] | None:
    left = await remaining()
    return left if left and all(not p.metadata.owner_references for p in left) else None


async def _none(remaining: Any) -> bool:
    return not await remaining()


async def register_node(client: Client, name: str) -> None:
    node = from_dict({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                      "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                                 "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                                 "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
    await client.nodes.create(node)
    lease = coordination_pb2.Lease()
    lease.metadata.name, lease.metadata.namespace = name, "kube-node-lease"
    lease.spec.holder_identity = name
    set_time(lease.spec.renew_time, time.time())
    await client.leases.create(lease)


async def test_silent_node_goes_unknown_tainted_and_its_pods_are_evicted(
    api: Client, controllers: ControllersProcess
) -> None:
    await register_node(api, "quiet")
    short = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "short"}, "spec": {
        "nodeName": "quiet", "containers": [{"name": "c", "image": "x"}],
        "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 1}]}})
    forever = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "forever"}, "spec": {
        "nodeName": "quiet", "containers": [{"name": "c", "image": "x"}],
        "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]}})
    await api.pods.create(short)
    await api.pods.create(forever)

    # Nobody renews the Lease: after the grace period (5 s in the fast profile) the node is Unknown.
    async def unknown() -> core_pb2.Node | None:
        n = await api.nodes.get("quiet")
        ready = next(c for c in n.status.conditions if c.type == "Ready")
        return n if ready.status == "Unknown" and any(t.key == "node.kubernetes.io/unreachable"
                                                      and t.effect == "NoExecute" for t in n.spec.taints) else None

    n = await until(unknown, 20, describe=controllers.logs)
    ready = next(c for c in n.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")

    async def deleting(name: str) -> bool:
        try:
            return (await api.pods.get(name, "default")).metadata.HasField("deletion_timestamp")
        except errors.NotFound:
            return True

    await until(lambda: deleting("short"), 20, describe=controllers.logs)
    assert not await deleting("forever")  # tolerates it without a limit: stays

    # The node comes back: its kubelet posts Ready and renews the Lease; the taints go.
    lease = await api.leases.get("quiet", "kube-node-lease")
    set_time(lease.spec.renew_time, time.time())
    await api.leases.update(lease)
    node = await api.nodes.get("quiet")
    for c in node.status.conditions:
        c.status, c.reason, c.message = "True", "KubeletReady", "kubelet is posting ready status"
    await api.nodes.update_status(node)

    async def healed() -> bool:
        n = await api.nodes.get("quiet")
        return not any(t.key.startswith("node.kubernetes.io/") for t in n.spec.taints)

    await until(healed, 20, describe=controllers.logs)


async def test_a_lost_node_is_tainted_before_its_pods_are_marked_not_ready(
    api: Client, controllers: ControllersProcess
) -> None:
    # Upstream queues the NoExecute taint before MarkPodsNotReady: evictions must not wait for a status write
    # per pod of the lost node. Each pod stays (it tolerates the taint forever) and is marked not Ready.
    await register_node(api, "crowded")
    start = (await api.pods.list("default")).resource_version
    names = [f"crowded-{i}" for i in range(30)]
    for name in names:
        await api.pods.create(from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
            "nodeName": "crowded", "containers": [{"name": "c", "image": "x"}],
            "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]}}))
        pod = await api.pods.get(name, "default")
        pod.status.phase = "Running"
        for ctype in ("Ready", "ContainersReady"):
            pod.status.conditions.add(type=ctype, status="True")
        await api.pods.update_status(pod)
    lease = await api.leases.get("crowded", "kube-node-lease")  # the grace period starts with every pod Ready
    set_time(lease.spec.renew_time, time.time())
    await api.leases.update(lease)

    tainted_at: list[int] = []
    not_ready_at: dict[str, int] = {}

    async def follow_node() -> None:
        async for ev in api.nodes.watch(resource_version=start, field_selector="metadata.name=crowded"):
            if ev.object is not None and any(t.key == "node.kubernetes.io/unreachable" and t.effect == "NoExecute"
                                             for t in ev.object.spec.taints):
                tainted_at.append(int(ev.object.metadata.resource_version))
                return

    async def follow_pods() -> None:
        async for ev in api.pods.watch("default", resource_version=start, field_selector="spec.nodeName=crowded"):
            pod = ev.object
            if pod is not None and any(c.type == "Ready" and c.status == "False" for c in pod.status.conditions):
                not_ready_at.setdefault(pod.metadata.name, int(pod.metadata.resource_version))
                if len(not_ready_at) == len(names):
                    return

    watches = asyncio.gather(follow_node(), follow_pods())
    try:
        await asyncio.wait_for(asyncio.shield(watches), 30)
    except TimeoutError:
        watches.cancel()
        raise AssertionError(
            f"tainted at {tainted_at}, {len(not_ready_at)} pods not Ready\n{controllers.logs()}") from None
    assert sorted(not_ready_at) == sorted(names)
    assert tainted_at[0] < min(not_ready_at.values()), (tainted_at, sorted(not_ready_at.values()))


async def test_untolerated_noexecute_taint_evicts_at_once(api: Client, controllers: ControllersProcess) -> None:
    await register_node(api, "tainted")
    await api.pods.create(from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
                                     "spec": {"nodeName": "tainted", "containers": [{"name": "c", "image": "x"}]}}))
    node = await api.nodes.get("tainted")
    node.spec.taints.add(key="maintenance", value="now", effect="NoExecute")
    await api.nodes.update(node)

    async def evicted() -> bool:
        try:
            return (await api.pods.get("victim", "default")).metadata.HasField("deletion_timestamp")
        except errors.NotFound:
            return True

    await until(evicted, 20, describe=controllers.logs)


async def test_killed_kubelet_pods_come_back_on_live_nodes(
    api: Client, cluster_api: ApiServer, controllers: ControllersProcess, fast_config: Path
) -> None:
    scheduler = SchedulerProcess(cluster_api.address, fast_config).start()
    kubelets = [KubeletProcess(cluster_api.address, f"node-{i}", config=fast_config).start() for i in (1, 2, 3)]
    try:
        for k in kubelets:
            await until(lambda k=k: _node_ready(api, k.node), 20, describe=k.logs)
        deploy = from_dict({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                         "containers": [{"name": "nginx", "image": "nginx"}],
                         "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                          "effect": "NoExecute", "tolerationSeconds": 2}]}}}})
        await api.deployments.create(deploy)
        await until(lambda: _running_on(api, 6), 30, describe=scheduler.logs)
        dead = kubelets[1]
        dead.kill()

        async def recovered() -> bool:
            pods = await owned_pods(api, "web")  # active pods only: the evicted ones are not counted twice
            live = [p for p in pods if p.status.phase == "Running" and p.spec.node_name != dead.node]
            return len(pods) == 6 and len(live) == 6

        # grace (5 s) + toleration (2 s) + a bound for scheduling and start-up
        await until(recovered, 25, interval=0.2, describe=controllers.logs)
        node = await api.nodes.get(dead.node)
        assert any(t.key == "node.kubernetes.io/unreachable" for t in node.spec.taints)
        assert next(c for c in node.status.conditions if c.type == "Ready").status == "Unknown"

        dead.start()  # the node comes back: Ready again, the taints go
        await until(lambda: _node_ready(api, dead.node), 20)

        async def untainted() -> bool:
            n = await api.nodes.get(dead.node)
            return not any(t.key == "node.kubernetes.io/unreachable" for t in n.spec.taints)

        await until(untainted, 20, describe=controllers.logs)
    finally:
        for k in kubelets:
            k.cleanup()
        scheduler.stop()


async def _node_ready(client: Client, name: str) -> bool:
    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


async def _running_on(client: Client, n: int) -> bool:
    pods = await owned_pods(client, "web")
    return len([p for p in pods if p.status.phase == "Running"]) == n



async def test_pods_of_a_deleted_node_are_collected(api: Client, controllers: ControllersProcess) -> None:
    await register_node(api, "doomed")
    await api.pods.create(from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stranded"},
                                     "spec": {"nodeName": "doomed", "containers": [{"name": "c", "image": "x"}]}}))
    await api.nodes.delete("doomed")

    async def collected() -> bool:
        try:
            await api.pods.get("stranded", "default")
        except errors.NotFound:
            return True
        return False

    await until(collected, 20, describe=controllers.logs)  # the pod GC pass runs every 2 s in the fast profile
    assert '"pod.collected"' in controllers.logs()
