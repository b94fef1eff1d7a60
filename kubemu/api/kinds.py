"""The registry of kinds: names, API groups, scope, protobuf message and discovery data (verbs, subresources,
categories) of each, as upstream spells them; `register` is the one place a kind is made known."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from kubemu.pb import (
    api_pb2,
    apps_pb2,
    batch_pb2,
    coordination_pb2,
    core_pb2,
    discovery_pb2,
    networking_pb2,
    rbac_pb2,
    scheduling_pb2,
    storage_pb2,
)

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
"""What discovery lists for a kind served with every verb (a plain RESTStorage with Create, Update, Delete,
DeleteCollection, Get, List, Watch and Patch upstream)."""


@dataclass(frozen=True)
class KindInfo:
    """One kind, with all that discovery (APIResource upstream) says of it: a kind registered here is served, listed
    by `kubemu api-resources`, reachable with `Client.resource` and collected by the garbage collector."""

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
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    """The subresources upstream serves for the kind (`status`, `scale`, `binding`, `log`, `exec`, ...)."""
    categories: tuple[str, ...] = ()
    """The categories the kind is in: `all` is what `kubectl get all` lists."""
    singular: str = ""
    """The singular resource name; "" means the lower-cased kind, as upstream defaults it."""

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def resource(self) -> str:
        """`pods`, `replicasets.apps`: the name kubectl prints in `<resource>/<name>`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


_WORKLOAD_SUBRESOURCES = ("scale", "status")
_NAMESPACE_VERBS = tuple(v for v in ALL_VERBS if v != "deletecollection")

# As kube-apiserver v1.32's discovery lists them (`kubectl api-resources -o wide`), limited to the subresources
# kubemu has a use for.
KINDS: tuple[KindInfo, ...] = (
    KindInfo("Namespace", "v1", "namespaces", ("ns",), False, core_pb2.Namespace,
             verbs=_NAMESPACE_VERBS, subresources=("finalize", "status")),
    KindInfo("Pod", "v1", "pods", ("po",), True, core_pb2.Pod,
             subresources=("attach", "binding", "eviction", "exec", "log", "portforward", "status"),
             categories=("all",)),
    KindInfo("Node", "v1", "nodes", ("no",), False, core_pb2.Node, subresources=("status",)),
    KindInfo("Event", "v1", "events", ("ev",), True, core_pb2.Event),
    KindInfo(
        "ReplicationController", "v1", "replicationcontrollers", ("rc",), True,
        core_pb2.ReplicationController,
        subresources=_WORKLOAD_SUBRESOURCES, categories=("all",),
    ),
    KindInfo("ReplicaSet", "apps/v1", "replicasets", ("rs",), True, apps_pb2.ReplicaSet,
             subresources=_WORKLOAD_SUBRESOURCES, categories=("all",)),
    KindInfo("Deployment", "apps/v1", "deployments", ("deploy",), True, apps_pb2.Deployment,
             subresources=_WORKLOAD_SUBRESOURCES, categories=("all",)),
    KindInfo("DaemonSet", "apps/v1", "daemonsets", ("ds",), True, apps_pb2.DaemonSet,
             subresources=("status",), categories=("all",)),
    KindInfo("Job", "batch/v1", "jobs", (), True, batch_pb2.Job, subresources=("status",),
             categories=("all",)),
    KindInfo("Lease", "coordination.k8s.io/v1", "leases", (), True, coordination_pb2.Lease),
    KindInfo("ConfigMap", "v1", "configmaps", ("cm",), True, core_pb2.ConfigMap),
    KindInfo("Secret", "v1", "secrets", (), True, core_pb2.Secret),
    KindInfo("ServiceAccount", "v1", "serviceaccounts", ("sa",), True, core_pb2.ServiceAccount,
             subresources=("token",)),
    KindInfo("Service", "v1", "services", ("svc",), True, core_pb2.Service, subresources=("status",),
             categories=("all",)),
    KindInfo("Endpoints", "v1", "endpoints", ("ep",), True, core_pb2.Endpoints),
    KindInfo("PersistentVolume", "v1", "persistentvolumes", ("pv",), False, core_pb2.PersistentVolume,
             subresources=("status",)),
    KindInfo("PersistentVolumeClaim", "v1", "persistentvolumeclaims", ("pvc",), True,
             core_pb2.PersistentVolumeClaim, subresources=("status",)),
    KindInfo("LimitRange", "v1", "limitranges", ("limits",), True, core_pb2.LimitRange),
    KindInfo("ResourceQuota", "v1", "resourcequotas", ("quota",), True, core_pb2.ResourceQuota,
             subresources=("status",)),
    KindInfo("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", (), True, discovery_pb2.EndpointSlice),
    KindInfo("Ingress", "networking.k8s.io/v1", "ingresses", ("ing",), True, networking_pb2.Ingress,
             subresources=("status",)),
    KindInfo("IngressClass", "networking.k8s.io/v1", "ingressclasses", (), False, networking_pb2.IngressClass),
    KindInfo("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies", ("netpol",), True,
             networking_pb2.NetworkPolicy),
    KindInfo("IPAddress", "networking.k8s.io/v1", "ipaddresses", ("ip",), False, networking_pb2.IPAddress),
    KindInfo("ServiceCIDR", "networking.k8s.io/v1", "servicecidrs", (), False, networking_pb2.ServiceCIDR,
             subresources=("status",)),
    KindInfo("Role", "rbac.authorization.k8s.io/v1", "roles", (), True, rbac_pb2.Role),
    KindInfo("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", (), False, rbac_pb2.ClusterRole),
    KindInfo("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", (), True, rbac_pb2.RoleBinding),
    KindInfo("ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings", (), False,
             rbac_pb2.ClusterRoleBinding),
    KindInfo("PriorityClass", "scheduling.k8s.io/v1", "priorityclasses", ("pc",), False,
             scheduling_pb2.PriorityClass),
    KindInfo("StorageClass", "storage.k8s.io/v1", "storageclasses", ("sc",), False, storage_pb2.StorageClass),
    KindInfo("CSINode", "storage.k8s.io/v1", "csinodes", (), False, storage_pb2.CSINode),
    KindInfo("CSIDriver", "storage.k8s.io/v1", "csidrivers", (), False, storage_pb2.CSIDriver),
)

