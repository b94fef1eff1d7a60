"""CRUD, conflicts, validation, graceful deletion, finalizers and binding through a real apiserver and Redis."""

from __future__ import annotations

import pytest

from kubemu.api import errors as api_errors
from kubemu.api import kinds
from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Binding, Client, retry_on_conflict
from tests.integration.manifests import manifest
from tests.support import unique

pytestmark = pytest.mark.integration

ALL_KINDS = [k.kind for k in kinds.all_kinds()]


@pytest.mark.parametrize("kind", ALL_KINDS)
async def test_round_trip_every_kind(client: Client, namespace: str, kind: str) -> None:
    rc = client.resource(kind)
    name = unique(kind.lower())
    obj = from_dict(manifest(kind, name, namespace))
    created = await rc.create(obj)
    assert created.metadata.uid and created.metadata.resource_version.isdigit()
    assert created.metadata.creation_timestamp.seconds > 0
    ns = namespace if rc.info.namespaced else None

    got = await rc.get(name, ns)
    assert got == created

    listed = await rc.list(ns, label_selector="app=web")
    assert name in [o.metadata.name for o in listed.items]
    assert int(listed.resource_version) >= int(created.metadata.resource_version)

    got.metadata.labels["tier"] = "front"
    updated = await rc.update(got)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    assert (await rc.get(name, ns)).metadata.labels["tier"] == "front"

    deleted = await rc.delete(name, ns)
    if kind == "Namespace":
        # It terminates: no namespace controller runs here to empty it and finalize it, so finalize by hand.
        assert deleted.status.phase == "Terminating"
        del deleted.spec.finalizers[:]
        await client.namespaces.finalize(deleted)
    with pytest.raises(errors.NotFound, match=f'"{name}" not found'):
        await rc.get(name, ns)


async def test_stale_resource_version_is_a_conflict(client: Client, namespace: str) -> None:
    pod = await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    first = await client.pods.get("web", namespace)
    first.metadata.labels["a"] = "1"
    await client.pods.update(first)
    pod.metadata.labels["b"] = "2"  # still carries the old resourceVersion
    with pytest.raises(errors.Conflict) as exc:
        await client.pods.update(pod)
    assert exc.value.message == (
        'Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes '
        "to the latest version and try again"
    )
    stored = await client.pods.get("web", namespace)
    assert "b" not in stored.metadata.labels and stored.metadata.labels["a"] == "1"


async def test_retry_on_conflict_wins_races(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    import asyncio

    async def bump(i: int) -> None:
        async def once() -> None:
            pod = await client.pods.get("web", namespace)
            pod.metadata.annotations[f"k{i}"] = "v"
            await client.pods.update(pod)

        await retry_on_conflict(once, attempts=50)

    await asyncio.gather(*(bump(i) for i in range(8)))
    pod = await client.pods.get("web", namespace)
    assert sorted(pod.metadata.annotations) == [f"k{i}" for i in range(8)]


async def test_create_existing_is_already_exists(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    with pytest.raises(errors.AlreadyExists, match='pods "web" already exists'):
        await client.pods.create(from_dict(manifest("Pod", "web", namespace)))


async def test_create_many_creates_each_independently_and_reports_each_error(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "taken", namespace)))
    bad = manifest("Pod", "bad", namespace)
    bad["spec"]["containers"][0].pop("image")
    objs = [from_dict(manifest("Pod", "a", namespace)), from_dict(bad), from_dict(manifest("Pod", "taken", namespace)),
            from_dict(manifest("Pod", "elsewhere", "nope-ns")), from_dict(manifest("Pod", "b", namespace))]
    results = await client.pods.create_many(objs)
    a, invalid, exists, missing_ns, b = results
    assert not isinstance(a, errors.ApiError) and a.metadata.name == "a" and a.metadata.uid
    assert not isinstance(b, errors.ApiError) and int(b.metadata.resource_version) > 0
    assert isinstance(invalid, errors.Invalid) and "spec.containers[0].image: Required value" in invalid.message
    assert invalid.causes and invalid.causes[0].field == "spec.containers[0].image"
    assert isinstance(exists, errors.AlreadyExists) and 'pods "taken" already exists' in exists.message
    assert isinstance(missing_ns, errors.NotFound) and 'namespaces "nope-ns" not found' in missing_ns.message
    assert sorted(p.metadata.name for p in (await client.pods.list(namespace)).items) == ["a", "b", "taken"]

    dry = await client.pods.create_many([from_dict(manifest("Pod", "dry", namespace))], dry_run=True)
    assert not isinstance(dry[0], errors.ApiError) and dry[0].metadata.name == "dry"
    with pytest.raises(errors.NotFound):
        await client.pods.get("dry", namespace)
    with pytest.raises(errors.BadRequest, match="objects: Too many: 501: must have at most 500 items"):
        await client.pods.create_many([from_dict(manifest("Pod", f"p{i}", namespace)) for i in range(501)])
    assert len((await client.pods.list(namespace)).items) == 3


