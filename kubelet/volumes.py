"""What the API-backed volumes of a pod hold: the files of configMap, secret, downwardAPI and projected volumes, made
as upstream's volume plugins make their payloads (pkg/volume/configmap, secret, downwardapi, projected) and laid out
in the pod's simulated filesystem as the atomic writer lays them out (pkg/volume/util/atomic_writer.go)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from kubelet.object_manager import ObjectError
from kubelet.runtime.fs import FileSystem
from kubemu.api.labels import go_quote
from kubemu.api.quantity import bytes_of, cpu_millis
from kubemu.pb import core_pb2

API_VOLUME_SOURCES = ("config_map", "secret", "downward_api", "projected")
"""The volume sources the kubelet fills from the API; their volumes are mounted read-only, as upstream's."""

DEFAULT_MODE = 0o644


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int


Payload = dict[str, FileProjection]
"""Path inside the volume -> the file's bytes and mode."""


class MountError(Exception):
    """A volume that cannot be set up (yet): the text after `MountVolume.SetUp failed for volume "v" : `."""


@dataclass(frozen=True)
class VolumeContext:
    """What the payloads are made from: the pod, the objects it references, and the node's allocatable resources
    (the downward API's limits where a container sets none)."""

    pod: core_pb2.Pod
    config_map: Callable[[str, str], Awaitable[core_pb2.ConfigMap]]
    secret: Callable[[str, str], Awaitable[core_pb2.Secret]]
    allocatable: Mapping[str, str]
    service_account_token: Callable[[core_pb2.ServiceAccountTokenProjection], Awaitable[Payload]] | None = None
    """The projected serviceAccountToken source (the ServiceAccount work's): None writes nothing."""


def is_api_volume(volume: core_pb2.Volume) -> bool:
    return any(volume.HasField(f) for f in API_VOLUME_SOURCES)  # type: ignore[arg-type]


def _mode(item_mode: int | None, default_mode: int | None) -> int:
    if item_mode is not None:
        return item_mode
    return default_mode if default_mode is not None else DEFAULT_MODE


def _keyed_payload(items: Sequence[core_pb2.KeyToPath], values: Mapping[str, bytes], default_mode: int | None,
                   optional: bool, missing: str) -> Payload:
    """configmap.MakePayload / secret.MakePayload: every key at its own name, or the listed keys at their paths."""
    if not items:
        return {k: FileProjection(v, _mode(None, default_mode)) for k, v in values.items()}
    payload: Payload = {}
    for item in items:
        if item.key not in values:
            if optional:
                continue
            raise MountError(f"{missing}: {item.key}")
        payload[item.path] = FileProjection(values[item.key], _mode(item.mode if item.HasField("mode") else None,
                                                                     default_mode))
    return payload


async def _config_map_payload(ctx: VolumeContext, name: str, items: Sequence[core_pb2.KeyToPath],
                              optional: bool, default_mode: int | None) -> Payload:
    try:
        cm = await ctx.config_map(ctx.pod.metadata.namespace, name)
    except ObjectError as e:
        if not (e.not_found and optional):
            raise MountError(e.message) from None
        cm = core_pb2.ConfigMap()
    values = {k: v.encode() for k, v in cm.data.items()}
    values.update(cm.binary_data)
    return _keyed_payload(items, values, default_mode, optional, "configmap references non-existent config key")


async def _secret_payload(ctx: VolumeContext, name: str, items: Sequence[core_pb2.KeyToPath], optional: bool,
                          default_mode: int | None) -> Payload:
    try:
        secret = await ctx.secret(ctx.pod.metadata.namespace, name)
    except ObjectError as e:
        if not (e.not_found and optional):
            raise MountError(e.message) from None
        secret = core_pb2.Secret()
    return _keyed_payload(items, dict(secret.data), default_mode, optional,
                          "references non-existent secret key")


def format_map(m: Mapping[str, str]) -> str:
    """fieldpath.FormatMap: `key="value"` lines, sorted by key."""
    return "\n".join(f"{k}={go_quote(m[k])}" for k in sorted(m))


def field_path_value(pod: core_pb2.Pod, path: str) -> str:
    """fieldpath.ExtractFieldPathAsString for the paths a downwardAPI volume may name."""
    meta = pod.metadata
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return meta.labels.get(path[len("metadata.labels['"):-2], "")
    if path.startswith("metadata.annotations['") and path.endswith("']"):
        return meta.annotations.get(path[len("metadata.annotations['"):-2], "")
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "metadata.labels": format_map(meta.labels),
        "metadata.annotations": format_map(meta.annotations),
    }
    if path not in simple:
        raise MountError(f"unsupported fieldPath: {path}")
    return simple[path]