_BY_KIND: dict[str, KindInfo] = {}
_BY_MESSAGE: dict[str, KindInfo] = {}
_BY_NAME: dict[str, KindInfo] = {}


def _names(info: KindInfo) -> tuple[str, ...]:
    return (info.kind.lower(), info.singular, info.plural, info.resource, *info.short_names)


def register(info: KindInfo) -> None:
    """Add a kind: the one place a kind is made known to the SDK (and through it to the apiserver, the CLI and
    the controllers). A second registration of the same kind is refused."""
    if info.kind in _BY_KIND:
        raise ValueError(f'kind "{info.kind}" is already registered')
    taken = _BY_MESSAGE.get(info.message.DESCRIPTOR.full_name)
    if taken is not None:
        raise ValueError(f'kind "{info.kind}" would share its message with "{taken.kind}"')
    _BY_KIND[info.kind] = info
    _BY_MESSAGE[info.message.DESCRIPTOR.full_name] = info
    for name in _names(info):
        _BY_NAME[name] = info


def unregister(kind: str) -> None:
    """Forget a kind added with `register` (tests register made-up kinds for a while)."""
    info = _BY_KIND.pop(kind)
    if _BY_MESSAGE.get(info.message.DESCRIPTOR.full_name) is info:
        del _BY_MESSAGE[info.message.DESCRIPTOR.full_name]
    for name in _names(info):
        if _BY_NAME.get(name) is info:
            del _BY_NAME[name]


for _k in KINDS:
    register(_k)


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


GROUP_ORDER = (
    "", "apiregistration.k8s.io", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
    "autoscaling", "batch", "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io",
    "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "resource.k8s.io", "flowcontrol.apiserver.k8s.io",
)
"""The order kube-apiserver 1.35 lists its API groups in (their APIService priorities); other groups follow."""


def discovery_order(info: KindInfo) -> tuple[int, str]:
    """Where a kind's resource comes in discovery: by its group's place, then by name within the group, as
    kube-apiserver sorts each APIResourceList."""
    group = GROUP_ORDER.index(info.group) if info.group in GROUP_ORDER else len(GROUP_ORDER)
    return group, info.plural


def in_category(category: str) -> list[KindInfo]:
    """The kinds a category (`all`) names, in discovery order: what `kubectl get <category>` lists."""
    return sorted((k for k in all_kinds() if category in k.categories), key=discovery_order)


def of_message(obj: Message) -> KindInfo:
    return _BY_MESSAGE[obj.DESCRIPTOR.full_name]


def wrap(obj: Message) -> api_pb2.Object:
    """Put an object into the `Object` envelope the API service speaks (runtime.Unknown's shape)."""
    info = of_message(obj)
    return api_pb2.Object(api_version=info.api_version, kind=info.kind, raw=obj.SerializeToString())


def kind_of_envelope(env: api_pb2.Object) -> KindInfo:
    """The registered kind an envelope names: ValueError when it names none, UnknownKind when no registered kind
    has that name in that version."""
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
    """Every registered kind, in the order of registration."""
    return iter(list(_BY_KIND.values()))
