"""Real kubelet processes against a real apiserver: node registration and heartbeat, the pod lifecycle with
upstream phases, conditions and reasons, probes, restarts, logs and exec, termination, static and mirror pods,
and a kubelet restarted under the same node name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict, time_value
from kubemu.cli.printers import pod_status
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import ApiServer, KubeletProcess, has_event, unique, until

pytestmark = pytest.mark.integration


@pytest.fixture
async def node(apiserver: ApiServer, fast_config: Path, client: Client) -> AsyncIterator[KubeletProcess]:
    k = KubeletProcess(apiserver.address, unique("node"), config=fast_config).start()
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        yield k
    finally:
        k.cleanup()
        try:
            await client.nodes.delete(k.node)
        except errors.NotFound:
            pass


async def _ready(client: Client, name: str) -> bool:
    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


def pod_manifest(name: str, ns: str, node: str, containers: list[dict[str, Any]], **spec: Any) -> core_pb2.Pod:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"nodeName": node, "containers": containers, **spec},
    })


class Watcher:
    """Records what a watcher of one pod sees: (phase, kubectl STATUS, READY) on each change."""

    def __init__(self, client: Client, ns: str, name: str) -> None:
        self.client, self.ns, self.name = client, ns, name
        self.seen: list[tuple[str, str, bool]] = []
        self.last: core_pb2.Pod | None = None
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for ev in self.client.pods.watch(self.ns, field_selector=f"metadata.name={self.name}"):
            if ev.object is None:
                continue
            self.last = ev.object
            ready = any(c.type == "Ready" and c.status == "True" for c in ev.object.status.conditions)
            row = (ev.object.status.phase, pod_status(ev.object), ready)
            if not self.seen or self.seen[-1] != row:
                self.seen.append(row)

    def statuses(self) -> list[str]:
        out: list[str] = []
        for _, s, _ in self.seen:
            if not out or out[-1] != s:
                out.append(s)
        return out

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def get_pod(client: Client, ns: str, name: str) -> core_pb2.Pod:
    return await client.pods.get(name, ns)


def container(pod: core_pb2.Pod, name: str) -> core_pb2.ContainerStatus:
    for s in list(pod.status.container_statuses) + list(pod.status.init_container_statuses):
        if s.name == name:
            return s
    raise AssertionError(f"no status for container {name}: {pod.status}")


# ---- node ----------------------------------------------------------------------------------------


async def test_node_registers_heartbeats_and_is_ready(client: Client, node: KubeletProcess) -> None:
    n = await client.nodes.get(node.node)
    assert n.metadata.labels["kubernetes.io/hostname"] == node.node
    assert n.metadata.labels["kubernetes.io/os"] == "linux"
    assert n.status.capacity["pods"] == "110" and n.status.allocatable["cpu"] == "4"
    assert n.spec.pod_cidr.startswith("10.244.") and n.spec.pod_cidr.endswith(".0/24")
    assert n.status.daemon_endpoints.kubelet_endpoint.port > 0
    ready = next(c for c in n.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("KubeletReady", "kubelet is posting ready status")
    assert {c.type for c in n.status.conditions} == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    lease = await until(lambda: _lease(client, node.node), 10)  # created once the node is registered
    first = time_value(lease.spec.renew_time)
    await until(lambda: _renewed(client, node.node, first), 10)


async def _lease(client: Client, name: str) -> Any:
    try:
        return await client.leases.get(name, "kube-node-lease")
    except errors.NotFound:
        return None


async def _renewed(client: Client, name: str, after: float) -> bool:
    lease = await client.leases.get(name, "kube-node-lease")
    return time_value(lease.spec.renew_time) > after


async def test_two_nodes_get_distinct_pod_cidrs(client: Client, node: KubeletProcess, apiserver: ApiServer,
                                                fast_config: Path) -> None:
    other = KubeletProcess(apiserver.address, unique("node"), config=fast_config).start()
    try:
        await until(lambda: _ready(client, other.node), 20, describe=other.logs)
        a, b = await client.nodes.get(node.node), await client.nodes.get(other.node)
        assert a.spec.pod_cidr != b.spec.pod_cidr
    finally:
        other.cleanup()
        await client.nodes.delete(other.node)


# ---- pod lifecycle -------------------------------------------------------------------------------


async def test_pod_goes_pending_containercreating_running_ready(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    w = Watcher(client, namespace, "web")
    try:
        pod = pod_manifest("web", namespace, node.node, [{"name": "web", "image": "nginx:1.27",
                                                          "ports": [{"containerPort": 80}]}])
        pod.metadata.annotations["sim.kubemu.io/image-pull-seconds"] = "0.5"
        await client.pods.create(pod)
        await until(lambda: w.seen and w.seen[-1] == ("Running", "Running", True), 20, describe=lambda: w.seen)
        assert w.statuses() == ["Pending", "ContainerCreating", "Running"]
        assert w.seen[0][0] == "Pending" and w.seen[-1] == ("Running", "Running", True)
        p = w.last
        assert p is not None
        conds = {c.type: (c.status, c.reason) for c in p.status.conditions}
        assert conds == {"PodReadyToStartContainers": ("True", ""), "Initialized": ("True", ""),
                         "Ready": ("True", ""), "ContainersReady": ("True", ""), "PodScheduled": ("True", "")}
        node_obj = await client.nodes.get(node.node)
        assert p.status.pod_ip.startswith(node_obj.spec.pod_cidr.rsplit(".", 2)[0])
        assert p.status.host_ip == "127.0.0.1"
        st = container(p, "web")
        assert st.ready and st.started and st.restart_count == 0 and st.state.HasField("running")
        images = [i.names[0] for i in node_obj.status.images]
        await until(lambda: _has_image(client, node.node, "nginx:1.27"), 15, describe=lambda: images)
    finally:
        await w.close()


async def _has_image(client: Client, node: str, image: str) -> bool:
    n = await client.nodes.get(node)
    return any(image in i.names for i in n.status.images)


async def test_init_container_then_app(client: Client, node: KubeletProcess, namespace: str) -> None:
    w = Watcher(client, namespace, "init")
    try:
        pod = pod_manifest("init", namespace, node.node, [{"name": "app", "image": "busybox",
                                                           "command": ["sh", "-c", "sleep 3600"]}],
                           initContainers=[{"name": "wait", "image": "busybox",
                                            "command": ["sh", "-c", "sleep 1"]}])
        await client.pods.create(pod)
        await until(lambda: w.seen and w.seen[-1][1] == "Running", 20, describe=lambda: w.seen)
        statuses = w.statuses()
        assert statuses[0] == "Pending" or statuses[0].startswith("Init:")
        assert "Init:0/1" in statuses and statuses[-1] == "Running"
        assert statuses.index("Init:0/1") < statuses.index("Running")
        p = w.last
        assert p is not None
        init = container(p, "wait")
        assert init.state.terminated.exit_code == 0 and init.state.terminated.reason == "Completed"
    finally:
        await w.close()


async def test_failed_init_container_fails_the_pod_under_never(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    pod = pod_manifest("badinit", namespace, node.node, [{"name": "app", "image": "busybox",
                                                          "command": ["sleep", "3600"]}],
                       restartPolicy="Never",
                       initContainers=[{"name": "fail", "image": "busybox", "command": ["sh", "-c", "exit 3"]}])
    await client.pods.create(pod)
    p = await until(lambda: _phase_is(client, namespace, "badinit", "Failed"), 20)
    assert pod_status(p) == "Init:Error"
    assert container(p, "fail").state.terminated.exit_code == 3


async def _phase_is(client: Client, ns: str, name: str, phase: str) -> core_pb2.Pod | None:
    p = await client.pods.get(name, ns)
    return p if p.status.phase == phase else None


@pytest.mark.parametrize(("policy", "script", "phase", "reason"), [
    ("Never", "echo done; exit 0", "Succeeded", "Completed"),
    ("Never", "exit 2", "Failed", "Error"),
    ("OnFailure", "exit 0", "Succeeded", "Completed"),
])
async def test_restart_policy_decides_the_end(
    client: Client, node: KubeletProcess, namespace: str, policy: str, script: str, phase: str, reason: str
) -> None:
    name = unique("end")
    await client.pods.create(pod_manifest(name, namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}], restartPolicy=policy))
    p = await until(lambda: _phase_is(client, namespace, name, phase), 20)
    st = container(p, "c")
    assert st.state.terminated.reason == reason and st.restart_count == 0
    ready = {c.type: (c.status, c.reason) for c in p.status.conditions}
    if phase == "Succeeded":
        assert ready["Ready"] == ("False", "PodCompleted")


async def test_crashing_container_backs_off(client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod_manifest("crash", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", "echo boom; exit 1"]}]))

    async def in_backoff() -> core_pb2.Pod | None:
        p = await client.pods.get("crash", namespace)
        st = p.status.container_statuses
        return p if st and st[0].state.waiting.reason == "CrashLoopBackOff" and st[0].restart_count >= 1 else None

    p = await until(in_backoff, 30)
    st = container(p, "c")
    assert st.state.waiting.message.startswith("back-off ")
    assert f"restarting failed container=c pod=crash_{namespace}({p.metadata.uid})" in st.state.waiting.message
    assert st.last_state.terminated.exit_code == 1 and st.last_state.terminated.reason == "Error"
    assert p.status.phase == "Running"  # restartPolicy Always keeps the pod Running
    assert pod_status(p) == "CrashLoopBackOff"
    lines = [line async for line in client.pods.logs("crash", namespace, previous=True)]
    assert lines == ["boom"]


async def test_liveness_exec_restarts_the_container(client: Client, node: KubeletProcess, namespace: str) -> None:
    # The documentation's liveness-exec example, on a shorter clock.
    await client.pods.create(pod_manifest("liveness", namespace, node.node, [{
        "name": "liveness", "image": "registry.k8s.io/busybox",
        "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 2; rm -f /tmp/healthy; sleep 600"],
        "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 1,
                          "periodSeconds": 1}}]))

    async def restarted() -> core_pb2.Pod | None:
        p = await client.pods.get("liveness", namespace)
        return p if p.status.container_statuses and p.status.container_statuses[0].restart_count >= 1 else None

    p = await until(restarted, 30)
    await until(lambda: has_event(client, "liveness", lambda e: (e.reason, e.message.split(":")[0])
                                  == ("Unhealthy", "Liveness probe failed"), namespace), 10)
    await until(lambda: has_event(client, "liveness", lambda e: e.reason == "Killing"
                                  and "failed liveness probe" in e.message, namespace), 10)
    assert container(p, "liveness").last_state.terminated.exit_code == 137


async def test_status_changed_behind_the_kubelets_back_is_written_again(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    """The node lifecycle controller marks a silent node's pods NotReady; when the kubelet is heard from again
    (back from a pause or a partition) its status manager, as upstream's, writes what it knows over it."""
    await client.pods.create(pod_manifest("back", namespace, node.node, [{"name": "c", "image": "nginx"}]))

    async def ready(value: str) -> core_pb2.Pod | None:
        p = await client.pods.get("back", namespace)
        cond = {c.type: c.status for c in p.status.conditions}
        return p if p.status.phase == "Running" and cond.get("Ready") == value else None

    p = await until(lambda: ready("True"), 20)
    for c in p.status.conditions:
        if c.type == "Ready":  # what MarkPodsNotReady writes
            c.status = "False"
    for cs in p.status.container_statuses:
        cs.ready = False
    await client.pods.update_status(p)
    await until(lambda: ready("True"), 10)
    assert container(await client.pods.get("back", namespace), "c").restart_count == 0