async def test_bind_many_binds_each_independently_and_reports_each_error(client: Client, namespace: str) -> None:
    for name in ("a", "b", "taken", "other"):
        await client.pods.create(from_dict(manifest("Pod", name, namespace)))
    await client.pods.bind("taken", "node-1", namespace)
    results = await client.pods.bind_many([
        Binding("a", "node-1", namespace),
        Binding("taken", "node-2", namespace),
        Binding("missing", "node-1", namespace),
        Binding("other", "node-2", namespace, uid="not-its-uid"),
        Binding("other", "", namespace),
        Binding("b", "node-2", namespace),
    ])
    a, taken, missing, wrong_uid, no_node, b = results
    assert not isinstance(a, errors.ApiError) and a.spec.node_name == "node-1"
    assert [(c.type, c.status) for c in a.status.conditions] == [("PodScheduled", "True")]
    assert not isinstance(b, errors.ApiError) and b.spec.node_name == "node-2"
    assert isinstance(taken, errors.Conflict) and 'pod taken is already assigned to node "node-1"' in taken.message
    assert isinstance(missing, errors.NotFound) and 'pods "missing" not found' in missing.message
    assert isinstance(wrong_uid, errors.Conflict) and "Precondition failed: UID in precondition" in wrong_uid.message
    assert isinstance(no_node, errors.Invalid) and no_node.causes and no_node.causes[0].field == "target.name"
    stored = {p.metadata.name: p.spec.node_name for p in (await client.pods.list(namespace)).items}
    assert stored == {"a": "node-1", "b": "node-2", "taken": "node-1", "other": ""}

    with pytest.raises(errors.BadRequest, match="bindings: Too many: 501: must have at most 500 items"):
        await client.pods.bind_many([Binding("other", "node-1", namespace)] * 501)
    assert not (await client.pods.get("other", namespace)).spec.node_name


async def test_missing_namespace_is_refused(client: Client) -> None:
    with pytest.raises(errors.NotFound, match='namespaces "nope-ns" not found'):
        await client.pods.create(from_dict(manifest("Pod", "web", "nope-ns")))


async def test_system_namespaces_exist(client: Client) -> None:
    names = {n.metadata.name for n in (await client.namespaces.list()).items}
    assert {"default", "kube-system", "kube-node-lease", "kube-public"} <= names
    with pytest.raises(errors.Forbidden, match="may not be deleted"):
        await client.namespaces.delete("default")


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"spec": {"containers": []}}, "spec.containers", "spec.containers: Required value"),
        ({"spec": {"containers": [{"name": "a"}]}}, "spec.containers[0].image",
         "spec.containers[0].image: Required value"),
        ({"metadata": {"name": "Bad_Name"}}, "metadata.name", 'metadata.name: Invalid value: "Bad_Name"'),
        ({"spec": {"restartPolicy": "Sometimes", "containers": [{"name": "a", "image": "x"}]}},
         "spec.restartPolicy", 'spec.restartPolicy: Unsupported value: "Sometimes"'),
        ({"spec": {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 70000}]}]}},
         "spec.containers[0].ports[0].containerPort", "containerPort: Invalid value: 70000"),
        ({"metadata": {"name": "ok", "labels": {"bad key!": "v"}}}, "metadata.labels", "metadata.labels: Invalid"),
    ],
)
async def test_invalid_objects_are_refused_and_nothing_is_stored(
    client: Client, namespace: str, patch: dict, field: str, message: str
) -> None:
    body = manifest("Pod", "ok", namespace)
    for key, value in patch.items():
        body[key] = {**body.get(key, {}), **value}
    body["metadata"]["namespace"] = namespace
    with pytest.raises(errors.Invalid) as exc:
        await client.pods.create(from_dict(body))
    assert message in exc.value.message
    assert exc.value.causes and exc.value.causes[0].field.startswith(field)
    assert (await client.pods.list(namespace)).items == []


