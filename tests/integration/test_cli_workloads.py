"""The workload verbs of `kubemu` (create deployment, scale, set image, rollout, drain, wait) run as a user runs
them against a real apiserver with no controllers, checked against kubectl's output."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import apps_pb2, core_pb2
from tests.support import ApiServer, run_cli, until

pytestmark = pytest.mark.integration


async def cli(apiserver: ApiServer, *args: str) -> Any:
    """The CLI in a thread, so the test can act as a controller or kubelet while it runs."""
    return await asyncio.to_thread(run_cli, *args, server=apiserver.address)


def deployment_json(apiserver: ApiServer, ns: str, name: str) -> dict[str, Any]:
    r = run_cli("get", "deployment", name, "-n", ns, "-o", "json", server=apiserver.address)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


async def test_create_deployment(apiserver: ApiServer, namespace: str) -> None:
    r = await cli(apiserver, "create", "deployment", "web", "--image=nginx:1.27", "--image=registry.io/x/side:2",
                  "--replicas=3", "--port=80", "-n", namespace)
    assert (r.returncode, r.stdout, r.stderr) == (0, "deployment.apps/web created\n", "")
    d = deployment_json(apiserver, namespace, "web")
    assert d["metadata"]["labels"] == {"app": "web"}
    assert d["spec"]["replicas"] == 3
    assert d["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    tpl = d["spec"]["template"]
    assert tpl["metadata"]["labels"] == {"app": "web"}
    assert [(c["name"], c["image"]) for c in tpl["spec"]["containers"]] == [("nginx", "nginx:1.27"),
                                                                          ("side", "registry.io/x/side:2")]
    assert tpl["spec"]["containers"][0]["ports"][0]["containerPort"] == 80

    r = await cli(apiserver, "create", "deployment", "web", "--image=nginx", "-n", namespace)
    assert r.returncode == 1
    assert r.stderr == 'error: failed to create deployment: deployments.apps "web" already exists\n'

    r = await cli(apiserver, "create", "deployment", "cmd", "--image=busybox", "-n", namespace, "--",
                  "sleep", "3600")
    assert r.returncode == 0, r.stderr
    c = deployment_json(apiserver, namespace, "cmd")["spec"]["template"]["spec"]["containers"][0]
    assert (c["name"], c["command"]) == ("busybox", ["sleep", "3600"])

    r = await cli(apiserver, "create", "deployment", "x", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, 'error: required flag(s) "image" not set\n')


async def test_scale_and_set_image(apiserver: ApiServer, namespace: str) -> None:
    assert (await cli(apiserver, "create", "deployment", "web", "--image=nginx:1.26", "-n", namespace)).returncode == 0
    r = await cli(apiserver, "scale", "deployment/web", "--replicas=4", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web scaled\n")
    r = await cli(apiserver, "scale", "deployment", "web", "--replicas=2", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web scaled\n")
    assert deployment_json(apiserver, namespace, "web")["spec"]["replicas"] == 2
    r = await cli(apiserver, "scale", "deploy/web", "--replicas=5", "--current-replicas=3", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, "error: Expected replicas to be 3, was 2\n")
    r = await cli(apiserver, "scale", "deployment/nope", "--replicas=1", "-n", namespace)
    assert r.returncode == 1
    assert r.stderr == 'Error from server (NotFound): deployments.apps "nope" not found\n'

    r = await cli(apiserver, "set", "image", "deployment/web", "nginx=nginx:1.27", "-n", namespace)
    assert (r.returncode, r.stdout, r.stderr) == (0, "deployment.apps/web image updated\n", "")
    tpl = deployment_json(apiserver, namespace, "web")["spec"]["template"]
    assert tpl["spec"]["containers"][0]["image"] == "nginx:1.27"
    r = await cli(apiserver, "set", "image", "deployment/web", "nope=busybox", "-n", namespace)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", 'error: unable to find container named "nope"\n')


async def test_rollout_pause_resume_restart(apiserver: ApiServer, namespace: str) -> None:
    assert (await cli(apiserver, "create", "deployment", "web", "--image=nginx", "-n", namespace)).returncode == 0
    r = await cli(apiserver, "rollout", "pause", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web paused\n")
    assert deployment_json(apiserver, namespace, "web")["spec"]["paused"] is True
    r = await cli(apiserver, "rollout", "pause", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, 'error: deployments.apps "web" is already paused\n')
    r = await cli(apiserver, "rollout", "restart", "deployment/web", "-n", namespace)
    assert r.returncode == 1
    assert r.stderr == ('error: deployments.apps "web" can\'t restart paused deployment (run rollout resume '
                        "first)\n")
    r = await cli(apiserver, "rollout", "resume", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web resumed\n")
    r = await cli(apiserver, "rollout", "resume", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, 'error: deployments.apps "web" is not paused\n')
    r = await cli(apiserver, "rollout", "restart", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web restarted\n")
    annotations = deployment_json(apiserver, namespace, "web")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations


async def _owned_rs(client: Client, d: apps_pb2.Deployment, revision: int, image: str, cause: str = "") -> None:
    """A ReplicaSet as the deployment controller would leave it for one revision."""
    h = f"h{revision}abc"
    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = f"{d.metadata.name}-{h}"
    rs.metadata.namespace = d.metadata.namespace
    rs.metadata.labels.update({"app": d.metadata.name, "pod-template-hash": h})
    rs.metadata.annotations["deployment.kubernetes.io/revision"] = str(revision)
    if cause:
        rs.metadata.annotations["kubernetes.io/change-cause"] = cause
    rs.metadata.owner_references.add(api_version="apps/v1", kind="Deployment", name=d.metadata.name,
                                      uid=d.metadata.uid, controller=True, block_owner_deletion=True)
    rs.spec.replicas = 0
    rs.spec.selector.match_labels.update({"app": d.metadata.name, "pod-template-hash": h})
    rs.spec.template.CopyFrom(d.spec.template)
    rs.spec.template.metadata.labels["pod-template-hash"] = h
    rs.spec.template.spec.containers[0].image = image
    await client.replica_sets.create(rs)


async def test_rollout_history_and_undo(apiserver: ApiServer, client: Client, namespace: str) -> None:
    assert (await cli(apiserver, "create", "deployment", "web", "--image=nginx:1.27", "-n", namespace)).returncode == 0
    r = await cli(apiserver, "rollout", "history", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web \nNo rollout history found.\n")
    d = await client.deployments.get("web", namespace)
    await _owned_rs(client, d, 1, "nginx:1.25", cause="first")
    await _owned_rs(client, d, 2, "nginx:1.26")
    await _owned_rs(client, d, 3, "nginx:1.27")
    r = await cli(apiserver, "rollout", "history", "deployment/web", "-n", namespace)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         first\n2         <none>\n"
                        "3         <none>\n\n")
    r = await cli(apiserver, "rollout", "history", "deployment/web", "--revision=2", "-n", namespace)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("deployment.apps/web with revision #2\nPod Template:\n")
    assert re.search(r"\n    Image: +nginx:1\.26\n", r.stdout), r.stdout

    r = await cli(apiserver, "rollout", "undo", "deployment/web", "--to-revision=3", "-n", namespace)
    assert (r.returncode, r.stdout) == (
        0, "deployment.apps/web skipped rollback (current template already matches revision 3)\n")
    r = await cli(apiserver, "rollout", "undo", "deployment/web", "-n", namespace)
    assert (r.returncode, r.stdout, r.stderr) == (0, "deployment.apps/web rolled back\n", "")
    tpl = deployment_json(apiserver, namespace, "web")["spec"]["template"]
    assert tpl["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert tpl["metadata"]["labels"] == {"app": "web"}
    r = await cli(apiserver, "rollout", "undo", "deployment/web", "--to-revision=1", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/web rolled back\n")
    got = deployment_json(apiserver, namespace, "web")
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert got["metadata"]["annotations"]["kubernetes.io/change-cause"] == "first"
    r = await cli(apiserver, "rollout", "undo", "deployment/web", "--to-revision=9", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, "error: unable to find specified revision 9 in history\n")


async def test_rollout_status_follows_the_deployment(apiserver: ApiServer, client: Client, namespace: str) -> None:
    assert (await cli(apiserver, "create", "deployment", "web", "--image=nginx", "--replicas=3",
                      "-n", namespace)).returncode == 0
    async def report(updated: int, replicas: int, available: int) -> None:
        d = await client.deployments.get("web", namespace)
        d.status.observed_generation = d.metadata.generation
        d.status.updated_replicas = updated
        d.status.replicas = replicas
        d.status.available_replicas = available
        d.status.ready_replicas = available
        await client.deployments.update_status(d)

    prefix = 'Waiting for deployment "web" rollout to finish: '
    for step, line in (((2, 3, 1), "2 out of 3 new replicas have been updated..."),
                       ((3, 4, 2), "1 old replicas are pending termination..."),
                       ((3, 3, 2), "2 of 3 updated replicas are available...")):
        await report(*step)
        r = await cli(apiserver, "rollout", "status", "deployment/web", "--watch=false", "-n", namespace)
        assert (r.returncode, r.stdout, r.stderr) == (0, prefix + line + "\n", "")

    # Watching: whenever the last state lands, before or after the watch starts, the rollout is seen to finish.
    status = asyncio.create_task(cli(apiserver, "rollout", "status", "deployment/web", "--timeout=20s",
                                     "-n", namespace))
    await report(3, 3, 3)
    r = await status
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == 'deployment "web" successfully rolled out'

    d = await client.deployments.get("web", namespace)
    d.spec.replicas = 5
    await client.deployments.update(d)
    r = await cli(apiserver, "rollout", "status", "deployment/web", "--timeout=1s", "-n", namespace)
    assert r.returncode == 1
    assert r.stdout == "Waiting for deployment spec update to be observed...\n"
    assert r.stderr == "error: timed out waiting for the condition\n"


def _pod(name: str, ns: str, node: str, **meta: Any) -> core_pb2.Pod:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, **meta},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]}}
    return from_dict(body)  # type: ignore[no-any-return]


async def _drain_fixture(client: Client, ns: str, node: str) -> None:
    cap = {"cpu": "2", "memory": "4Gi", "pods": "110"}
    await client.nodes.create(from_dict({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}},
        "status": {"capacity": cap, "allocatable": cap, "conditions": [{"type": "Ready", "status": "True"}]}}))
    ds = from_dict({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds", "namespace": ns},
                    "spec": {"selector": {"matchLabels": {"app": "ds"}},
                             "template": {"metadata": {"labels": {"app": "ds"}},
                                          "spec": {"containers": [{"name": "c", "image": "agent"}]}}}})
    ds = await client.daemon_sets.create(ds)
    rs = from_dict({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": ns},
                    "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    rs = await client.replica_sets.create(rs)

    def owner(kind: str, obj: Any) -> list[dict[str, Any]]:
        return [{"apiVersion": "apps/v1", "kind": kind, "name": obj.metadata.name, "uid": obj.metadata.uid,
                 "controller": True}]

    await client.pods.create(_pod("mirror", ns, node, annotations={"kubernetes.io/config.mirror": "x"}))
    await client.pods.create(_pod("ds-x", ns, node, ownerReferences=owner("DaemonSet", ds)))
    await client.pods.create(_pod("web-abc", ns, node, ownerReferences=owner("ReplicaSet", rs)))
    await client.pods.create(_pod("bare", ns, node))


async def _pod_names(client: Client, ns: str) -> list[str]:
    return sorted(p.metadata.name for p in (await client.pods.list(ns)).items)


async def test_drain(apiserver: ApiServer, client: Client, namespace: str) -> None:
    node = f"{namespace}-n"
    await _drain_fixture(client, namespace, node)

    r = await cli(apiserver, "drain", node)
    assert r.returncode == 1
    assert r.stdout == f"node/{node} cordoned\n"
    ds_err = f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {namespace}/ds-x"
    bare_err = f"cannot delete Pods declare no controller (use --force to override): {namespace}/bare"
    assert r.stderr == (f'error: unable to drain node "{node}" due to error:[{ds_err}, {bare_err}], continuing '
                        f"command...\nThere are pending nodes to be drained:\n {node}\n{ds_err}\n{bare_err}\n")
    assert (await client.nodes.get(node)).spec.unschedulable

    r = await cli(apiserver, "drain", node, "--ignore-daemonsets")
    assert r.returncode == 1
    assert r.stdout == f"node/{node} already cordoned\n"
    assert r.stderr == (f'error: unable to drain node "{node}" due to error:{bare_err}, continuing command...\n'
                        f"There are pending nodes to be drained:\n {node}\n{bare_err}\n")
    assert await _pod_names(client, namespace) == ["bare", "ds-x", "mirror", "web-abc"]

    # Bound pods are deleted gracefully and wait for their kubelet: the test confirms each deletion as one would.
    drain = asyncio.create_task(cli(apiserver, "drain", node, "--ignore-daemonsets", "--force", "--timeout=20s"))

    async def kubelet_confirms() -> bool:
        for p in (await client.pods.list(namespace)).items:
            if p.metadata.HasField("deletion_timestamp"):
                await client.pods.delete(p.metadata.name, namespace, grace_period_seconds=0)
        return await _pod_names(client, namespace) == ["ds-x", "mirror"]

    await until(kubelet_confirms, timeout=20)
    r = await drain
    assert r.returncode == 0, r.stderr
    assert r.stderr == (f"Warning: ignoring DaemonSet-managed Pods: {namespace}/ds-x; deleting Pods that declare "
                        f"no controller: {namespace}/bare\n")
    lines = r.stdout.splitlines()
    assert lines[0] == f"node/{node} already cordoned"
    assert lines[-1] == f"node/{node} drained"
    assert sorted(lines[1:-1]) == sorted([f"evicting pod {namespace}/bare", f"evicting pod {namespace}/web-abc",
                                          "pod/bare evicted", "pod/web-abc evicted"])


async def test_drain_timeout_and_grace_period(apiserver: ApiServer, client: Client, namespace: str) -> None:
    node = f"{namespace}-n"
    await _drain_fixture(client, namespace, node)
    r = await cli(apiserver, "drain", node, "--ignore-daemonsets", "--force", "--timeout=1s")
    assert r.returncode == 1
    assert "There are pending pods in node" in r.stderr
    assert r.stderr.endswith(f'error: unable to drain node "{node}" due to error:drain did not complete within 1s, '
                             f"continuing command...\nThere are pending nodes to be drained:\n {node}\n"
                             "error: drain did not complete within 1s\n")
    r = await cli(apiserver, "drain", node, "--ignore-daemonsets", "--force", "--grace-period=0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == f"node/{node} drained"
    assert await _pod_names(client, namespace) == ["ds-x", "mirror"]


async def test_wait(apiserver: ApiServer, client: Client, namespace: str) -> None:
    await client.pods.create(_pod("web", namespace, ""))
    waiting = asyncio.create_task(cli(apiserver, "wait", "--for=condition=Ready", "pod/web", "--timeout=20s",
                                      "-n", namespace))
    pod = await client.pods.get("web", namespace)
    pod.status.conditions.add(type="Ready", status="True")
    await client.pods.update_status(pod)
    r = await waiting
    assert (r.returncode, r.stdout, r.stderr) == (0, "pod/web condition met\n", "")

    r = await cli(apiserver, "wait", "--for=condition=Ready=false", "pod/web", "--timeout=1s", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, "error: timed out waiting for the condition on pods/web\n")
    r = await cli(apiserver, "wait", "--for=condition=Ready", "pod/nope", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')

    assert (await cli(apiserver, "create", "deployment", "d", "--image=nginx", "-n", namespace)).returncode == 0
    d = await client.deployments.get("d", namespace)
    d.status.observed_generation = d.metadata.generation
    d.status.conditions.add(type="Available", status="True", reason="MinimumReplicasAvailable")
    await client.deployments.update_status(d)
    r = await cli(apiserver, "wait", "--for=condition=available", "deployment/d", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "deployment.apps/d condition met\n")

    # A finalizer keeps the deleted pod (Terminating) until the test, as its controller, lets it go.
    pod = await client.pods.get("web", namespace)
    pod.metadata.finalizers.append("test.kubemu.io/hold")
    await client.pods.update(pod)
    await client.pods.delete("web", namespace, grace_period_seconds=0)
    r = await cli(apiserver, "wait", "--for=delete", "pod/web", "--timeout=1s", "-n", namespace)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "error: timed out waiting for the condition on pods/web\n")
    waiting = asyncio.create_task(cli(apiserver, "wait", "--for=delete", "pod/web", "--timeout=20s",
                                      "-n", namespace))
    pod = await client.pods.get("web", namespace)
    del pod.metadata.finalizers[:]
    await client.pods.update(pod)
    r = await waiting
    # kubectl prints the met condition when the pod was there to wait for, and nothing when it was already gone.
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout in ("pod/web condition met\n", "")
    with pytest.raises(errors.NotFound):
        await client.pods.get("web", namespace)
    r = await cli(apiserver, "wait", "--for=delete", "pod/web", "-n", namespace)
    assert (r.returncode, r.stdout) == (0, "")
    r = await cli(apiserver, "wait", "--for=ready", "pod/web", "-n", namespace)
    assert (r.returncode, r.stderr) == (1, 'error: unrecognized condition: "ready"\n')
