"""The kubelet's scale mode: one process running K nodes (`--nodes K --node-prefix P --first-index N`) that share
one connection, one pod watch and one logs/exec server, each with its own Node, Lease, pods and static pods; and
the `pod.started`/`pod.stopped` log events the chaos tool reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict, time_value
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import ApiServer, KubeletProcess, unique, until

pytestmark = pytest.mark.integration

K = 3


async def _ready(client: Client, name: str) -> bool:
    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


async def _renew_time(client: Client, name: str) -> float | None:
    try:
        lease = await client.leases.get(name, "kube-node-lease")
    except errors.NotFound:
        return None
    return time_value(lease.spec.renew_time)


def _events(k: KubeletProcess, event: str) -> list[dict[str, Any]]:
    out = []
    for line in k.logs().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == event:
            out.append(entry)
    return out


def pod_manifest(name: str, ns: str, node: str, command: list[str] | None = None) -> core_pb2.Pod:
    container: dict[str, Any] = {"name": "c", "image": "busybox", "command": command or ["sleep", "3600"]}
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": node, "containers": [container]},
    })


@pytest.fixture(scope="module")
async def rack(apiserver: ApiServer, fast_config: Path) -> AsyncIterator[KubeletProcess]:
    """One scale-mode kubelet running K nodes for the module (the last test kills it)."""
    k = KubeletProcess(apiserver.address, unique("rack") + "-", config=fast_config, nodes=K).start()
    c = Client(apiserver.address)
    try:
        for name in k.node_names:
            await until(lambda name=name: _ready(c, name), 30, describe=k.logs)  # type: ignore[misc]
        yield k
    finally:
        k.cleanup()
        for name in k.node_names:
            try:
                await c.nodes.delete(name)
            except errors.NotFound:
                pass
        await c.close()


async def test_k_nodes_register_ready_share_one_server_and_renew_their_leases(
    client: Client, rack: KubeletProcess
) -> None:
    names = rack.node_names
    assert names == [f"{rack.node}{i}" for i in range(1, K + 1)]
    nodes = [await client.nodes.get(name) for name in names]
    ports = {n.status.daemon_endpoints.kubelet_endpoint.port for n in nodes}
    assert len(ports) == 1 and ports.pop() > 0  # one logs/exec server for every node of the process
    for n in nodes:
        assert n.metadata.labels["kubernetes.io/hostname"] == n.metadata.name
        assert {a.type: a.address for a in n.status.addresses} == {"InternalIP": "127.0.0.1",
                                                                    "Hostname": n.metadata.name}
        assert n.spec.pod_cidr.endswith(".0/24")
    # Different boot ids and machine ids: K machines, not one reported K times.
    assert len({n.status.node_info.machine_id for n in nodes}) == K
    first = {}
    for name in names:
        first[name] = await until(lambda name=name: _renew_time(client, name), 10)  # type: ignore[misc]
    for name in names:
        async def renewed(name: str = name) -> bool:
            t = await _renew_time(client, name)
            return t is not None and t > first[name]
        await until(renewed, 10, describe=rack.logs)
    # Every log line of a node names it; the lines of the process name its range.
    started = _events(rack, "kubelet.started")
    assert started and started[0]["node"] == f"{names[0]}..{names[-1]}" and started[0]["nodes"] == K
    registered = {e["node"] for e in _events(rack, "node.registered") + _events(rack, "node.reregistered")}
    assert registered == set(names)


async def test_pods_run_on_their_node_and_logs_reach_node_2(
    client: Client, rack: KubeletProcess, namespace: str
) -> None:
    names = rack.node_names
    for i, name in enumerate(names, start=1):
        await client.pods.create(pod_manifest(f"p{i}", namespace, name,
                                              ["sh", "-c", f"echo hello from {name}; sleep 3600"]))

    async def running(pod: str) -> core_pb2.Pod | None:
        p = await client.pods.get(pod, namespace)
        return p if p.status.phase == "Running" and p.status.pod_ip else None

    pods = [await until(lambda i=i: running(f"p{i}"), 20, describe=rack.logs)  # type: ignore[misc]
            for i in range(1, K + 1)]
    nodes = {n: await client.nodes.get(n) for n in names}
    for name, pod in zip(names, pods, strict=True):
        assert pod.spec.node_name == name
        assert pod.status.host_ip == "127.0.0.1"
        # The pod's IP comes from its own node's podCIDR.
        prefix = nodes[name].spec.pod_cidr.rsplit(".", 2)[0] + "."
        assert pod.status.pod_ip.startswith(prefix), (pod.status.pod_ip, nodes[name].spec.pod_cidr)
    started = {e["pod"]: e for e in _events(rack, "pod.started")}
    for i, name in enumerate(names, start=1):
        e = started[f"{namespace}/p{i}"]
        assert e["node"] == name and e["static"] is False and e["uid"] == pods[i - 1].metadata.uid

    lines = [line async for line in client.pods.logs("p2", namespace)]
    assert lines == [f"hello from {names[1]}"]
    assert await client.pods.exec("p2", ["sh", "-c", "echo $HOSTNAME"], namespace) == (["p2"], 0)

    # Deleting the pod on node 3 stops it there, and only there.
    await client.pods.delete("p3", namespace)

    async def gone() -> bool:
        try:
            await client.pods.get("p3", namespace)
        except errors.NotFound:
            return True
        return False

    await until(gone, 20, describe=rack.logs)
    stopped = [e for e in _events(rack, "pod.stopped") if e["pod"] == f"{namespace}/p3"]
    assert [(e["node"], e["reason"]) for e in stopped] == [(names[2], "deleted")]
    assert (await client.pods.get("p1", namespace)).status.phase == "Running"


STATIC = """\
apiVersion: v1
kind: Pod
metadata:
  name: static-web