async def test_readiness_failure_clears_ready_without_restart(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    await client.pods.create(pod_manifest("ready", namespace, node.node, [{
        "name": "c", "image": "busybox", "command": ["sh", "-c", "touch /tmp/ready; sleep 3600"],
        "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1, "failureThreshold": 1}}]))

    async def ready_is(value: bool) -> core_pb2.Pod | None:
        p = await client.pods.get("ready", namespace)
        st = p.status.container_statuses
        return p if st and st[0].ready is value and st[0].state.HasField("running") else None

    await until(lambda: ready_is(True), 20)
    _out, code = await client.pods.exec("ready", ["rm", "/tmp/ready"], namespace)
    assert code == 0
    p = await until(lambda: ready_is(False), 20)
    cond = {c.type: c for c in p.status.conditions}
    assert cond["Ready"].status == "False" and cond["Ready"].reason == "ContainersNotReady"
    assert cond["Ready"].message == "containers with unready status: [c]"
    assert container(p, "c").restart_count == 0


async def test_shared_emptydir_logs_exec_and_env(client: Client, node: KubeletProcess, namespace: str) -> None:
    pod = from_dict({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two", "namespace": namespace},
        "spec": {"nodeName": node.node, "volumes": [{"name": "shared-data", "emptyDir": {}}], "containers": [
            {"name": "nginx-container", "image": "nginx",
             "volumeMounts": [{"name": "shared-data", "mountPath": "/usr/share/nginx/html"}]},
            {"name": "debian-container", "image": "debian",
             "volumeMounts": [{"name": "shared-data", "mountPath": "/pod-data"}],
             "env": [{"name": "MY_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                     {"name": "MY_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
             "command": ["/bin/sh"],
             "args": ["-c", 'echo Hello from the debian container > /pod-data/index.html; '
                            'echo "Hello, Kubernetes!" && echo "$MY_POD on $MY_NODE" && sleep 3600']}]},
    })
    await client.pods.create(pod)
    await until(lambda: _running_containers(client, namespace, "two", 2), 20)
    out, code = await client.pods.exec("two", ["cat", "/usr/share/nginx/html/index.html"], namespace,
                                       container="nginx-container")
    assert (out, code) == (["Hello from the debian container"], 0)
    lines = [line async for line in client.pods.logs("two", namespace, container="debian-container")]
    assert lines == ["Hello, Kubernetes!", f"two on {node.node}"]
    with pytest.raises(errors.BadRequest, match=r"a container name must be specified for pod two, choose one of"):
        [line async for line in client.pods.logs("two", namespace)]
    out, code = await client.pods.exec("two", ["sh", "-c", "exit 4"], namespace, container="nginx-container")
    assert code == 4


async def _running_containers(client: Client, ns: str, name: str, n: int) -> bool:
    p = await client.pods.get(name, ns)
    return sum(1 for s in p.status.container_statuses if s.state.HasField("running")) == n


async def test_image_pull_failure(client: Client, node: KubeletProcess, namespace: str) -> None:
    pod = pod_manifest("pullfail", namespace, node.node, [{"name": "c", "image": "example.com/missing:1"}])
    pod.metadata.annotations["sim.kubemu.io/image-pull-error"] = "example.com/missing:1"
    await client.pods.create(pod)
    seen: set[str] = set()

    async def reasons() -> bool:
        p = await client.pods.get("pullfail", namespace)
        for s in p.status.container_statuses:
            seen.add(s.state.waiting.reason)
        return {"ErrImagePull", "ImagePullBackOff"} <= seen

    await until(reasons, 20, interval=0.02, describe=lambda: seen)
    p = await client.pods.get("pullfail", namespace)
    assert p.status.phase == "Pending"


async def test_deletion_runs_termination_then_confirms(client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod_manifest("bye", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]))
    await until(lambda: _running_containers(client, namespace, "bye", 1), 20)
    deleting = await client.pods.delete("bye", namespace)
    assert deleting.metadata.HasField("deletion_timestamp")

    async def gone() -> bool:
        try:
            await client.pods.get("bye", namespace)
        except errors.NotFound:
            return True
        return False

    await until(gone, 20)
    await until(lambda: has_event(client, "bye", lambda e: e.reason == "Killing"
                                  and e.message == "Stopping container c", namespace), 10)


# ---- static pods ---------------------------------------------------------------------------------

STATIC = """\
apiVersion: v1
kind: Pod
metadata:
  name: static-web
  labels:
    role: myrole
spec:
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
"""


async def test_static_pod_and_its_mirror(client: Client, node: KubeletProcess) -> None:
    mirror_name = f"static-web-{node.node}"
    (node.static_dir / "web.yaml").write_text(STATIC)

    async def mirror() -> core_pb2.Pod | None:
        try:
            p = await client.pods.get(mirror_name, "default")
        except errors.NotFound:
            return None
        return p if p.status.phase == "Running" else None

    m = await until(mirror, 20, describe=node.logs)
    ann = m.metadata.annotations
    assert ann["kubernetes.io/config.source"] == "file"
    assert ann["kubernetes.io/config.mirror"] == ann["kubernetes.io/config.hash"]
    ref = m.metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.controller) == ("Node", node.node, True)
    assert any(t.operator == "Exists" and t.effect == "NoExecute" for t in m.spec.tolerations)

    # Deleting the mirror through the API does not stop the static pod: the kubelet re-creates the mirror.
    await client.pods.delete(mirror_name, "default", grace_period_seconds=0)
    again = await until(mirror, 20)
    assert again.metadata.uid != m.metadata.uid

    # A changed file replaces the pod; a removed file stops it and its mirror goes.
    (node.static_dir / "web.yaml").write_text(STATIC.replace("image: nginx", "image: nginx:1.27"))
    await until(lambda: _mirror_image(client, mirror_name, "nginx:1.27"), 20)
    (node.static_dir / "web.yaml").unlink()

    async def no_mirror() -> bool:
        try:
            await client.pods.get(mirror_name, "default")
        except errors.NotFound:
            return True
        return False

    await until(no_mirror, 20)


async def _mirror_image(client: Client, name: str, image: str) -> bool:
    try:
        p = await client.pods.get(name, "default")
    except errors.NotFound:
        return False
    return p.spec.containers[0].image == image and p.status.phase == "Running"


# ---- kubelet restart -----------------------------------------------------------------------------


async def test_restarted_kubelet_restarts_its_pods_and_mirrors(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    (node.static_dir / "web.yaml").write_text(STATIC)
    await client.pods.create(pod_manifest("survivor", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]))
    await until(lambda: _running_containers(client, namespace, "survivor", 1), 20)
    mirror_name = f"static-web-{node.node}"
    await until(lambda: _mirror_image(client, mirror_name, "nginx"), 20)

    node.kill()  # SIGKILL: no goodbye
    await client.pods.delete(mirror_name, "default", grace_period_seconds=0)
    await client.pods.create(pod_manifest("doomed", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]))
    await client.pods.delete("doomed", namespace)  # deleted while the node was down: must never run
    node.start()

    async def restarted() -> bool:
        p = await client.pods.get("survivor", namespace)
        st = p.status.container_statuses
        return bool(st) and st[0].restart_count == 1 and st[0].state.HasField("running")

    await until(restarted, 30, describe=node.logs)
    await until(lambda: _mirror_image(client, mirror_name, "nginx"), 20)

    async def doomed_gone() -> bool:
        try:
            await client.pods.get("doomed", namespace)
        except errors.NotFound:
            return True
        return False

    await until(doomed_gone, 20)
    assert '"pod.admitted"' not in "\n".join(
        line for line in node.logs().splitlines() if "doomed" in line
    )


# ---- termination grace, memory -------------------------------------------------------------------


async def test_grace_period_then_kill_at_the_deadline(client: Client, node: KubeletProcess, namespace: str) -> None:
    pod = pod_manifest("slowstop", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}], terminationGracePeriodSeconds=1)
    pod.metadata.annotations["sim.kubemu.io/termination-delay"] = "30s"  # would take longer than the grace
    await client.pods.create(pod)
    await until(lambda: _running_containers(client, namespace, "slowstop", 1), 20)
    w = Watcher(client, namespace, "slowstop")
    try:
        await client.pods.delete("slowstop", namespace)
        await until(lambda: w.last is not None and w.last.status.container_statuses[0].state.HasField("terminated"),
                    20)
        assert w.last is not None
        st = w.last.status.container_statuses[0].state.terminated
        assert st.exit_code == 137  # SIGKILL at the deadline
        assert "Terminating" in w.statuses()
    finally:
        await w.close()


async def test_oom_kill_past_the_memory_limit(client: Client, node: KubeletProcess, namespace: str) -> None:
    pod = pod_manifest("hog", namespace, node.node, [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"],
         "resources": {"limits": {"memory": "100Mi"}}}])
    pod.metadata.annotations["sim.kubemu.io/memory"] = "c=50Mi+100Mi/s"
    await client.pods.create(pod)

    async def oom() -> core_pb2.Pod | None:
        p = await client.pods.get("hog", namespace)
        st = p.status.container_statuses
        return p if st and st[0].last_state.terminated.reason == "OOMKilled" else None

    p = await until(oom, 20)
    st = container(p, "c")
    assert st.last_state.terminated.exit_code == 137 and st.restart_count >= 1


async def test_memory_pressure_evicts_besteffort_first(
    client: Client, apiserver: ApiServer, fast_config: Path, namespace: str
) -> None:
    k = KubeletProcess(apiserver.address, unique("small"), config=fast_config, extra=["--memory", "1Gi"]).start()
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        guaranteed = pod_manifest("guaranteed", namespace, k.node, [
            {"name": "c", "image": "busybox", "command": ["sleep", "3600"],
             "resources": {"requests": {"memory": "300Mi", "cpu": "100m"},
                           "limits": {"memory": "400Mi", "cpu": "100m"}}}])
        guaranteed.metadata.annotations["sim.kubemu.io/memory"] = "300Mi"
        await client.pods.create(guaranteed)
        await until(lambda: _running_containers(client, namespace, "guaranteed", 1), 20)
        hog = pod_manifest("besteffort", namespace, k.node, [
            {"name": "c", "image": "busybox", "command": ["sleep", "3600"]}])
        hog.metadata.annotations["sim.kubemu.io/memory"] = "700Mi"
        await client.pods.create(hog)

        p = await until(lambda: _phase_is(client, namespace, "besteffort", "Failed"), 20, describe=k.logs)
        assert p.status.reason == "Evicted"
        assert p.status.message.startswith("The node was low on resource: memory.")
        g = await client.pods.get("guaranteed", namespace)
        assert g.status.phase == "Running"

        async def pressure() -> bool:
            n = await client.nodes.get(k.node)
            return any(c.type == "MemoryPressure" and c.status == "True" for c in n.status.conditions)

        await until(pressure, 20)
    finally:
        k.cleanup()
        await client.nodes.delete(k.node)


async def test_logs_tail_and_follow(client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod_manifest("counter", namespace, node.node, [
        {"name": "c", "image": "busybox",
         "command": ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.5; echo late; sleep 3600"]}]))
    await until(lambda: _running_containers(client, namespace, "counter", 1), 20)
    await until(lambda: _log_has(client, namespace, "counter", "line 5"), 10)
    tail = [line async for line in client.pods.logs("counter", namespace, tail_lines=2)]
    assert tail[-2:] == ["line 4", "line 5"] or tail == ["line 5", "late"]
    followed: list[str] = []

    async def follow() -> None:
        async for line in client.pods.logs("counter", namespace, follow=True):
            followed.append(line)
            if line == "late":
                return

    await asyncio.wait_for(follow(), 10)
    assert followed[:5] == [f"line {i}" for i in range(1, 6)] and followed[-1] == "late"


async def _log_has(client: Client, ns: str, name: str, text: str) -> bool:
    return text in [line async for line in client.pods.logs(name, ns)]


LIVENESS_EXEC = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox:1.27.2
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""


async def test_documentation_liveness_example_on_real_seconds(
    client: Client, apiserver: ApiServer, namespace: str
) -> None:
    """The docs' exec liveness pod, on the default (upstream) timings: restarted about 35-40 s after start."""
    import yaml

    k = KubeletProcess(apiserver.address, unique("real")).start()  # no config: upstream timings
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        body = yaml.safe_load(LIVENESS_EXEC)
        body["metadata"]["namespace"] = namespace
        body["spec"]["nodeName"] = k.node
        await client.pods.create(from_dict(body))

        async def started() -> float:
            p = await client.pods.get("liveness-exec", namespace)
            st = p.status.container_statuses
            return time_value(st[0].state.running.started_at) if st and st[0].state.HasField("running") else 0.0

        t0 = await until(started, 20)

        async def restarted() -> core_pb2.Pod | None:
            p = await client.pods.get("liveness-exec", namespace)
            st = p.status.container_statuses
            return p if st and st[0].restart_count == 1 else None

        p = await until(restarted, 70, interval=0.5)
        first = container(p, "liveness").last_state.terminated
        ran_for = time_value(first.finished_at) - t0
        assert 33 <= ran_for <= 47, ran_for  # healthy 30 s, then three failed probes 5 s apart
    finally:
        k.cleanup()
        await client.nodes.delete(k.node)


async def test_crash_after_and_ready_after_annotations(client: Client, node: KubeletProcess, namespace: str) -> None:
    pod = pod_manifest("faulty", namespace, node.node, [
        {"name": "crashy", "image": "nginx"},
        {"name": "slow", "image": "nginx", "ports": [{"containerPort": 80}],
         "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}])
    pod.metadata.annotations["sim.kubemu.io/crash-after"] = "crashy=1s:3"
    pod.metadata.annotations["sim.kubemu.io/ready-after"] = "slow=2s"
    await client.pods.create(pod)

    async def slow_state() -> tuple[bool, bool] | None:
        p = await client.pods.get("faulty", namespace)
        st = {s.name: s for s in p.status.container_statuses}
        if "slow" not in st or not st["slow"].state.HasField("running"):
            return None
        return (st["slow"].ready, True)

    first = await until(slow_state, 20)
    assert first == (False, True)  # running, but not ready before its warm-up is over
    await until(lambda: _container_ready(client, namespace, "faulty", "slow"), 20)

    async def crashed() -> core_pb2.Pod | None:
        p = await client.pods.get("faulty", namespace)
        st = {s.name: s for s in p.status.container_statuses}
        return p if st["crashy"].last_state.terminated.exit_code == 3 else None

    p = await until(crashed, 20)
    assert container(p, "crashy").restart_count >= 1


async def _container_ready(client: Client, ns: str, name: str, c: str) -> bool:
    p = await client.pods.get(name, ns)
    return any(s.name == c and s.ready for s in p.status.container_statuses)


async def test_native_sidecar_starts_first_and_keeps_running(
    client: Client, node: KubeletProcess, namespace: str
) -> None:
    await client.pods.create(pod_manifest("withsidecar", namespace, node.node, [
        {"name": "app", "image": "busybox", "command": ["sh", "-c", "echo app; sleep 3600"]}],
        initContainers=[
            {"name": "logshipper", "image": "busybox", "restartPolicy": "Always",
             "command": ["sh", "-c", "while true; do sleep 1; done"]},
            {"name": "migrate", "image": "busybox", "command": ["sh", "-c", "echo migrated"]}]))
    p = await until(lambda: _phase_is(client, namespace, "withsidecar", "Running"), 20)
    await until(lambda: _container_ready(client, namespace, "withsidecar", "app"), 20)
    p = await client.pods.get("withsidecar", namespace)
    side = container(p, "logshipper")
    assert side.state.HasField("running") and side.started and side.ready
    mig = container(p, "migrate")
    assert mig.state.terminated.reason == "Completed"
    assert time_value(side.state.running.started_at) <= time_value(mig.state.terminated.started_at)
    assert pod_status(p) == "Running"


async def test_static_pods_keep_running_while_the_apiserver_is_down(
    client: Client, redis_server: Any, fast_config: Path
) -> None:
    own = ApiServer(redis_server.url, config=fast_config).start()
    k = KubeletProcess(own.address, unique("island"), config=fast_config).start()
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        (k.static_dir / "web.yaml").write_text(STATIC)
        name = f"static-web-{k.node}"
        await until(lambda: _mirror_image(client, name, "nginx"), 20, describe=k.logs)
        before = container(await client.pods.get(name, "default"), "web")

        own.kill()
        (k.static_dir / "late.yaml").write_text(STATIC.replace("name: static-web", "name: late"))
        assert k.proc is not None and k.proc.poll() is None  # the kubelet carries on alone

        def late_started() -> bool:
            return any('"static_pod.started"' in line and f"late-{k.node}" in line for line in k.logs().splitlines())

        await until(late_started, 10, describe=k.logs)  # a new manifest starts with no apiserver at all
        own.start()

        await until(lambda: _mirror_image(client, f"late-{k.node}", "nginx"), 30, describe=k.logs)
        after = container(await client.pods.get(name, "default"), "web")
        assert after.restart_count == 0 and after.state.running.started_at == before.state.running.started_at
    finally:
        k.cleanup()
        own.stop()
        for pod in (f"static-web-{k.node}", f"late-{k.node}"):
            try:
                await client.pods.delete(pod, "default", grace_period_seconds=0)
            except errors.NotFound:
                pass
        await client.nodes.delete(k.node)
