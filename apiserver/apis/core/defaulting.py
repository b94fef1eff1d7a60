"""Defaulting of the core/v1 kinds: the v1 SetDefaults_* functions for pods, pod templates, namespaces, nodes and
replication controllers, plus the admission plugin that fills pods in (DefaultTolerationSeconds; Priority is
apiserver/admission/priority.py).

Sources: pkg/apis/core/v1/defaults.go, plugin/pkg/admission/defaulttolerationseconds (v1.32).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable

from kubemu.api.qos import qos_class
from kubemu.pb import core_pb2

DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
DEFAULT_TOLERATION_SECONDS = 300
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
LABEL_METADATA_NAME = "kubernetes.io/metadata.name"

# The docker reference grammar (github.com/distribution/reference), enough to find the tag as
# ParseImageName does; an image it cannot parse gets no tag, hence IfNotPresent.
_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_RE = re.compile(
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def image_tag(image: str) -> str:
    """The tag ParseImageName reports: `latest` when neither tag nor digest is given, "" on a digest only."""
    m = _IMAGE_RE.match(image)
    if m is None:
        return ""
    tag, digest = m.group("tag"), m.group("digest")
    if not tag and not digest:
        return "latest"
    return tag or ""


# ---- pod spec (SetDefaults_PodSpec and the nested types) --------------------------------------------


def _default_probe(probe: core_pb2.Probe) -> None:
    if probe.timeout_seconds == 0:
        probe.timeout_seconds = 1
    if probe.period_seconds == 0:
        probe.period_seconds = 10
    if probe.success_threshold == 0:
        probe.success_threshold = 1
    if probe.failure_threshold == 0:
        probe.failure_threshold = 3
    if probe.HasField("http_get"):
        if not probe.http_get.path:
            probe.http_get.path = "/"
        if not probe.http_get.scheme:
            probe.http_get.scheme = "HTTP"
    if probe.HasField("grpc") and not probe.grpc.HasField("service"):
        probe.grpc.service = ""  # `+default=""` on GRPCAction.Service


def _default_container(c: core_pb2.Container) -> None:
    if not c.image_pull_policy:
        c.image_pull_policy = "Always" if image_tag(c.image) == "latest" else "IfNotPresent"
    if not c.termination_message_path:
        c.termination_message_path = TERMINATION_MESSAGE_PATH_DEFAULT
    if not c.termination_message_policy:
        c.termination_message_policy = "File"
    for port in c.ports:
        if not port.protocol:
            port.protocol = "TCP"
    for ev in c.env:
        if (
            ev.HasField("value_from")
            and ev.value_from.HasField("field_ref")
            and not ev.value_from.field_ref.api_version
        ):
            ev.value_from.field_ref.api_version = "v1"
    for fld in ("liveness_probe", "readiness_probe", "startup_probe"):
        if c.HasField(fld):
            _default_probe(getattr(c, fld))
    if c.HasField("lifecycle"):
        _default_lifecycle(c)


def _default_volume_sources(vol: core_pb2.Volume) -> None:
    """SetDefaults_{ConfigMap,Secret,DownwardAPI,Projected,Image}VolumeSource, ObjectFieldSelector,
    ServiceAccountTokenProjection and PersistentVolumeClaimSpec, for the sources a volume can have."""
    for fld in ("config_map", "secret", "downward_api", "projected"):
        if vol.HasField(fld) and not getattr(vol, fld).HasField("default_mode"):
            getattr(vol, fld).default_mode = 0o644
    files = list(vol.downward_api.items)
    for source in vol.projected.sources:
        files += source.downward_api.items
        if source.HasField("service_account_token") and not source.service_account_token.HasField(
            "expiration_seconds"
        ):
            source.service_account_token.expiration_seconds = 3600
    for f in files:
        if f.HasField("field_ref") and not f.field_ref.api_version:
            f.field_ref.api_version = "v1"
    if vol.HasField("image") and not vol.image.pull_policy:
        vol.image.pull_policy = "Always" if image_tag(vol.image.reference) in ("", "latest") else "IfNotPresent"
    claim = vol.ephemeral.volume_claim_template
    if vol.ephemeral.HasField("volume_claim_template") and not claim.spec.HasField("volume_mode"):
        claim.spec.volume_mode = "Filesystem"


def _default_lifecycle(c: core_pb2.Container) -> None:
    """SetDefaults_HTTPGetAction applies to lifecycle handlers as to probes."""
    for handler in (c.lifecycle.post_start, c.lifecycle.pre_stop):
        if handler.HasField("http_get"):
            if not handler.http_get.path:
                handler.http_get.path = "/"
            if not handler.http_get.scheme:
                handler.http_get.scheme = "HTTP"


def _default_host_network_ports(containers: Iterable[core_pb2.Container]) -> None:
    for c in containers:
        for port in c.ports:
            if port.host_port == 0:
                port.host_port = port.container_port


def default_pod_spec(spec: core_pb2.PodSpec) -> None:
    """SetDefaults_PodSpec and what it nests: what a Pod and every pod template get."""
    if not spec.dns_policy:
        spec.dns_policy = "ClusterFirst"
    if not spec.restart_policy:
        spec.restart_policy = "Always"
    # hostNetwork ports are not defaulted here: DefaultHostNetworkHostPortsInPodTemplates is off in v1.32;
    # Pods get them in default_pod.
    if not spec.HasField("security_context"):
        spec.security_context.SetInParent()
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if not spec.scheduler_name:
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME
    for vol in spec.volumes:
        if not any(vol.HasField(f.name) for f in vol.DESCRIPTOR.fields if f.message_type):  # type: ignore[arg-type]
            vol.empty_dir.SetInParent()  # a volume without a source is an emptyDir
        if vol.HasField("host_path") and not vol.host_path.HasField("type"):
            vol.host_path.type = ""
        _default_volume_sources(vol)
    for c in (*spec.init_containers, *spec.containers):
        _default_container(c)


def _default_pod_template(template: core_pb2.PodTemplateSpec) -> None:
    default_pod_spec(template.spec)


# ---- Pod ---------------------------------------------------------------------------------------------


def _requests_from_limits(containers: Iterable[core_pb2.Container]) -> None:
    # Only Pods, not templates, get this (SetDefaults_Pod), so a template's QoS is not decided early.
    for c in containers:
        for name, value in c.resources.limits.items():
            if name not in c.resources.requests:
                c.resources.requests[name] = value


def _tolerates(tolerations: Iterable[core_pb2.Toleration], key: str) -> bool:
    return any((t.key == key or not t.key) and (t.effect == "NoExecute" or not t.effect) for t in tolerations)


def add_default_tolerations(spec: core_pb2.PodSpec, seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """The DefaultTolerationSeconds admission plugin: tolerate not-ready and unreachable nodes for a while."""
    for key in (TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE):
        if not _tolerates(spec.tolerations, key):
            spec.tolerations.add(key=key, operator="Exists", effect="NoExecute", toleration_seconds=seconds)


SPEC_MEMO_SIZE = 256
_spec_memo: OrderedDict[tuple[bytes, int], tuple[bytes, str]] = OrderedDict()


def default_pod(pod: core_pb2.Pod, default_toleration_seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    """A Pod's defaults (its spec's and its QoS class).

    They depend on the spec alone, so the last SPEC_MEMO_SIZE defaulted specs are kept by the spec's
    deterministic serialization: the pods of one ReplicaSet, Job or DaemonSet are defaulted once, and the
    others get the kept result parsed back."""
    spec = pod.spec
    key = (spec.SerializeToString(deterministic=True), default_toleration_seconds)
    kept = _spec_memo.get(key)
    if kept is not None:
        _spec_memo.move_to_end(key)
        spec.ParseFromString(kept[0])
        pod.status.qos_class = kept[1]
        return
    qos = _default_pod_uncached(spec, default_toleration_seconds)
    pod.status.qos_class = qos
    _spec_memo[key] = (spec.SerializeToString(deterministic=True), qos)
    if len(_spec_memo) > SPEC_MEMO_SIZE:
        _spec_memo.popitem(last=False)


def _default_pod_uncached(spec: core_pb2.PodSpec, default_toleration_seconds: int) -> str:
    """default_pod's work on the spec; returns the QoS class."""
    default_pod_spec(spec)
    _requests_from_limits(spec.containers)
    _requests_from_limits(spec.init_containers)
    if not spec.HasField("enable_service_links"):
        spec.enable_service_links = True
    if spec.host_network:
        _default_host_network_ports(spec.containers)
        _default_host_network_ports(spec.init_containers)
    add_default_tolerations(spec, default_toleration_seconds)
    return qos_class(spec)


# ---- other core kinds -------------------------------------------------------------------------------


def default_namespace(ns: core_pb2.Namespace) -> None:
    if ns.metadata.name:
        # The name label lets selectors pick namespaces by name (SetDefaults_Namespace).
        ns.metadata.labels[LABEL_METADATA_NAME] = ns.metadata.name
    if not ns.status.phase:
        ns.status.phase = "Active"


def default_node(node: core_pb2.Node) -> None:
    if not node.status.allocatable and node.status.capacity:
        node.status.allocatable.update(node.status.capacity)


def default_replication_controller(rc: core_pb2.ReplicationController) -> None:
    spec = rc.spec
    if spec.HasField("template") and spec.template.metadata.labels:
        template_labels = dict(spec.template.metadata.labels)
        if not spec.selector:
            spec.selector.update(template_labels)
        if not rc.metadata.labels:
            rc.metadata.labels.update(template_labels)
    if not spec.HasField("replicas"):
        spec.replicas = 1
    if spec.HasField("template"):
        _default_pod_template(spec.template)