async def test_the_clients_error_is_the_servers(client: Client, namespace: str) -> None:
    """reason, message, HTTP code and details (kind, name, causes with their type) cross gRPC unchanged, for a
    failed call and for one failed item of a CreateMany alike."""
    bad = manifest("Pod", "bad", namespace)
    bad["spec"]["containers"][0].pop("image")
    required = api_errors.Cause("FieldValueRequired", "Required value", "spec.containers[0].image")
    server = api_errors.new_invalid("Pod", "", "bad", [required])
    with pytest.raises(errors.Invalid) as exc:
        await client.pods.create(from_dict(bad))
    item, = await client.pods.create_many([from_dict(bad)])
    for e in (exc.value, item):
        assert isinstance(e, errors.Invalid)
        assert (e.reason, e.message, e.code, e.details) == (server.reason, server.message, 422, server.details)
        assert e.details == errors.StatusDetails(name="bad", kind="Pod", causes=(required,))
        assert e.to_status_dict() == server.to_status_dict()

    with pytest.raises(errors.NotFound) as missing:
        await client.pods.get("missing", namespace)
    assert (missing.value.code, missing.value.details) == (404, errors.StatusDetails(name="missing", kind="pods"))
    with pytest.raises(errors.NotFound) as missing_deploy:
        await client.deployments.get("missing", namespace)
    assert missing_deploy.value.details == errors.StatusDetails(name="missing", group="apps", kind="deployments")
    assert missing_deploy.value.to_status_dict() == api_errors.new_not_found("deployments", "apps", "missing") \
        .to_status_dict()

    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    with pytest.raises(errors.AlreadyExists) as exists:
        await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    assert (exists.value.code, exists.value.details) == (409, errors.StatusDetails(name="web", kind="pods"))


async def test_pod_spec_is_immutable_except_image(client: Client, namespace: str) -> None:
    pod = await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    pod.spec.containers[0].image = "nginx:1.28"
    pod = await client.pods.update(pod)
    assert pod.spec.containers[0].image == "nginx:1.28"
    assert pod.metadata.generation == 2
    pod.spec.restart_policy = "Never"
    with pytest.raises(errors.Invalid, match="pod updates may not change fields"):
        await client.pods.update(pod)


async def test_status_subresource_and_main_resource_keep_each_other(client: Client, namespace: str) -> None:
    pod = await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    assert pod.status.phase == "Pending"
    assert pod.status.qos_class == "BestEffort"
    pod.status.phase = "Running"
    pod.metadata.labels["ignored"] = "yes"
    after = await client.pods.update_status(pod)
    assert after.status.phase == "Running" and "ignored" not in after.metadata.labels
    after.status.phase = "Failed"  # a main-resource update cannot change status
    after.metadata.labels["kept"] = "yes"
    final = await client.pods.update(after)
    assert final.status.phase == "Running" and final.metadata.labels["kept"] == "yes"
    assert final.metadata.generation == 1  # labels are not spec


async def test_defaults_and_admission(client: Client, namespace: str) -> None:
    pod = await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    assert pod.spec.restart_policy == "Always"
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.scheduler_name == "default-scheduler"
    assert pod.spec.dns_policy == "ClusterFirst"
    assert pod.spec.containers[0].image_pull_policy == "IfNotPresent"
    tolerations = {(t.key, t.effect, t.toleration_seconds) for t in pod.spec.tolerations}
    assert ("node.kubernetes.io/not-ready", "NoExecute", 300) in tolerations
    assert ("node.kubernetes.io/unreachable", "NoExecute", 300) in tolerations


async def test_generate_name(client: Client, namespace: str) -> None:
    body = manifest("Pod", "", namespace)
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "web-"
    a = await client.pods.create(from_dict(body))
    b = await client.pods.create(from_dict(body))
    assert a.metadata.name.startswith("web-") and len(a.metadata.name) == len("web-") + 5
    assert a.metadata.name != b.metadata.name


