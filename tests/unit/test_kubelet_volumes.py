"""The files of API-backed volumes as upstream's volume plugins make them (payloads, items, modes, optional,
missing keys, the downward API's formats), laid out in the pod filesystem and read by the shell's `stat`."""

from __future__ import annotations

from typing import Any

import pytest

from kubelet.object_manager import ObjectError, config_map_names, secret_names
from kubelet.runtime.fs import ContainerFS, Mount, Volume, image_root
from kubelet.runtime.shell import ShellContext, run_command
from kubelet.volumes import FileProjection, MountError, VolumeContext, format_map, payload, write_payload
from kubemu.api.serialization import from_dict
from kubemu.pb import core_pb2

NS = "ns1"


def _pod(volumes: list[dict[str, Any]], containers: list[dict[str, Any]] | None = None) -> core_pb2.Pod:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": NS, "uid": "u1", "labels": {"b": "2", "a": 'say "hi"'}},
        "spec": {"containers": containers or [{"name": "c", "image": "busybox",
                                               "resources": {"limits": {"memory": "64Mi"}}}],
                 "volumes": volumes},
    })


def _ctx(pod: core_pb2.Pod, cms: dict[str, dict[str, str]] | None = None,
         secrets: dict[str, dict[str, bytes]] | None = None) -> VolumeContext:
    async def config_map(ns: str, name: str) -> core_pb2.ConfigMap:
        if name not in (cms or {}):
            raise ObjectError(f'configmap "{name}" not found', not_found=True)
        cm = core_pb2.ConfigMap()
        cm.data.update((cms or {})[name])
        return cm

    async def secret(ns: str, name: str) -> core_pb2.Secret:
        if name not in (secrets or {}):
            raise ObjectError(f'secret "{name}" not found', not_found=True)
        s = core_pb2.Secret()
        s.data.update((secrets or {})[name])
        return s

    return VolumeContext(pod, config_map, secret, {"cpu": "4", "memory": "8Gi"})


async def test_config_map_every_key_or_the_listed_items() -> None:
    pod = _pod([{"name": "v", "configMap": {"name": "cm"}},
                {"name": "w", "configMap": {"name": "cm", "defaultMode": 0o400,
                                            "items": [{"key": "a", "path": "x/y", "mode": 0o600}, {"key": "b",
                                                                                                   "path": "b"}]}}])
    ctx = _ctx(pod, {"cm": {"a": "1", "b": "2"}})
    assert await payload(pod.spec.volumes[0], ctx) == {"a": FileProjection(b"1", 0o644),
                                                       "b": FileProjection(b"2", 0o644)}
    assert await payload(pod.spec.volumes[1], ctx) == {"x/y": FileProjection(b"1", 0o600),
                                                       "b": FileProjection(b"2", 0o400)}


async def test_missing_object_or_key_is_upstreams_mount_error_unless_optional() -> None:
    pod = _pod([{"name": "v", "configMap": {"name": "gone"}},
                {"name": "w", "secret": {"secretName": "s", "items": [{"key": "nope", "path": "n"}]}},
                {"name": "o", "secret": {"secretName": "s", "optional": True,
                                         "items": [{"key": "nope", "path": "n"}]}},
                {"name": "q", "configMap": {"name": "gone", "optional": True}}])
    ctx = _ctx(pod, secrets={"s": {"k": b"v"}})
    with pytest.raises(MountError, match=r'^configmap "gone" not found$'):
        await payload(pod.spec.volumes[0], ctx)
    with pytest.raises(MountError, match=r"^references non-existent secret key: nope$"):
        await payload(pod.spec.volumes[1], ctx)
    assert await payload(pod.spec.volumes[2], ctx) == {}
    assert await payload(pod.spec.volumes[3], ctx) == {}


async def test_projected_aggregates_its_sources_and_their_errors() -> None:
    pod = _pod([{"name": "v", "projected": {"sources": [
        {"configMap": {"name": "cm"}}, {"secret": {"name": "missing"}},
        {"configMap": {"name": "missing2"}}, {"serviceAccountToken": {"path": "token"}}]}},
                {"name": "w", "projected": {"defaultMode": 0o440, "sources": [
                    {"configMap": {"name": "cm"}},
                    {"downwardAPI": {"items": [{"path": "./l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
                    {"serviceAccountToken": {"path": "token"}}]}}])
    ctx = _ctx(pod, {"cm": {"a": "1"}})
    with pytest.raises(MountError, match=r'^\[secret "missing" not found, configmap "missing2" not found\]$'):
        await payload(pod.spec.volumes[0], ctx)
    assert await payload(pod.spec.volumes[1], ctx) == {
        "a": FileProjection(b"1", 0o440),
        "l": FileProjection(b'a="say \\"hi\\""\nb="2"', 0o440),
    }


async def test_downward_api_fields_and_resources() -> None:
    pod = _pod([{"name": "v", "downwardAPI": {"items": [
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
        {"path": "a", "fieldRef": {"fieldPath": "metadata.labels['b']"}},
        {"path": "mem", "resourceFieldRef": {"containerName": "c", "resource": "limits.memory", "divisor": "1Mi"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "c", "resource": "limits.cpu", "divisor": "1m"}},
    ]}}])
    got = await payload(pod.spec.volumes[0], _ctx(pod))
    # No cpu limit: the node's allocatable stands in, as upstream's.
    assert {k: v.data for k, v in got.items()} == {"name": b"p", "a": b"2", "mem": b"64", "cpu": b"4000"}
    assert format_map({}) == ""


def test_referenced_names_cover_env_env_from_volumes_and_projections() -> None:
    pod = _pod([{"name": "v", "configMap": {"name": "vol-cm"}}, {"name": "s", "secret": {"secretName": "vol-s"}},
                {"name": "p", "projected": {"sources": [{"configMap": {"name": "proj-cm"}},
                                                       {"secret": {"name": "proj-s"}}]}}],
               [{"name": "c", "image": "i",
                 "env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "env-cm", "key": "k"}}},
                         {"name": "B", "valueFrom": {"secretKeyRef": {"name": "env-s", "key": "k"}}}],
                 "envFrom": [{"configMapRef": {"name": "from-cm"}}, {"secretRef": {"name": "from-s"}}]}])
    assert config_map_names(pod) == {"vol-cm", "proj-cm", "env-cm", "from-cm"}
    assert secret_names(pod) == {"vol-s", "proj-s", "env-s", "from-s"}


async def test_written_payload_is_read_only_and_stat_prints_modes() -> None:
    vol = Volume("v", write_payload({"conf/app.conf": FileProjection(b"x=1", 0o440), "k": FileProjection(b"", 0o600)}))
    fs = ContainerFS(image_root("p"), {"/etc/app": Mount(vol, read_only=True)})
    out: list[str] = []
    ctx = ShellContext(fs=fs, stdout=out.append)
    code = await run_command(["sh", "-c", "stat -c '%a %n' /etc/app/conf/app.conf /etc/app/k /etc/app/conf; "
                                          "cat /etc/app/conf/app.conf; echo; touch /etc/app/z"], ctx)
    assert out == ["440 /etc/app/conf/app.conf", "600 /etc/app/k", "755 /etc/app/conf", "x=1",
                   "touch: /etc/app/z: Read-only file system"]
    assert code == 1