spec:
  containers:
  - name: web
    image: nginx
"""


async def test_static_pod_folder_per_node_is_mirrored(client: Client, rack: KubeletProcess) -> None:
    names = rack.node_names
    (rack.static_dir_of(names[1]) / "web.yaml").write_text(STATIC)
    mirror_name = f"static-web-{names[1]}"

    async def mirror() -> core_pb2.Pod | None:
        try:
            p = await client.pods.get(mirror_name, "default")
        except errors.NotFound:
            return None
        return p if p.status.phase == "Running" else None

    m = await until(mirror, 20, describe=rack.logs)
    assert m.spec.node_name == names[1]
    assert m.metadata.owner_references[0].name == names[1]
    lines = [line async for line in client.pods.logs(mirror_name, "default")]
    assert lines == []  # nginx logs nothing, but the request reached the static pod on node 2
    # The other nodes' folders do not exist, and a manifest at the top of DIR belongs to no node.
    for other in (names[0], names[2]):
        with pytest.raises(errors.NotFound):
            await client.pods.get(f"static-web-{other}", "default")
    started = [e for e in _events(rack, "pod.started") if e["pod"] == f"default/{mirror_name}"]
    assert [(e["node"], e["static"]) for e in started] == [(names[1], True)]

    (rack.static_dir_of(names[1]) / "web.yaml").unlink()

    async def no_mirror() -> bool:
        try:
            await client.pods.get(mirror_name, "default")
        except errors.NotFound:
            return True
        return False

    await until(no_mirror, 20, describe=rack.logs)
    stopped = [e for e in _events(rack, "pod.stopped") if e["pod"] == f"default/{mirror_name}"]
    assert [(e["node"], e["static"], e["reason"]) for e in stopped] == [(names[1], True, "removed")]


async def test_nodes_and_node_name_together_is_a_usage_error(apiserver: ApiServer) -> None:
    k = KubeletProcess(apiserver.address, "x-", nodes=2, extra=["--node-name", "x"]).start()
    try:
        assert k.proc is not None
        code = await asyncio.to_thread(k.proc.wait, 20)
        assert code == 2
        assert "argument --node-name: not allowed with argument --nodes" in k.logs()
    finally:
        k.cleanup()


async def test_killing_the_process_stops_every_nodes_lease(client: Client, rack: KubeletProcess) -> None:
    names = rack.node_names
    rack.kill()
    await asyncio.sleep(0.3)  # a renewal in flight at the kill lands now
    before = {name: await _renew_time(client, name) for name in names}
    assert all(before.values())
    await asyncio.sleep(2.5)  # two and a half renew intervals of the fast profile
    after = {name: await _renew_time(client, name) for name in names}
    assert after == before
    # Over the whole life of the process, every log line named its node (or, host-wide, the node range).
    entries = [json.loads(line) for line in rack.logs().splitlines() if line.startswith("{")]
    assert entries and all(e.get("node") in {*names, f"{names[0]}..{names[-1]}"} for e in entries), [
        e for e in entries if e.get("node") not in names][:5]


# ---- pod.started / pod.stopped, single-node mode ---------------------------------------------------


async def test_pod_started_and_stopped_are_logged_once(
    client: Client, apiserver: ApiServer, fast_config: Path, namespace: str
) -> None:
    k = KubeletProcess(apiserver.address, unique("node"), config=fast_config).start()
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        pod = await client.pods.create(pod_manifest("once", namespace, k.node))
        # A container that restarts does not stop the pod: only its deletion does.
        await client.pods.create(pod_manifest("flappy", namespace, k.node, ["sh", "-c", "exit 1"]))

        async def running() -> bool:
            p = await client.pods.get("once", namespace)
            return p.status.phase == "Running"

        async def restarted() -> bool:
            p = await client.pods.get("flappy", namespace)
            st = p.status.container_statuses
            return bool(st) and st[0].restart_count >= 2

        await until(running, 20, describe=k.logs)
        await until(restarted, 20, describe=k.logs)
        await client.pods.delete("once", namespace)
        await client.pods.delete("flappy", namespace)

        def stopped() -> list[dict[str, Any]]:
            return [e for e in _events(k, "pod.stopped") if e["pod"].startswith(f"{namespace}/")]

        await until(lambda: len(stopped()) == 2, 20, describe=k.logs)
        await asyncio.sleep(0.5)  # nothing more comes
        for name in ("once", "flappy"):
            starts = [e for e in _events(k, "pod.started") if e["pod"] == f"{namespace}/{name}"]
            stops = [e for e in stopped() if e["pod"] == f"{namespace}/{name}"]
            assert len(starts) == 1 and len(stops) == 1, (starts, stops)
            assert starts[0]["node"] == k.node and stops[0]["node"] == k.node
            assert starts[0]["static"] is False and stops[0]["reason"] == "deleted"
        once = next(e for e in _events(k, "pod.started") if e["pod"] == f"{namespace}/once")
        assert once["uid"] == pod.metadata.uid

        # A pod that runs to completion stops then, once, and not again when it is deleted.
        job = pod_manifest("job", namespace, k.node, ["sh", "-c", "echo done"])
        job.spec.restart_policy = "Never"
        await client.pods.create(job)

        async def succeeded() -> bool:
            p = await client.pods.get("job", namespace)
            return p.status.phase == "Succeeded"

        await until(succeeded, 20, describe=k.logs)
        await until(lambda: any(e["pod"] == f"{namespace}/job" for e in stopped()), 10, describe=k.logs)
        await client.pods.delete("job", namespace)
        await asyncio.sleep(0.5)
        stops = [e for e in stopped() if e["pod"] == f"{namespace}/job"]
        assert [e["reason"] for e in stops] == ["completed"]
    finally:
        k.cleanup()
        try:
            await client.nodes.delete(k.node)
        except errors.NotFound:
            pass

