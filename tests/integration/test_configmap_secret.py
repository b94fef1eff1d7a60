"""ConfigMaps and Secrets through real processes: the apiserver's validation and defaulting (stringData, type,
required keys, immutable), and a real kubelet consuming them: env from key references and envFrom, configMap,
secret, projected and downwardAPI volumes with items and modes, a missing object or key holding the pod back with
upstream's reasons until it appears, and volumes following updates while env does not. Messages were compared with
kube-apiserver 1.35 (../shared/k8s-peer) and kubelet 1.35's source."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.integration.test_rest import kubectl  # noqa: F401  (the fixture)
from tests.support import ApiServer, KubeletProcess, has_event, run_cli, unique, until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def node(apiserver: ApiServer, fast_config: Path) -> AsyncIterator[KubeletProcess]:
    """One kubelet for the module (on the fast profile: a 1 s sync period)."""
    k = KubeletProcess(apiserver.address, unique("cfgnode"), config=fast_config).start()
    client = Client(apiserver.address)
    try:
        await until(lambda: _node_ready(client, k.node), 20, describe=k.logs)
        yield k
    finally:
        k.cleanup()
        try:
            await client.nodes.delete(k.node)
        except errors.NotFound:
            pass
        await client.close()


async def _node_ready(client: Client, name: str) -> bool:
    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


def config_map(ns: str, name: str, data: dict[str, str], **extra: Any) -> core_pb2.ConfigMap:
    return from_dict({"apiVersion": "v1", "kind": "ConfigMap",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": ns}, "data": data, **extra})


def secret(ns: str, name: str, **fields: Any) -> core_pb2.Secret:
    return from_dict({"apiVersion": "v1", "kind": "Secret",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": ns}, **fields})


def pod(ns: str, name: str, node: str, container: dict[str, Any], **spec: Any) -> core_pb2.Pod:
    c = {"name": "app", "image": "busybox", "command": ["sh", "-c", "sleep 3600"], **container}
    return from_dict({"apiVersion": "v1", "kind": "Pod",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": ns, "labels": {"app": "cfg", "tier": "x"}},
                      "spec": {"nodeName": node, "containers": [c], **spec}})


async def running(client: Client, ns: str, name: str) -> bool:
    p = await client.pods.get(name, ns)
    return bool(p.status.container_statuses) and p.status.container_statuses[0].state.HasField("running")


async def waiting(client: Client, ns: str, name: str) -> tuple[str, str]:
    p = await client.pods.get(name, ns)
    if not p.status.container_statuses:
        return ("", "")
    w = p.status.container_statuses[0].state.waiting
    return (w.reason, w.message)


async def sh(client: Client, ns: str, name: str, script: str) -> tuple[str, int]:
    out, code = await client.pods.exec(name, ["sh", "-c", script], ns)
    return "\n".join(out), code


def event_with(message: str, reason: str) -> Callable[[core_pb2.Event], bool]:
    return lambda e: e.reason == reason and e.message == message


# -- the apiserver ---------------------------------------------------------------------------------------------


async def test_secret_string_data_is_folded_into_data_and_type_defaulted(client: Client, namespace: str) -> None:
    made = await client.resource("Secret").create(
        secret(namespace, "s", data={"a": "eA=="}, stringData={"a": "from-string", "b": "bee"}))
    assert dict(made.data) == {"a": b"from-string", "b": b"bee"}
    assert not made.string_data and made.type == "Opaque"
    made.string_data["b"] = "changed"
    updated = await client.resource("Secret").update(made)
    assert dict(updated.data) == {"a": b"from-string", "b": b"changed"} and not updated.string_data


async def test_bad_secret_and_config_map_refused_naming_the_field(client: Client, namespace: str) -> None:
    key_msg = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  "
               "or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
    secrets = client.resource("Secret")
    with pytest.raises(errors.Invalid) as e:
        await secrets.create(secret(namespace, "bad", stringData={"a b": "x"}))
    assert str(e.value) == f'Secret "bad" is invalid: data[a b]: Invalid value: "a b": {key_msg}'
    with pytest.raises(errors.NotFound):
        await secrets.get("bad", namespace)
    with pytest.raises(errors.Invalid, match=re.escape(
            'Secret "tls" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]')):
        await secrets.create(secret(namespace, "tls", type="kubernetes.io/tls", stringData={}))
    with pytest.raises(errors.Invalid, match=re.escape(
            'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid character \'n\' '
            'looking for beginning of object key string')):
        await secrets.create(secret(namespace, "dj", type="kubernetes.io/dockerconfigjson",
                                    stringData={".dockerconfigjson": "{nope"}))
    with pytest.raises(errors.Invalid, match=re.escape(
            "metadata.annotations[kubernetes.io/service-account.name]: Required value")):
        await secrets.create(secret(namespace, "sa", type="kubernetes.io/service-account-token"))
    cms = client.resource("ConfigMap")
    with pytest.raises(errors.Invalid, match=re.escape(
            'data[dup]: Invalid value: "dup": duplicate of key present in binaryData')):
        await cms.create(config_map(namespace, "dup", {"dup": "1"}, binaryData={"dup": "MQ=="}))
    with pytest.raises(errors.Invalid, match=re.escape(
            'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes')):
        await cms.create(config_map(namespace, "big", {"a": "x" * (1024 * 1024 + 1)}))


async def test_immutable_contents_and_secret_type_refuse_updates(client: Client, namespace: str) -> None:
    cms, secrets = client.resource("ConfigMap"), client.resource("Secret")
    cm = await cms.create(config_map(namespace, "im", {"a": "1"}, immutable=True))
    cm.data["a"] = "2"
    with pytest.raises(errors.Invalid, match=re.escape(
            'ConfigMap "im" is invalid: data: Forbidden: field is immutable when `immutable` is set')):
        await cms.update(cm)
    s = await secrets.create(secret(namespace, "im", stringData={"a": "1"}, immutable=True))
    s.string_data["a"] = "2"
    with pytest.raises(errors.Invalid, match=re.escape(
            'Secret "im" is invalid: data: Forbidden: field is immutable when `immutable` is set')):
        await secrets.update(s)
    s = await secrets.get("im", namespace)
    s.type = "x"
    with pytest.raises(errors.Invalid, match=re.escape('type: Invalid value: "x": field is immutable')):
        await secrets.update(s)


def test_kubectl_create_get_describe(kubectl: Any, namespace: str, apiserver: ApiServer) -> None:  # noqa: F811
    kubectl("-n", namespace, "create", "configmap", "lit", "--from-literal=a=1", "--from-literal=long=line1\nline2")
    kubectl("-n", namespace, "create", "secret", "generic", "gen", "--from-literal=user=admin",
            "--from-literal=pw=s3cret")
    got = kubectl("-n", namespace, "get", "configmaps,secrets").stdout
    assert re.fullmatch(r"NAME +DATA +AGE\nconfigmap/lit +2 +\d+s\n\nNAME +TYPE +DATA +AGE\n"
                        r"secret/gen +Opaque +2 +\d+s\n", got), got
    expected_cm = (f"Name:         lit\nNamespace:    {namespace}\nLabels:       <none>\nAnnotations:  <none>\n\n"
                   "Data\n====\na:\n----\n1\n\nlong:\n----\nline1\nline2\n\n\nBinaryData\n====\n\nEvents:  <none>\n")
    expected_secret = (f"Name:         gen\nNamespace:    {namespace}\nLabels:       <none>\nAnnotations:  <none>\n\n"
                       "Type:  Opaque\n\nData\n====\npw:    6 bytes\nuser:  5 bytes\n")
    assert kubectl("-n", namespace, "describe", "configmap", "lit").stdout == expected_cm
    assert kubectl("-n", namespace, "describe", "secret", "gen").stdout == expected_secret
    # kubemu's own describe prints what kubectl's describer does.
    ours = run_cli("-n", namespace, "describe", "configmap", "lit", server=apiserver.address)
    assert ours.stdout == expected_cm, ours.stderr
    ours = run_cli("-n", namespace, "describe", "secret", "gen", server=apiserver.address)
    assert ours.stdout == expected_secret, ours.stderr


# -- the kubelet -----------------------------------------------------------------------------------------------


async def test_env_from_key_refs_and_env_from_with_prefix(client: Client, node: KubeletProcess,
                                                          namespace: str) -> None:
    await client.resource("ConfigMap").create(config_map(namespace, "cfg", {"mode": "fast", "b.c": "dotted"}))
    await client.resource("Secret").create(secret(namespace, "creds", stringData={"password": "s3cret"}))
    await client.pods.create(pod(namespace, "env", node.node, {
        "env": [
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "BOTH", "value": "$(MODE)-$(CM_mode)"},
        ],
        "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}, {"secretRef": {"name": "creds"}}],
    }))
    await until(lambda: running(client, namespace, "env"), 20)
    out, code = await sh(client, namespace, "env",
                         'echo "$MODE $PW $BOTH $CM_mode $password"; printenv CM_b.c')
    assert (out, code) == ("fast s3cret fast-fast fast s3cret\ndotted", 0)


async def test_config_map_change_reaches_the_file_and_not_the_env(client: Client, node: KubeletProcess,
                                                                  namespace: str) -> None:
    cms = client.resource("ConfigMap")
    await cms.create(config_map(namespace, "live", {"level": "one"}))
    await client.pods.create(pod(namespace, "live", node.node, {
        "env": [{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "live", "key": "level"}}}],
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
    }, volumes=[{"name": "cfg", "configMap": {"name": "live"}}]))
    await until(lambda: running(client, namespace, "live"), 20)
    assert await sh(client, namespace, "live", 'cat /etc/cfg/level; echo " $LEVEL"') == ("one one", 0)
    cm = await cms.get("live", namespace)
    cm.data["level"] = "two"
    cm.data["added"] = "new"
    await cms.update(cm)

    async def file_changed() -> bool:
        return (await sh(client, namespace, "live", "cat /etc/cfg/level"))[0] == "two"

    await until(file_changed, 15)
    assert await sh(client, namespace, "live", 'ls /etc/cfg; echo "$LEVEL"') == ("added\nlevel\none", 0)


async def test_missing_config_map_for_env_is_a_config_error_until_it_appears(
        client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod(namespace, "wait", node.node, {
        "env": [{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "late", "key": "k"}}}],
    }))
    want = ("CreateContainerConfigError", 'configmap "late" not found')
    await until(lambda: _equals(waiting(client, namespace, "wait"), want), 20)
    await until(lambda: has_event(client, "wait", event_with('Error: configmap "late" not found', "Failed"),
                                  namespace), 10)
    cms = client.resource("ConfigMap")
    await cms.create(config_map(namespace, "late", {"other": "x"}))
    want = ("CreateContainerConfigError", f"couldn't find key k in ConfigMap {namespace}/late")
    await until(lambda: _equals(waiting(client, namespace, "wait"), want), 20)
    cm = await cms.get("late", namespace)
    cm.data["k"] = "here"
    await cms.update(cm)
    await until(lambda: running(client, namespace, "wait"), 20)
    assert await sh(client, namespace, "wait", 'echo "$K"') == ("here", 0)


async def _equals(got: Any, want: Any) -> bool:
    return bool(await got == want)


async def test_missing_volume_source_is_failed_mount_and_container_creating(
        client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod(namespace, "mnt", node.node, {
        "command": ["sh", "-c", "cat /etc/creds/token; echo; sleep 3600"],
        "volumeMounts": [{"name": "creds", "mountPath": "/etc/creds"}],
    }, volumes=[{"name": "creds", "secret": {"secretName": "later"}}]))
    message = 'MountVolume.SetUp failed for volume "creds" : secret "later" not found'
    await until(lambda: has_event(client, "mnt", event_with(message, "FailedMount"), namespace), 20)
    assert await waiting(client, namespace, "mnt") == ("ContainerCreating", "")
    p = await client.pods.get("mnt", namespace)
    # The volumes come before the sandbox: no IP yet, and not ready to start containers.
    assert p.status.phase == "Pending" and not p.status.pod_ip
    assert [c.status for c in p.status.conditions if c.type == "PodReadyToStartContainers"] == ["False"]
    await client.resource("Secret").create(secret(namespace, "later", stringData={"token": "abc"}))
    await until(lambda: running(client, namespace, "mnt"), 20)
    # The container's own command found the file at its start.
    assert [line async for line in client.pods.logs("mnt", namespace)] == ["abc"]


async def test_optional_references_are_tolerated(client: Client, node: KubeletProcess, namespace: str) -> None:
    await client.pods.create(pod(namespace, "opt", node.node, {
        "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "x", "optional": True}}},
                {"name": "Y", "value": "set"}],
        "envFrom": [{"secretRef": {"name": "nope", "optional": True}}],
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}],
    }, volumes=[{"name": "cfg", "configMap": {"name": "nope", "optional": True}}]))
    await until(lambda: running(client, namespace, "opt"), 20)
    assert await sh(client, namespace, "opt", 'ls /etc/cfg; echo "${X-unset} $Y"') == ("unset set", 0)


async def test_items_paths_modes_projected_and_downward_api(client: Client, node: KubeletProcess,
                                                           namespace: str, kubectl: Any) -> None:  # noqa: F811
    await client.resource("ConfigMap").create(config_map(namespace, "app", {"app.conf": "port=80", "extra": "e"}))
    await client.resource("Secret").create(secret(namespace, "tls", stringData={"tls.key": "KEY", "tls.crt": "CRT"}))
    # The projected token is the ServiceAccount's (no controllers here to make `default`, nor admission to name it).
    await client.service_accounts.create(from_dict({"apiVersion": "v1", "kind": "ServiceAccount",
                                                    "metadata": {"name": "default", "namespace": namespace}}))
    await client.pods.create(pod(namespace, "files", node.node, {
        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}, {"name": "sec", "mountPath": "/etc/tls"},
                         {"name": "all", "mountPath": "/projected"}, {"name": "info", "mountPath": "/etc/podinfo"}],
    }, volumes=[
        {"name": "cfg", "configMap": {"name": "app", "defaultMode": 0o440,
                                      "items": [{"key": "app.conf", "path": "conf/app.conf"},
                                                {"key": "extra", "path": "extra.txt", "mode": 0o400}]}},
        {"name": "sec", "secret": {"secretName": "tls", "defaultMode": 0o600}},
        {"name": "all", "projected": {"defaultMode": 0o444, "sources": [
            {"configMap": {"name": "app", "items": [{"key": "extra", "path": "cm/extra"}]}},
            {"secret": {"name": "tls", "items": [{"key": "tls.crt", "path": "cert"}]}},
            {"downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
            {"serviceAccountToken": {"path": "token"}},
        ]}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}, "mode": 0o400},
        ]}},
    ], serviceAccountName="default"))
    await until(lambda: running(client, namespace, "files"), 20)
    script = ("cat /etc/app/conf/app.conf; echo; ls /etc/app /etc/tls /projected; "
              "stat -c '%a %n' /etc/app/conf/app.conf /etc/app/extra.txt /etc/tls/tls.key /projected/cert "
              "/etc/podinfo/ns /etc/podinfo/labels; cat /etc/podinfo/labels; echo; cat /projected/name")
    out, code = await sh(client, namespace, "files", script)
    assert code == 0, out
    assert out == (
        "port=80\n"
        "/etc/app:\nconf\nextra.txt\n\n/etc/tls:\ntls.crt\ntls.key\n\n/projected:\ncert\ncm\nname\ntoken\n"
        "440 /etc/app/conf/app.conf\n400 /etc/app/extra.txt\n600 /etc/tls/tls.key\n444 /projected/cert\n"
        "400 /etc/podinfo/ns\n644 /etc/podinfo/labels\n"
        'app="cfg"\ntier="x"\nfiles'
    )
    out, code = await sh(client, namespace, "files", "touch /etc/app/new")
    assert (out, code) == ("touch: /etc/app/new: Read-only file system", 1)
    # (kubemu's exec streams output by lines: the file's missing final newline comes back as one.)
    got = kubectl("-n", namespace, "exec", "files", "--", "cat", "/etc/tls/tls.key").stdout
    assert got.splitlines() == ["KEY"]


# -- the documentation's examples ----------------------------------------------------------------------------------

DOCS = Path(__file__).parents[1] / "manifests" / "docs"


def _doc(rel: str, namespace: str, name: str | None = None, node: str | None = None) -> Any:
    doc = next(d for d in yaml.safe_load_all((DOCS / rel).read_text()) if d is not None)
    doc["metadata"]["namespace"] = namespace
    if name is not None:
        doc["metadata"]["name"] = name
    if node is not None:
        doc["spec"]["nodeName"] = node
    return from_dict(doc)


async def _logs_when_done(client: Client, ns: str, name: str) -> list[str]:
    async def done() -> bool:
        return (await client.pods.get(name, ns)).status.phase == "Succeeded"

    await until(done, 20)
    return [line async for line in client.pods.logs(name, ns)]


async def test_docs_configmap_pods_print_what_the_docs_show(client: Client, node: KubeletProcess,
                                                           namespace: str) -> None:
    """Configure a Pod to Use a ConfigMap: the volume lists the keys, `$(VAR)` in the command expands to them."""
    await client.resource("ConfigMap").create(_doc("configmap/configmap-multikeys.yaml", namespace))
    await client.pods.create(_doc("pods/pod-configmap-volume.yaml", namespace, "vol", node.node))
    await client.pods.create(_doc("pods/pod-configmap-env-var-valueFrom.yaml", namespace, "env", node.node))
    assert await _logs_when_done(client, namespace, "vol") == ["SPECIAL_LEVEL", "SPECIAL_TYPE"]
    assert await _logs_when_done(client, namespace, "env") == ["very charm"]


async def test_docs_downward_api_volume_shows_labels_and_annotations(client: Client, node: KubeletProcess,
                                                                    namespace: str) -> None:
    """Expose Pod Information to Containers Through Files: the container prints the two files every 5 s."""
    await client.pods.create(_doc("pods/inject/dapi-volume.yaml", namespace, node=node.node))
    name = "kubernetes-downwardapi-volume-example"

    async def printed() -> list[str] | None:
        lines = [line async for line in client.pods.logs(name, namespace)]
        return lines if len(lines) >= 8 else None

    lines = await until(printed, 20)
    assert lines[:7] == ["", "", 'cluster="test-cluster1"', 'rack="rack-22"', 'zone="us-est-coast"', "",
                         'build="two"'], lines
    assert lines[7].startswith('builder="john-doe"'), lines


async def test_docs_secret_volume_holds_the_decoded_values(client: Client, node: KubeletProcess,
                                                           namespace: str, kubectl: Any) -> None:  # noqa: F811
    """Distribute Credentials Securely Using Secrets: `ls` and `cat` in the volume, through kubectl exec."""
    await client.resource("Secret").create(_doc("pods/inject/secret.yaml", namespace))
    await client.pods.create(_doc("pods/inject/secret-pod.yaml", namespace, node=node.node))
    await until(lambda: running(client, namespace, "secret-test-pod"), 20)
    exec_ = ("-n", namespace, "exec", "secret-test-pod", "--")
    assert kubectl(*exec_, "ls", "/etc/secret-volume").stdout == "password\nusername\n"
    got = kubectl(*exec_, "sh", "-c", 'echo "$( cat /etc/secret-volume/username )"; '
                                     'echo "$( cat /etc/secret-volume/password )"').stdout
    assert got == "my-app\n39528$vdg7Jb\n"
