"""The official Python client (the `kubernetes` package from PyPI) against kubemu's REST API: the typed CoreV1Api and
AppsV1Api verbs, and `watch.Watch().stream` resumed from a resourceVersion across an apiserver restart and relisting
after a 410, as its users write them.

The client is synchronous (urllib3); each test drives it from the test's own thread, watches from a second one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ApiServer, RedisContainer, RedisServer, free_port, fresh_database, unique

kubernetes = pytest.importorskip("kubernetes", reason="no kubernetes client: install the test extras")
from kubernetes import client as k8s  # noqa: E402
from kubernetes import watch as k8s_watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.config import new_client_from_config  # noqa: E402
from urllib3.exceptions import HTTPError  # noqa: E402

pytestmark = pytest.mark.integration


def api_client(server: ApiServer, folder: Path) -> k8s.ApiClient:
    """A client configured the way its users configure it: from a kubeconfig (server, CA, bearer token)."""
    assert server.rest is not None
    config = server.rest.kubeconfig(server.rest_url, folder / f"kubeconfig-{server.port}")
    return new_client_from_config(config_file=str(config))


def meta(name: str, **labels: str) -> k8s.V1ObjectMeta:
    return k8s.V1ObjectMeta(name=name, labels=labels or None)


def pod(name: str, **labels: str) -> k8s.V1Pod:
    return k8s.V1Pod(metadata=meta(name, **labels),
                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx")]))


def deployment(name: str, replicas: int = 1) -> k8s.V1Deployment:
    labels = {"app": name}
    template = k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels=labels),
                                     spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx:1")]))
    return k8s.V1Deployment(metadata=meta(name), spec=k8s.V1DeploymentSpec(
        replicas=replicas, selector=k8s.V1LabelSelector(match_labels=labels), template=template))


def new_namespace(v1: k8s.CoreV1Api, prefix: str = "py") -> str:
    name = unique(prefix)
    v1.create_namespace(k8s.V1Namespace(metadata=meta(name)))
    return name


@pytest.fixture
def session_client(apiserver: ApiServer, tmp_path: Path) -> Iterator[k8s.ApiClient]:
    c = api_client(apiserver, tmp_path)
    yield c
    c.close()


# ---- the typed verbs ----------------------------------------------------------------------------------------------


def test_core_v1_pods(session_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(session_client)
    ns = new_namespace(v1)
    created = v1.create_namespaced_pod(ns, pod("web", app="web"))
    assert isinstance(created, k8s.V1Pod) and created.metadata.uid and created.metadata.namespace == ns
    assert created.spec.restart_policy == "Always"  # defaulted by the apiserver, read back into the model
    v1.create_namespaced_pod(ns, pod("db", app="db"))
    with pytest.raises(ApiException) as exists:
        v1.create_namespaced_pod(ns, pod("web"))
    assert exists.value.status == 409

    listed = v1.list_namespaced_pod(ns)
    assert isinstance(listed, k8s.V1PodList) and sorted(p.metadata.name for p in listed.items) == ["db", "web"]
    assert listed.metadata.resource_version
    assert [p.metadata.name for p in v1.list_namespaced_pod(ns, label_selector="app=web").items] == ["web"]
    assert [p.metadata.name for p in v1.list_namespaced_pod(ns, field_selector="metadata.name=db").items] == ["db"]
    page = v1.list_namespaced_pod(ns, limit=1)
    assert len(page.items) == 1 and page.metadata._continue
    rest = v1.list_namespaced_pod(ns, limit=1, _continue=page.metadata._continue)
    assert {page.items[0].metadata.name, rest.items[0].metadata.name} == {"db", "web"}
    assert ns in {p.metadata.namespace for p in v1.list_pod_for_all_namespaces(label_selector="app=web").items}

    read = v1.read_namespaced_pod("web", ns)
    assert read.metadata.uid == created.metadata.uid

    # A dict body goes as a strategic merge patch, a list as a JSON patch (the client picks the content type).
    patched = v1.patch_namespaced_pod("web", ns, {"metadata": {"labels": {"tier": "front"}}})
    assert patched.metadata.labels == {"app": "web", "tier": "front"}
    patched = v1.patch_namespaced_pod("web", ns, [{"op": "add", "path": "/metadata/annotations",
                                                   "value": {"note": "json-patch"}}])
    assert patched.metadata.annotations == {"note": "json-patch"}

    read = v1.read_namespaced_pod("web", ns)
    read.metadata.labels["tier"] = "back"
    replaced = v1.replace_namespaced_pod("web", ns, read)
    assert replaced.metadata.labels["tier"] == "back"
    assert int(replaced.metadata.resource_version) > int(read.metadata.resource_version)
    read.metadata.labels["tier"] = "stale"
    with pytest.raises(ApiException) as conflict:  # the resourceVersion it carries is no longer current
        v1.replace_namespaced_pod("web", ns, read)
    assert conflict.value.status == 409

    v1.delete_namespaced_pod("web", ns, grace_period_seconds=0)
    with pytest.raises(ApiException) as gone:
        v1.read_namespaced_pod("web", ns)
    assert gone.value.status == 404
    assert [p.metadata.name for p in v1.list_namespaced_pod(ns).items] == ["db"]


def test_apps_v1_deployments(session_client: k8s.ApiClient) -> None:
    v1 = k8s.CoreV1Api(session_client)
    apps = k8s.AppsV1Api(session_client)
    ns = new_namespace(v1)
    created = apps.create_namespaced_deployment(ns, deployment("web", replicas=2))
    assert isinstance(created, k8s.V1Deployment) and created.metadata.generation == 1
    assert created.spec.strategy.type == "RollingUpdate"  # defaulted
    apps.create_namespaced_deployment(ns, deployment("api"))

    listed = apps.list_namespaced_deployment(ns)
    assert sorted(d.metadata.name for d in listed.items) == ["api", "web"]
    assert ns in {d.metadata.namespace for d in apps.list_deployment_for_all_namespaces().items}
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 2

    patched = apps.patch_namespaced_deployment("web", ns, {"spec": {"replicas": 3}})
    assert patched.spec.replicas == 3 and patched.metadata.generation == 2
    # The container list merges on its key (name): only the image changes.
    patched = apps.patch_namespaced_deployment(
        "web", ns, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:2"}]}}}})
    assert [(c.name, c.image) for c in patched.spec.template.spec.containers] == [("c", "nginx:2")]
    scale = apps.read_namespaced_deployment_scale("web", ns)
    assert isinstance(scale, k8s.V1Scale) and scale.spec.replicas == 3
    scale = apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 1}})
    assert scale.spec.replicas == 1

    current = apps.read_namespaced_deployment("web", ns)
    current.spec.template.metadata.annotations = {"restartedAt": "now"}
    replaced = apps.replace_namespaced_deployment("web", ns, current)
    assert replaced.spec.template.metadata.annotations == {"restartedAt": "now"}
    assert replaced.metadata.generation == current.metadata.generation + 1

    status = apps.delete_namespaced_deployment("web", ns, propagation_policy="Background")
    assert status is not None
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment("web", ns)
    assert gone.value.status == 404
    assert [d.metadata.name for d in apps.list_namespaced_deployment(ns).items] == ["api"]


def test_statuses_with_zero_required_fields_read_back(session_client: k8s.ApiClient) -> None:
    """The client's models refuse an object without a required field (ContainerStatus.restartCount, ready, imageID;
    ReplicaSetStatus.replicas): kubemu writes them even when zero, as Go's encoder does."""
    v1 = k8s.CoreV1Api(session_client)
    apps = k8s.AppsV1Api(session_client)
    ns = new_namespace(v1)
    v1.create_namespaced_pod(ns, pod("p"))
    v1.patch_namespaced_pod_status("p", ns, {"status": {"containerStatuses": [
        {"name": "c", "image": "nginx", "imageID": "", "ready": False, "restartCount": 0}]}})
    status = v1.read_namespaced_pod_status("p", ns).status.container_statuses[0]
    assert (status.ready, status.restart_count, status.image_id) == (False, 0, "")
    assert v1.list_namespaced_pod(ns).items[0].status.container_statuses[0].restart_count == 0

    labels = {"app": "rs"}
    apps.create_namespaced_replica_set(ns, k8s.V1ReplicaSet(metadata=meta("rs"), spec=k8s.V1ReplicaSetSpec(
        replicas=0, selector=k8s.V1LabelSelector(match_labels=labels), template=k8s.V1PodTemplateSpec(
            metadata=k8s.V1ObjectMeta(labels=labels),
            spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c", image="nginx")])))))
    rs = apps.patch_namespaced_replica_set_status("rs", ns, {"status": {"replicas": 0, "observedGeneration": 1}})
    assert (rs.status.replicas, rs.status.observed_generation) == (0, 1)


# ---- watch --------------------------------------------------------------------------------------------------------


class Watcher:
    """A client watching pods in a thread, as an informer does: from a resourceVersion, and when the connection
    breaks, again from the last version it saw (retrying until the apiserver answers)."""

    def __init__(self, v1: k8s.CoreV1Api, namespace: str, resource_version: str) -> None:
        self.v1 = v1
        self.namespace = namespace
        self.rv = resource_version
        self.seen: list[tuple[str, str, str]] = []
        """(type, name, resourceVersion) of each event, in order."""
        self.broken: list[BaseException] = []
        """The failures it went through (a dropped stream, a refused connection)."""
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.is_set():
            w = k8s_watch.Watch()
            try:
                for ev in w.stream(self.v1.list_namespaced_pod, self.namespace, resource_version=self.rv,
                                   timeout_seconds=5, _request_timeout=10):
                    obj = ev["object"]
                    self.seen.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
                    self.rv = obj.metadata.resource_version
            except (HTTPError, ApiException, OSError) as e:
                self.broken.append(e)
                time.sleep(0.1)

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            assert time.monotonic() < deadline, f"saw {self.seen} (failures {self.broken}), wanted {count} events"
            time.sleep(0.05)
        return list(self.seen)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(15)


@pytest.fixture
def own_apiserver(redis_server: RedisServer | RedisContainer) -> Iterator[ApiServer]:
    """An apiserver of the test's own on the session's store (the session apiserver serves the same objects), so
    the test can kill it and start it again on the same ports while the session's keeps taking writes."""
    server = ApiServer(redis_server.url, rest_port=free_port()).start()
    yield server
    server.kill()


def test_watch_resumes_from_its_version_across_an_apiserver_restart(
        own_apiserver: ApiServer, apiserver: ApiServer, tmp_path: Path) -> None:
    own = api_client(own_apiserver, tmp_path)
    other = api_client(apiserver, tmp_path)
    v1, v1_other = k8s.CoreV1Api(own), k8s.CoreV1Api(other)
    ns = new_namespace(v1)
    v1.create_namespaced_pod(ns, pod("before"))
    rv = v1.list_namespaced_pod(ns).metadata.resource_version
    watcher = Watcher(v1, ns, rv)
    watcher.thread.start()
    try:
        v1.create_namespaced_pod(ns, pod("a"))
        v1.create_namespaced_pod(ns, pod("b"))
        watcher.wait_for(2)

        own_apiserver.kill()  # mid-watch: the stream breaks, and the client's re-watches are refused
        v1_other.create_namespaced_pod(ns, pod("c"))
        v1_other.patch_namespaced_pod("a", ns, {"metadata": {"labels": {"x": "1"}}})
        v1_other.delete_namespaced_pod("b", ns, grace_period_seconds=0)
        v1_other.create_namespaced_pod(ns, pod("d"))
        time.sleep(0.5)  # the client retries against the dead apiserver meanwhile
        assert len(watcher.seen) == 2
        own_apiserver.start()  # the same gRPC and REST ports, the same certificate and token

        seen = watcher.wait_for(6)
        time.sleep(1)  # nothing more comes: no event is delivered twice
        assert [(t, n) for t, n, _ in watcher.seen] == [
            ("ADDED", "a"), ("ADDED", "b"),
            ("ADDED", "c"), ("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "d")]
        versions = [int(v) for _, _, v in seen]
        assert versions == sorted(versions) and len(set(versions)) == len(versions) and versions[0] > int(rv)
        assert watcher.broken, "the restart should have broken the stream"
    finally:
        watcher.stop()
        own.close()
        other.close()


@pytest.fixture
def short_history_apiserver(redis_server: RedisServer | RedisContainer, tmp_path: Path) -> Iterator[ApiServer]:
    config = tmp_path / "cluster.yaml"
    config.write_text("store:\n  watch_history: 20\n")
    server = ApiServer(fresh_database(redis_server.url, 13), config=config, rest_port=free_port()).start()
    yield server
    server.stop()


def test_a_too_old_version_gives_410_and_the_client_relists(short_history_apiserver: ApiServer,
                                                             tmp_path: Path) -> None:
    c = api_client(short_history_apiserver, tmp_path)
    v1 = k8s.CoreV1Api(c)
    try:
        ns = new_namespace(v1)
        first = v1.create_namespaced_pod(ns, pod("first"))
        old = first.metadata.resource_version
        for i in range(60):  # the store keeps about 20 events: the first pod's is trimmed away
            v1.create_namespaced_pod(ns, pod(f"p{i}"))

        # Without timeout_seconds the client itself retries once after a 410, then raises it.
        with pytest.raises(ApiException) as expired:
            for _ in k8s_watch.Watch().stream(v1.list_namespaced_pod, ns, resource_version=old):
                pass
        assert expired.value.status == 410
        assert expired.value.reason.startswith(f"Expired: too old resource version: {old} (")

        # What the client's documentation tells its users to do: list, then watch from the list's version.
        listed = v1.list_namespaced_pod(ns)
        assert len(listed.items) == 61
        v1.create_namespaced_pod(ns, pod("after"))
        events: list[tuple[str, str]] = []
        w = k8s_watch.Watch()
        for ev in w.stream(v1.list_namespaced_pod, ns, resource_version=listed.metadata.resource_version,
                           timeout_seconds=2):
            events.append((ev["type"], ev["object"].metadata.name))
            w.stop()
        assert events == [("ADDED", "after")]
    finally:
        c.close()
