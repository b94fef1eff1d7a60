"""The registry of kinds: names, API groups, scope and protobuf message of each, as upstream spells them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from kubemu.pb import api_pb2, apps_pb2, batch_pb2, coordination_pb2, core_pb2


@dataclass(frozen=True)
class KindInfo:
    kind: str
    """The kind as in a manifest: `Pod`."""
    api_version: str
    """`v1`, `apps/v1`, ..."""
    plural: str
    """The resource name: `pods`."""
    short_names: tuple[str, ...]
    namespaced: bool
    message: type[Any]
    """The protobuf class of the object."""
    oneof_field: str
    """The field of `kubemu.pb.Object` that holds this kind."""

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def resource(self) -> str:
        """`pods`, `replicasets.apps`: the name kubectl prints in `<resource>/<name>`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS: tuple[KindInfo, ...] = (
    KindInfo("Namespace", "v1", "namespaces", ("ns",), False, core_pb2.Namespace, "namespace"),
    KindInfo("Pod", "v1", "pods", ("po",), True, core_pb2.Pod, "pod"),
    KindInfo("Node", "v1", "nodes", ("no",), False, core_pb2.Node, "node"),
    KindInfo("Event", "v1", "events", ("ev",), True, core_pb2.Event, "event"),
    KindInfo(
        "ReplicationController", "v1", "replicationcontrollers", ("rc",), True,
        core_pb2.ReplicationController, "replication_controller",
    ),
    KindInfo("ReplicaSet", "apps/v1", "replicasets", ("rs",), True, apps_pb2.ReplicaSet, "replica_set"),
    KindInfo("Deployment", "apps/v1", "deployments", ("deploy",), True, apps_pb2.Deployment, "deployment"),
    KindInfo("DaemonSet", "apps/v1", "daemonsets", ("ds",), True, apps_pb2.DaemonSet, "daemon_set"),
    KindInfo("Job", "batch/v1", "jobs", (), True, batch_pb2.Job, "job"),
    KindInfo("Lease", "coordination.k8s.io/v1", "leases", (), True, coordination_pb2.Lease, "lease"),
)

_BY_KIND = {k.kind: k for k in KINDS}
_BY_MESSAGE = {k.message.DESCRIPTOR.full_name: k for k in KINDS}
_BY_NAME: dict[str, KindInfo] = {}
for _k in KINDS:
    for _n in (_k.kind.lower(), _k.plural, _k.resource, *_k.short_names):
        _BY_NAME[_n] = _k


class UnknownKind(LookupError):
    pass


def by_kind(kind: str) -> KindInfo:
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UnknownKind(f'no kind "{kind}" is registered') from None


def by_resource(name: str) -> KindInfo:
    """Look a kind up the way kubectl does: `pods`, `pod`, `po`, `replicasets.apps`, `Pod`."""
    key = name.lower()
    if key in _BY_NAME:
        return _BY_NAME[key]
    raise UnknownKind(f'the server doesn\'t have a resource type "{name}"')


def of_message(obj: Message) -> KindInfo:
    return _BY_MESSAGE[obj.DESCRIPTOR.full_name]


def wrap(obj: Message) -> api_pb2.Object:
    """Put an object into the `Object` envelope the API service speaks (runtime.Unknown's shape)."""
    info = of_message(obj)
    return api_pb2.Object(api_version=info.api_version, kind=info.kind, raw=obj.SerializeToString())


def kind_of_envelope(env: api_pb2.Object) -> KindInfo:
    """The registered kind an envelope names; ValueError when it names none or another version of it."""
    if not env.kind:
        raise ValueError("the object envelope is empty")
    info = _BY_KIND.get(env.kind)
    if info is None or info.api_version != env.api_version:
        raise UnknownKind(f'no kind "{env.kind}" is registered for version "{env.api_version}"')
    return info


def unwrap(env: api_pb2.Object) -> Any:
    """The object inside an `Object` envelope, decoded as the message of the kind it names."""
    if env.content_type:
        raise ValueError(f'objects encoded as "{env.content_type}" are not served')
    return kind_of_envelope(env).message.FromString(env.raw)


def all_kinds() -> Iterator[KindInfo]:
    return iter(KINDS)