async def test_graceful_deletion_of_a_bound_pod(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    bound = await client.pods.bind("web", "node-1", namespace)
    assert bound.spec.node_name == "node-1"
    assert [(c.type, c.status) for c in bound.status.conditions] == [("PodScheduled", "True")]
    with pytest.raises(errors.Conflict, match='pod web is already assigned to node "node-1"'):
        await client.pods.bind("web", "node-2", namespace)

    deleting = await client.pods.delete("web", namespace)
    assert deleting.metadata.HasField("deletion_timestamp")
    assert deleting.metadata.deletion_grace_period_seconds == 30
    still = await client.pods.get("web", namespace)  # waits for its kubelet to confirm
    assert still.metadata.deletion_grace_period_seconds == 30
    with pytest.raises(errors.Conflict, match="pod web is being deleted, cannot be assigned to a host"):
        await client.pods.bind("web", "node-2", namespace)
    await client.pods.delete("web", namespace, grace_period_seconds=0)  # the kubelet's confirmation / --force
    with pytest.raises(errors.NotFound):
        await client.pods.get("web", namespace)


async def test_unbound_pod_goes_at_once(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    await client.pods.delete("web", namespace)
    with pytest.raises(errors.NotFound):
        await client.pods.get("web", namespace)


async def test_finalizers_hold_deletion(client: Client, namespace: str) -> None:
    body = manifest("ReplicaSet", "rs", namespace)
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await client.replica_sets.create(from_dict(body))
    held = await client.replica_sets.delete("rs", namespace)
    assert held.metadata.HasField("deletion_timestamp")
    rs = await client.replica_sets.get("rs", namespace)
    rs.metadata.finalizers.append("example.com/another")
    with pytest.raises(errors.Invalid, match="no new finalizers can be added if the object is being deleted"):
        await client.replica_sets.update(rs)
    rs = await client.replica_sets.get("rs", namespace)
    del rs.metadata.finalizers[:]
    await client.replica_sets.update(rs)
    with pytest.raises(errors.NotFound):
        await client.replica_sets.get("rs", namespace)


async def test_delete_preconditions(client: Client, namespace: str) -> None:
    await client.pods.create(from_dict(manifest("Pod", "web", namespace)))
    with pytest.raises(errors.Conflict, match="Precondition failed: UID in precondition: nope,"):
        await client.pods.delete("web", namespace, uid="nope")
    assert (await client.pods.get("web", namespace)).metadata.name == "web"


async def test_field_selectors(client: Client, namespace: str) -> None:
    for name in ("a", "b"):
        await client.pods.create(from_dict(manifest("Pod", name, namespace)))
    await client.pods.bind("a", "node-1", namespace)
    on_node = await client.pods.list(namespace, field_selector="spec.nodeName=node-1")
    assert [p.metadata.name for p in on_node.items] == ["a"]
    unbound = await client.pods.list(namespace, field_selector="spec.nodeName=")
    assert [p.metadata.name for p in unbound.items] == ["b"]
    with pytest.raises(errors.BadRequest, match=r"field label not supported: spec\.bogus"):
        await client.pods.list(namespace, field_selector="spec.bogus=x")


async def test_set_based_label_selectors(client: Client, namespace: str) -> None:
    for name, labels in (("p", {"env": "prod"}), ("d", {"env": "debug", "app": "db"}), ("q", {"env": "qa"}),
                         ("x", {"env": "debug", "app": "web"})):
        body = manifest("Pod", name, namespace)
        body["metadata"]["labels"] = labels
        await client.pods.create(from_dict(body))
    got = await client.pods.list(namespace, label_selector="env in (prod,debug),app!=db")
    assert sorted(p.metadata.name for p in got.items) == ["p", "x"]
    with pytest.raises(errors.BadRequest):
        await client.pods.list(namespace, label_selector="env in (prod")


async def test_mirror_pods_follow_their_manifest_only(client: Client, namespace: str) -> None:
    body = manifest("Pod", "static-web-node-1", namespace)
    body["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "abc", "kubernetes.io/config.source": "file"}
    body["spec"]["nodeName"] = "node-1"
    mirror = await client.pods.create(from_dict(body))
    mirror.spec.containers[0].image = "nginx:9"
    with pytest.raises(errors.Invalid, match=r'spec: Forbidden: a mirror pod follows its static pod manifest'):
        await client.pods.update(mirror)
    mirror = await client.pods.get("static-web-node-1", namespace)
    del mirror.metadata.annotations["kubernetes.io/config.mirror"]
    with pytest.raises(errors.Invalid, match="may not remove or update mirror pod annotation"):
        await client.pods.update(mirror)
    plain = await client.pods.create(from_dict(manifest("Pod", "plain", namespace)))
    plain.metadata.annotations["kubernetes.io/config.mirror"] = "x"
    with pytest.raises(errors.Invalid, match="may not add mirror pod annotation"):
        await client.pods.update(plain)
    mirror = await client.pods.get("static-web-node-1", namespace)
    mirror.metadata.labels["extra"] = "ok"  # metadata other than the mirror annotation may change
    assert (await client.pods.update(mirror)).metadata.labels["extra"] == "ok"