def resource_field_value(pod: core_pb2.Pod, ref: core_pb2.ResourceFieldSelector, default_container: str,
                         allocatable: Mapping[str, str]) -> str:
    """resource.ExtractResourceValueByContainerNameAndNodeAllocatable: a container's request or limit (a limit it
    does not set is the node's allocatable), divided by the divisor and rounded up."""
    name = ref.container_name or default_container
    container = next((c for c in list(pod.spec.containers) + list(pod.spec.init_containers) if c.name == name), None)
    if container is None:
        raise MountError(f"container {name} not found")
    bag, _, res = ref.resource.partition(".")
    values = container.resources.limits if bag == "limits" else container.resources.requests
    text = values.get(res) or (allocatable.get(res, "0") if bag == "limits" else "0")
    divisor = ref.divisor or "1"
    if res == "cpu":
        return str(math.ceil(cpu_millis(text) / max(cpu_millis(divisor), 1)))
    if res in ("memory", "ephemeral-storage"):
        return str(math.ceil(bytes_of(text) / max(bytes_of(divisor), 1)))
    raise MountError(f"unsupported container resource : {ref.resource}")


def _downward_payload(ctx: VolumeContext, items: Sequence[core_pb2.DownwardAPIVolumeFile],
                      default_mode: int | None) -> Payload:
    """downwardapi.CollectData: each item's field or resource value at its (cleaned) path."""
    payload: Payload = {}
    errs: list[str] = []
    for item in items:
        mode = _mode(item.mode if item.HasField("mode") else None, default_mode)
        data = b""
        try:
            if item.HasField("field_ref"):
                data = field_path_value(ctx.pod, item.field_ref.field_path).encode()
            elif item.HasField("resource_field_ref"):
                data = resource_field_value(ctx.pod, item.resource_field_ref, "", ctx.allocatable).encode()
        except MountError as e:
            errs.append(str(e))
        payload["/".join(p for p in item.path.split("/") if p and p != ".")] = FileProjection(data, mode)
    if errs:
        raise MountError(_aggregate(errs))
    return payload


def _aggregate(errs: Sequence[str]) -> str:
    """utilerrors.NewAggregate's Error(): one error as itself, more in brackets."""
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


async def _projected_payload(ctx: VolumeContext, src: core_pb2.ProjectedVolumeSource) -> Payload:
    default_mode = src.default_mode if src.HasField("default_mode") else None
    payload: Payload = {}
    errs: list[str] = []
    for s in src.sources:
        try:
            if s.HasField("secret"):
                p = s.secret
                payload.update(await _secret_payload(ctx, p.name, p.items, p.optional, default_mode))
            elif s.HasField("config_map"):
                q = s.config_map
                payload.update(await _config_map_payload(ctx, q.name, q.items, q.optional, default_mode))
            elif s.HasField("downward_api"):
                payload.update(_downward_payload(ctx, s.downward_api.items, default_mode))
            elif s.HasField("service_account_token"):
                # The token a TokenRequest returns for the pod (kubelet/token.py, through kubelet.py).
                if ctx.service_account_token is not None:
                    payload.update(await ctx.service_account_token(s.service_account_token))
        except MountError as e:
            errs.append(str(e))
    if errs:
        raise MountError(_aggregate(errs))
    return payload


async def payload(volume: core_pb2.Volume, ctx: VolumeContext) -> Payload:
    """The files of an API-backed volume; MountError with upstream's reason when it cannot be set up."""
    if volume.HasField("config_map"):
        cm = volume.config_map
        return await _config_map_payload(ctx, cm.name, cm.items, cm.optional,
                                         cm.default_mode if cm.HasField("default_mode") else None)
    if volume.HasField("secret"):
        s = volume.secret
        return await _secret_payload(ctx, s.secret_name, s.items, s.optional,
                                     s.default_mode if s.HasField("default_mode") else None)
    if volume.HasField("downward_api"):
        d = volume.downward_api
        return _downward_payload(ctx, d.items, d.default_mode if d.HasField("default_mode") else None)
    if volume.HasField("projected"):
        return await _projected_payload(ctx, volume.projected)
    return {}


def write_payload(files: Payload) -> FileSystem:
    """A volume's tree holding `files`, as the atomic writer leaves it: each file under its path, directories made
    on the way. The pod worker swaps it in for the volume's previous tree in one step, as the writer's rename of
    `..data` swaps a whole generation of files, so a reader never sees half an update."""
    fs = FileSystem()
    for path in sorted(files):
        f = files[path]
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent:
            fs.mkdir("/" + parent, parents=True)
        fs.write("/" + path, f.data, mode=f.mode)
    return fs

