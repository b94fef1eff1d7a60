"""Create and update validation of the core/v1 kinds (pod spec, containers, volumes, probes, Pod, Node, Namespace,
Event, ReplicationController), reproducing kube-apiserver v1.32's rules and messages (pkg/apis/core/validation).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence

from google.protobuf.message import Message

from apiserver.validation import (
    DUPLICATE,
    IS_NEGATIVE_MSG,
    MAX_INT32,
    NOT_INTEGER_MSG,
    NOT_POSITIVE_MSG,
    FieldError,
    GoValue,
    _child,
    _go_quote,
    _nonnegative,
    _qualified_name,
    _validate_annotations,
    _validate_label_selector,
    _validate_labels,
    duplicate,
    forbidden,
    invalid,
    name_is_dns_label,
    name_is_dns_subdomain,
    not_found,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.api import labels, names
from kubemu.api.quantity import Quantity, QuantityError, parse_quantity
from kubemu.pb import core_pb2, meta_pb2

# ---- quantities and resources -----------------------------------------------------------------------

_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
_STANDARD_RESOURCES = _STANDARD_CONTAINER_RESOURCES | {
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
}


def _is_hugepages(name: str) -> bool:
    return name.startswith("hugepages-")


def _is_native(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_extended(name: str) -> bool:
    if _is_native(name) or name.startswith("requests."):
        return False
    return not labels.validate_label_key("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native(name) and not _is_hugepages(name)


def _validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    errs = [invalid(path, name, m) for m in labels.validate_label_key(name)]
    if errs:
        return errs
    if "/" not in name:
        if name not in _STANDARD_RESOURCES and not _is_hugepages(name) and not name.startswith("requests.hugepages-"):
            errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.append(invalid(path, name, "must be a standard resource for containers"))
    elif not _is_native(name) and not _is_extended(name):
        errs.append(invalid(path, name, "doesn't follow extended resource name standard"))
    return errs


def _parse(raw: str, path: str, errs: list[FieldError]) -> Quantity | None:
    try:
        return parse_quantity(raw)
    except QuantityError as e:
        # Upstream rejects these while decoding JSON; here they surface as the field's invalid value.
        errs.append(invalid(path, raw, str(e)))
        return None


def _quantity_value(name: str, q: Quantity, path: str) -> list[FieldError]:
    """ValidateResourceQuantityValue: non-negative, and whole for integer (extended) resources."""
    errs: list[FieldError] = []
    if q.milli_value() < 0:
        errs.append(invalid(path, str(q), IS_NEGATIVE_MSG))
    if _is_extended(name) and q.milli_value() % 1000 != 0:
        errs.append(invalid(path, GoValue(str(q)), NOT_INTEGER_MSG))
    return errs


def _validate_resources(res: core_pb2.ResourceRequirements, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    lim_path, req_path = _child(path, "limits"), _child(path, "requests")
    limits: dict[str, Quantity] = {}
    for name, raw in res.limits.items():
        p = f"{lim_path}[{name}]"
        errs += _validate_container_resource_name(name, p)
        q = _parse(raw, p, errs)
        if q is not None:
            limits[name] = q
            errs += _quantity_value(name, q, p)
    for name, raw in res.requests.items():
        p = f"{req_path}[{name}]"
        errs += _validate_container_resource_name(name, p)
        q = _parse(raw, p, errs)
        if q is None:
            continue
        errs += _quantity_value(name, q, p)
        lim = limits.get(name)
        if lim is not None:
            if q != lim and not _overcommit_allowed(name):
                errs.append(invalid(req_path, str(q), f"must be equal to {name} limit of {lim}"))
            elif q > lim:
                errs.append(invalid(req_path, str(q), f"must be less than or equal to {name} limit of {lim}"))
        elif name not in res.limits and not _overcommit_allowed(name):
            errs.append(required(lim_path, "Limit must be set for non overcommitable resources"))
    cpu_mem = any(n in ("cpu", "memory") for n in (*res.limits, *res.requests))
    if not cpu_mem and any(_is_hugepages(n) for n in (*res.limits, *res.requests)):
        errs.append(forbidden(path, "HugePages require cpu or memory"))
    return errs


# ---- containers -------------------------------------------------------------------------------------

_PORT_NAME_RE = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER_RE = re.compile(r"[a-z]")
_RELAXED_ENV_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
_PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"


def _port_num_errors(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [_PORT_RANGE_MSG]


def _port_name_errors(name: str) -> list[str]:
    """IsValidPortName (apimachinery/pkg/util/validation)."""
    errs: list[str] = []
    if len(name) > 15:
        errs.append("must be no more than 15 characters")
    if not _PORT_NAME_RE.match(name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    if not _HAS_LETTER_RE.search(name):
        errs.append("must contain at least one letter (a-z)")
    return errs


def _validate_ports(ports: Sequence[core_pb2.ContainerPort], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        p = f"{path}[{i}]"
        if port.name:
            msgs = _port_name_errors(port.name)
            if msgs:
                errs += [invalid(_child(p, "name"), port.name, m) for m in msgs]
            elif port.name in seen:
                errs.append(duplicate(_child(p, "name"), port.name))
            else:
                seen.add(port.name)
        if port.container_port == 0:
            errs.append(required(_child(p, "containerPort")))
        else:
            errs += [
                invalid(_child(p, "containerPort"), port.container_port, m)
                for m in _port_num_errors(port.container_port)
            ]
        if port.host_port != 0:
            errs += [invalid(_child(p, "hostPort"), port.host_port, m) for m in _port_num_errors(port.host_port)]
        if not port.protocol:
            errs.append(required(_child(p, "protocol")))
        elif port.protocol not in ("SCTP", "TCP", "UDP"):
            errs.append(not_supported(_child(p, "protocol"), port.protocol, ["SCTP", "TCP", "UDP"]))
    return errs


_ENV_FIELD_PATHS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
]
_ENV_RESOURCE_PATHS = [
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
]


def _validate_env(env: Sequence[core_pb2.EnvVar], path: str) -> list[FieldError]:
    from apiserver.apis.core.env import key_ref_sources, validate_key_refs

    errs: list[FieldError] = []
    for i, ev in enumerate(env):
        p = f"{path}[{i}]"
        if not ev.name:
            errs.append(required(_child(p, "name")))
        elif any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in ev.name):
            # RelaxedEnvironmentVariableValidation is beta and on in v1.32.
            errs.append(invalid(_child(p, "name"), ev.name, _RELAXED_ENV_MSG))
        if not ev.HasField("value_from"):
            continue
        vp = _child(p, "valueFrom")
        src = ev.value_from
        sources = int(src.HasField("field_ref")) + int(src.HasField("resource_field_ref")) + key_ref_sources(src)
        if src.HasField("field_ref"):
            fr, fp = src.field_ref, _child(vp, "fieldRef")
            if not fr.api_version:
                errs.append(required(_child(fp, "apiVersion")))
            elif not fr.field_path:
                errs.append(required(_child(fp, "fieldPath")))
            else:
                m = re.fullmatch(r"(metadata\.(?:labels|annotations))\['(.*)'\]", fr.field_path)
                if m:
                    key = m.group(2).lower() if m.group(1).endswith("annotations") else m.group(2)
                    errs += _qualified_name(key, fp)
                elif fr.field_path not in _ENV_FIELD_PATHS:
                    errs.append(not_supported(_child(fp, "fieldPath"), fr.field_path, sorted(_ENV_FIELD_PATHS)))
        if src.HasField("resource_field_ref"):
            rf, rp = src.resource_field_ref, _child(vp, "resourceFieldRef")
            if not rf.resource:
                errs.append(required(_child(rp, "resource")))
            elif rf.resource not in _ENV_RESOURCE_PATHS and not rf.resource.startswith(
                ("requests.hugepages-", "limits.hugepages-")
            ):
                errs.append(not_supported(_child(rp, "resource"), rf.resource, _ENV_RESOURCE_PATHS))
        errs += validate_key_refs(src, vp)
        if sources == 0:
            errs.append(
                invalid(
                    vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
                )
            )
        elif ev.value:
            errs.append(invalid(vp, "", "may not be specified when `value` is not empty"))
        elif sources > 1:
            errs.append(invalid(vp, "", "may not have more than one field specified at a time"))
    return errs


def _validate_volume_mounts(mounts: Sequence[core_pb2.VolumeMount], volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    mount_points: set[str] = set()
    for i, m in enumerate(mounts):
        p = f"{path}[{i}]"
        if not m.name:
            errs.append(required(_child(p, "name")))
        if m.name not in volumes:
            errs.append(not_found(_child(p, "name"), m.name))
        if not m.mount_path:
            errs.append(required(_child(p, "mountPath")))
        if m.mount_path in mount_points:
            errs.append(invalid(_child(p, "mountPath"), m.mount_path, "must be unique"))
        mount_points.add(m.mount_path)
        if m.sub_path:
            errs += _local_descending_path(m.sub_path, _child(path, "subPath"))
    return errs


def _local_descending_path(target: str, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    if ".." in target.replace("\\", "/").split("/"):
        errs.append(invalid(path, target, "must not contain '..'"))
    return errs


def _validate_port_num_or_name(port: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    kind = port.WhichOneof("value")
    if kind == "str_val":
        return [invalid(path, port.str_val, m) for m in _port_name_errors(port.str_val)]
    value = port.int_val
    return [invalid(path, value, m) for m in _port_num_errors(value)]


def _validate_handler(probe: core_pb2.Probe, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    if probe.HasField("exec"):
        count += 1
        if not probe.exec.command:
            errs.append(required(_child(path, "exec", "command")))
    for fld, json_name in (("http_get", "httpGet"), ("tcp_socket", "tcpSocket"), ("grpc", "grpc")):
        if not probe.HasField(fld):  # type: ignore[arg-type]
            continue
        hp = _child(path, json_name)
        if count > 0:
            errs.append(forbidden(hp, "may not specify more than 1 handler type"))
            continue
        count += 1
        if fld == "http_get":
            hg = probe.http_get
            if not hg.path:
                errs.append(required(_child(hp, "path")))
            errs += _validate_port_num_or_name(hg.port, _child(hp, "port"))
            if hg.scheme not in ("HTTP", "HTTPS"):
                errs.append(not_supported(_child(hp, "scheme"), hg.scheme, ["HTTP", "HTTPS"]))
        elif fld == "tcp_socket":
            errs += _validate_port_num_or_name(probe.tcp_socket.port, _child(hp, "port"))
        else:
            errs += [invalid(_child(hp, "port"), probe.grpc.port, m) for m in _port_num_errors(probe.grpc.port)]
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_probe(probe: core_pb2.Probe, path: str, kind: str) -> list[FieldError]:
    errs = _validate_handler(probe, path)
    errs += _nonnegative(probe.initial_delay_seconds, _child(path, "initialDelaySeconds"))
    errs += _nonnegative(probe.timeout_seconds, _child(path, "timeoutSeconds"))
    errs += _nonnegative(probe.period_seconds, _child(path, "periodSeconds"))
    errs += _nonnegative(probe.success_threshold, _child(path, "successThreshold"))
    errs += _nonnegative(probe.failure_threshold, _child(path, "failureThreshold"))
    if probe.HasField("termination_grace_period_seconds") and probe.termination_grace_period_seconds <= 0:
        errs.append(
            invalid(
                _child(path, "terminationGracePeriodSeconds"),
                probe.termination_grace_period_seconds,
                "must be greater than 0",
            )
        )
    if kind in ("liveness", "startup") and probe.success_threshold != 1:
        errs.append(invalid(_child(path, "successThreshold"), probe.success_threshold, "must be 1"))
    if kind == "readiness" and probe.HasField("termination_grace_period_seconds"):
        errs.append(
            invalid(
                _child(path, "terminationGracePeriodSeconds"),
                probe.termination_grace_period_seconds,
                "must not be set for readinessProbes",
            )
        )
    return errs


def _validate_probes(c: core_pb2.Container, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if c.HasField("liveness_probe"):
        errs += _validate_probe(c.liveness_probe, _child(path, "livenessProbe"), "liveness")
    if c.HasField("readiness_probe"):
        errs += _validate_probe(c.readiness_probe, _child(path, "readinessProbe"), "readiness")
    if c.HasField("startup_probe"):
        errs += _validate_probe(c.startup_probe, _child(path, "startupProbe"), "startup")
    return errs


def _validate_container_common(c: core_pb2.Container, volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not c.name:
        errs.append(required(_child(path, "name")))
    else:
        errs += [invalid(_child(path, "name"), c.name, m) for m in names.validate_dns1123_label(c.name)]
    if not c.image:
        errs.append(required(_child(path, "image")))
    policy = c.termination_message_policy
    if not policy:
        errs.append(required(_child(path, "terminationMessagePolicy")))
    elif policy not in ("File", "FallbackToLogsOnError"):
        errs.append(not_supported(_child(path, "terminationMessagePolicy"), policy, ["File", "FallbackToLogsOnError"]))
    errs += _validate_ports(c.ports, _child(path, "ports"))
    errs += _validate_env(c.env, _child(path, "env"))
    from apiserver.apis.core.env import validate_env_from

    errs += validate_env_from(c.env_from, _child(path, "envFrom"))
    errs += _validate_volume_mounts(c.volume_mounts, volumes, _child(path, "volumeMounts"))
    pull = c.image_pull_policy
    if not pull:
        errs.append(required(_child(path, "imagePullPolicy")))
    elif pull not in ("Always", "IfNotPresent", "Never"):
        errs.append(not_supported(_child(path, "imagePullPolicy"), pull, ["Always", "IfNotPresent", "Never"]))
    errs += _validate_resources(c.resources, _child(path, "resources"))
    return errs


def _host_port_conflicts(containers: Sequence[core_pb2.Container], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(c.ports):
            if port.host_port == 0:
                continue
            key = f"{port.protocol}/{port.host_ip}/{port.host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def _validate_containers(spec: core_pb2.PodSpec, volumes: set[str], path: str) -> list[FieldError]:
    cpath = _child(path, "containers")
    if not spec.containers:
        return [required(cpath)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, c in enumerate(spec.containers):
        p = f"{cpath}[{i}]"
        errs += _validate_container_common(c, volumes, p)
        if c.name in seen:
            errs.append(duplicate(_child(p, "name"), c.name))
        seen.add(c.name)
        errs += _validate_probes(c, p)
        if c.HasField("restart_policy"):
            errs.append(forbidden(_child(p, "restartPolicy"), "may not be set for non-init containers"))
    errs += _host_port_conflicts(spec.containers, cpath)
    return errs


def _validate_init_containers(spec: core_pb2.PodSpec, volumes: set[str], path: str) -> list[FieldError]:
    ipath = _child(path, "initContainers")
    errs: list[FieldError] = []
    # Names are unique across regular and init containers.
    seen = {c.name for c in spec.containers}
    for i, c in enumerate(spec.init_containers):
        p = f"{ipath}[{i}]"
        errs += _validate_container_common(c, volumes, p)
        restart_always = False
        if c.HasField("restart_policy"):
            if c.restart_policy != "Always":
                errs.append(not_supported(_child(p, "restartPolicy"), c.restart_policy, ["Always"]))
            restart_always = c.restart_policy == "Always"
        if c.name in seen:
            errs.append(duplicate(_child(p, "name"), c.name))
        elif c.name:
            seen.add(c.name)
        # Init containers run one by one, so their host ports only conflict within one container.
        errs += _host_port_conflicts([c], ipath)
        if restart_always:
            errs += _validate_probes(c, p)
        else:
            for fld, json_name in (
                ("liveness_probe", "livenessProbe"),
                ("readiness_probe", "readinessProbe"),
                ("startup_probe", "startupProbe"),
            ):
                if c.HasField(fld):  # type: ignore[arg-type]
                    errs.append(
                        forbidden(
                            _child(p, json_name), "may not be set for init containers without restartPolicy=Always"
                        )
                    )
    return errs


# ---- pod spec ---------------------------------------------------------------------------------------


def _validate_volumes(volumes: Sequence[core_pb2.Volume], path: str) -> tuple[set[str], list[FieldError]]:
    errs: list[FieldError] = []
    ok: set[str] = set()
    for i, vol in enumerate(volumes):
        p = f"{path}[{i}]"
        from apiserver.apis.core.volumes import validate_volume_source

        el = validate_volume_source(vol, p)
        if not vol.name:
            el.append(required(_child(p, "name")))
        else:
            el += [invalid(_child(p, "name"), vol.name, m) for m in names.validate_dns1123_label(vol.name)]
        if vol.name in ok:
            el.append(duplicate(_child(p, "name"), vol.name))
        if el:
            errs += el
        else:
            ok.add(vol.name)
    return ok, errs


_TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _validate_taint_effect(effect: str, allow_empty: bool, path: str) -> list[FieldError]:
    if not allow_empty and not effect:
        return [required(path)]
    if effect not in _TAINT_EFFECTS:
        return [not_supported(path, effect, _TAINT_EFFECTS)]
    return []


def _validate_tolerations(tolerations: Sequence[core_pb2.Toleration], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, t in enumerate(tolerations):
        p = f"{path}[{i}]"
        if t.key:
            errs += _qualified_name(t.key, _child(p, "key"))
        if not t.key and t.operator != "Exists":
            errs.append(
                invalid(
                    _child(p, "operator"),
                    t.operator,
                    'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                )
            )
        if t.HasField("toleration_seconds") and t.effect != "NoExecute":
            errs.append(
                invalid(_child(p, "effect"), t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set")
            )
        if t.operator in ("Equal", ""):
            msgs = labels.validate_label_value(t.value)
            if msgs:
                errs.append(invalid(_child(p, "operator"), t.value, ";".join(msgs)))
        elif t.operator == "Exists":
            if t.value:
                errs.append(invalid(_child(p, "operator"), t.value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(_child(p, "operator"), t.operator, ["Equal", "Exists"]))
        if t.effect:
            errs += _validate_taint_effect(t.effect, True, _child(p, "effect"))
    return errs


def _validate_node_selector_term(term: core_pb2.NodeSelectorTerm, check_values: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for j, req in enumerate(term.match_expressions):
        p = f"{_child(path, 'matchExpressions')}[{j}]"
        if req.operator in ("In", "NotIn"):
            if not req.values:
                errs.append(required(_child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif req.operator in ("Exists", "DoesNotExist"):
            if req.values:
                errs.append(
                    forbidden(_child(p, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
                )
        elif req.operator in ("Gt", "Lt"):
            if len(req.values) != 1:
                errs.append(
                    required(_child(p, "values"), "must be specified single value when `operator` is 'Lt' or 'Gt'")
                )
        else:
            errs.append(invalid(_child(p, "operator"), req.operator, "not a valid selector operator"))
        errs += _qualified_name(req.key, _child(p, "key"))
        if check_values:
            for k, v in enumerate(req.values):
                errs += [invalid(f"{_child(p, 'values')}[{k}]", v, m) for m in labels.validate_label_value(v)]
    for j, req in enumerate(term.match_fields):
        p = f"{_child(path, 'matchFields')}[{j}]"
        if req.operator in ("In", "NotIn"):
            if len(req.values) != 1:
                errs.append(
                    required(
                        _child(p, "values"),
                        "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                    )
                )
        else:
            errs.append(invalid(_child(p, "operator"), req.operator, "not a valid selector operator"))
        if req.key != "metadata.name":
            errs.append(invalid(_child(p, "key"), req.key, "not a valid field selector key"))
        else:
            for k, v in enumerate(req.values):
                errs += [invalid(f"{_child(p, 'values')}[{k}]", v, m) for m in name_is_dns_subdomain(v, False)]
    return errs


def _validate_pod_affinity_terms(terms: Sequence[core_pb2.PodAffinityTerm], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        p = f"{path}[{i}]"
        if term.HasField("label_selector"):
            errs += _validate_label_selector(term.label_selector, _child(p, "labelSelector"))
        if term.HasField("namespace_selector"):
            errs += _validate_label_selector(term.namespace_selector, _child(p, "namespaceSelector"))
        for ns in term.namespaces:
            errs += [invalid(_child(p, "namespace"), ns, m) for m in name_is_dns_label(ns, False)]
        if not term.topology_key:
            errs.append(required(_child(p, "topologyKey"), "can not be empty"))
        errs += _qualified_name(term.topology_key, _child(p, "topologyKey"))
    return errs


def _validate_affinity(aff: core_pb2.Affinity, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if aff.HasField("node_affinity"):
        na, np_ = aff.node_affinity, _child(path, "nodeAffinity")
        if na.HasField("required_during_scheduling_ignored_during_execution"):
            rp = _child(np_, "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
            terms = na.required_during_scheduling_ignored_during_execution.node_selector_terms
            if not terms:
                errs.append(required(rp, "must have at least one node selector term"))
            for i, term in enumerate(terms):
                errs += _validate_node_selector_term(term, True, f"{rp}[{i}]")
        pp = _child(np_, "preferredDuringSchedulingIgnoredDuringExecution")
        for i, pref in enumerate(na.preferred_during_scheduling_ignored_during_execution):
            if not 1 <= pref.weight <= 100:
                errs.append(invalid(f"{pp}[{i}].weight", pref.weight, "must be in the range 1-100"))
            # Preferred terms allow invalid label values: they can still match on a one-node cluster.
            errs += _validate_node_selector_term(pref.preference, False, f"{pp}[{i}].preference")
    for fld, json_name in (("pod_affinity", "podAffinity"), ("pod_anti_affinity", "podAntiAffinity")):
        if not aff.HasField(fld):  # type: ignore[arg-type]
            continue
        pa = getattr(aff, fld)
        ap = _child(path, json_name)
        errs += _validate_pod_affinity_terms(
            pa.required_during_scheduling_ignored_during_execution,
            _child(ap, "requiredDuringSchedulingIgnoredDuringExecution"),
        )
        wp = _child(ap, "preferredDuringSchedulingIgnoredDuringExecution")
        for j, wt in enumerate(pa.preferred_during_scheduling_ignored_during_execution):
            if not 1 <= wt.weight <= 100:
                errs.append(invalid(f"{wp}[{j}].weight", wt.weight, "must be in the range 1-100"))
            errs += _validate_pod_affinity_terms([wt.pod_affinity_term], f"{wp}[{j}].podAffinityTerm")
    # Affinity term paths above carry a trailing [0] for weighted terms; upstream names them without it.
    return [
        FieldError(e.type, e.field.replace(".podAffinityTerm[0]", ".podAffinityTerm"), e.detail, e.bad_value)
        for e in errs
    ]


def _validate_topology_spread(constraints: Sequence[core_pb2.TopologySpreadConstraint], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, c in enumerate(constraints):
        p = f"{path}[{i}]"
        if c.max_skew <= 0:
            errs.append(invalid(_child(p, "maxSkew"), c.max_skew, NOT_POSITIVE_MSG))
        if not c.topology_key:
            errs.append(required(_child(p, "topologyKey"), "can not be empty"))
        else:
            errs += _qualified_name(c.topology_key, _child(p, "topologyKey"))
        if c.when_unsatisfiable not in ("DoNotSchedule", "ScheduleAnyway"):
            errs.append(
                not_supported(_child(p, "whenUnsatisfiable"), c.when_unsatisfiable, ["DoNotSchedule", "ScheduleAnyway"])
            )
        for other in constraints[i + 1 :]:
            if other.topology_key == c.topology_key and other.when_unsatisfiable == c.when_unsatisfiable:
                errs.append(
                    duplicate(
                        _child(p, "{topologyKey, whenUnsatisfiable}"), f"{{{c.topology_key}, {c.when_unsatisfiable}}}"
                    )
                )
        if c.HasField("min_domains"):
            if c.min_domains <= 0:
                errs.append(invalid(_child(p, "minDomains"), c.min_domains, NOT_POSITIVE_MSG))
            if c.when_unsatisfiable != "DoNotSchedule":
                errs.append(
                    invalid(
                        _child(p, "minDomains"),
                        c.min_domains,
                        f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {c.when_unsatisfiable}",
                    )
                )
        if c.HasField("label_selector"):
            errs += _validate_label_selector(c.label_selector, _child(p, "labelSelector"))
    return errs


_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]


def _id_errors(value: int) -> list[str]:
    return [] if 0 <= value <= MAX_INT32 else [f"must be between 0 and {MAX_INT32}, inclusive"]


SPEC_MEMO_SIZE = 256
_spec_memo: OrderedDict[tuple[bytes, str, bool], tuple[FieldError, ...]] = OrderedDict()


def validate_pod_spec(spec: core_pb2.PodSpec, path: str = "spec", *, is_pod: bool = False) -> list[FieldError]:
    """ValidatePodSpec; `is_pod` is PodValidationOptions.ResourceIsPod (a Pod, not a template; then also
    ValidatePodCreate's checks of the images for whitespace).

    The answer depends on the spec's content alone, so the last SPEC_MEMO_SIZE answers are kept by the spec's
    deterministic serialization: the pods of one ReplicaSet, Job or DaemonSet are validated once."""
    key = (spec.SerializeToString(deterministic=True), path, is_pod)
    kept = _spec_memo.get(key)
    if kept is not None:
        _spec_memo.move_to_end(key)
        return list(kept)
    errs = _validate_pod_spec(spec, path, is_pod=is_pod)
    if is_pod:  # ValidatePodCreate's image checks read the spec alone too: kept with it
        errs += _image_whitespace(spec.containers, _child(path, "containers"))
        errs += _image_whitespace(spec.init_containers, _child(path, "initContainers"))
    _spec_memo[key] = tuple(errs)
    if len(_spec_memo) > SPEC_MEMO_SIZE:
        _spec_memo.popitem(last=False)
    return errs


def _validate_pod_spec(spec: core_pb2.PodSpec, path: str, *, is_pod: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if not spec.HasField("termination_grace_period_seconds"):
        errs.append(required(_child(path, "terminationGracePeriodSeconds")))
    volumes, verrs = _validate_volumes(spec.volumes, _child(path, "volumes"))
    errs += verrs
    errs += _validate_containers(spec, volumes, path)
    errs += _validate_init_containers(spec, volumes, path)
    from apiserver.apis.core.podspec_extra import validate_pod_spec_extra

    errs += validate_pod_spec_extra(spec, volumes, path)
    if spec.host_network:
        for i, c in enumerate(spec.containers):
            for j, port in enumerate(c.ports):
                # A template may leave hostPort 0: it is defaulted when the Pod is made.
                if (is_pod or port.host_port != 0) and port.host_port != port.container_port:
                    errs.append(
                        invalid(
                            f"{path}.containers[{i}].ports[{j}].hostPort",
                            port.host_port,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    rp = _child(path, "restartPolicy")
    if not spec.restart_policy:
        errs.append(required(rp))
    elif spec.restart_policy not in _RESTART_POLICIES:
        errs.append(not_supported(rp, spec.restart_policy, _RESTART_POLICIES))
    dp = _child(path, "dnsPolicy")
    if not spec.dns_policy:
        errs.append(required(dp))
    elif spec.dns_policy not in _DNS_POLICIES:
        errs.append(not_supported(dp, spec.dns_policy, _DNS_POLICIES))
    errs += _validate_labels(spec.node_selector, _child(path, "nodeSelector"))
    if spec.HasField("security_context"):
        sc, sp = spec.security_context, _child(path, "securityContext")
        for fld, json_name in (("run_as_user", "runAsUser"), ("run_as_group", "runAsGroup"), ("fs_group", "fsGroup")):
            if sc.HasField(fld):  # type: ignore[arg-type]
                v = getattr(sc, fld)
                errs += [invalid(_child(sp, json_name), v, m) for m in _id_errors(v)]
        for g, gid in enumerate(sc.supplemental_groups):
            errs += [invalid(f"{sp}.supplementalGroups[{g}]", gid, m) for m in _id_errors(gid)]
    if spec.HasField("affinity"):
        errs += _validate_affinity(spec.affinity, _child(path, "affinity"))
    gates: set[str] = set()
    for i, gate in enumerate(spec.scheduling_gates):
        gp = f"{_child(path, 'schedulingGates')}[{i}]"
        errs += _qualified_name(gate.name, gp)
        if gate.name in gates:
            errs.append(duplicate(gp, gate.name))
        gates.add(gate.name)
    errs += _validate_topology_spread(spec.topology_spread_constraints, _child(path, "topologySpreadConstraints"))
    if spec.service_account_name:
        errs += [
            invalid(_child(path, "serviceAccountName"), spec.service_account_name, m)
            for m in name_is_dns_subdomain(spec.service_account_name, False)
        ]
    if spec.node_name:
        errs += [
            invalid(_child(path, "nodeName"), spec.node_name, m) for m in name_is_dns_subdomain(spec.node_name, False)
        ]
    if spec.HasField("active_deadline_seconds") and not 1 <= spec.active_deadline_seconds <= MAX_INT32:
        errs.append(
            invalid(
                _child(path, "activeDeadlineSeconds"),
                spec.active_deadline_seconds,
                f"must be between 1 and {MAX_INT32}, inclusive",
            )
        )
    if spec.hostname:
        errs += [
            invalid(_child(path, "hostname"), spec.hostname, m) for m in names.validate_dns1123_label(spec.hostname)
        ]
    if spec.subdomain:
        errs += [
            invalid(_child(path, "subdomain"), spec.subdomain, m) for m in names.validate_dns1123_label(spec.subdomain)
        ]
    errs += _validate_tolerations(spec.tolerations, _child(path, "tolerations"))
    if spec.priority_class_name:
        errs += [
            invalid(_child(path, "priorityClassName"), spec.priority_class_name, m)
            for m in name_is_dns_subdomain(spec.priority_class_name, False)
        ]
    if spec.HasField("preemption_policy"):
        pp = _child(path, "preemptionPolicy")
        if not spec.preemption_policy:
            errs.append(required(pp))
        elif spec.preemption_policy not in ("PreemptLowerPriority", "Never"):
            errs.append(not_supported(pp, spec.preemption_policy, ["PreemptLowerPriority", "Never"]))
    if spec.overhead:
        errs += _validate_resources(core_pb2.ResourceRequirements(limits=spec.overhead), _child(path, "overhead"))
    return errs


_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"


def _pod_annotations(annotations: Mapping[str, str], spec: core_pb2.PodSpec, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if _MIRROR_ANNOTATION in annotations and not spec.node_name:
        errs.append(
            invalid(
                f"{path}[{_MIRROR_ANNOTATION}]",
                annotations[_MIRROR_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    if _DELETION_COST_ANNOTATION in annotations:
        raw = annotations[_DELETION_COST_ANNOTATION]
        if not re.fullmatch(r"[+-]?\d+", raw.strip()) or not -(2**31) <= int(raw) <= MAX_INT32 or raw != raw.strip():
            errs.append(invalid(f"{path}[{_DELETION_COST_ANNOTATION}]", raw, "must be a 32bit integer"))
    return errs


def validate_pod_template(template: core_pb2.PodTemplateSpec, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: labels, annotations and the pod spec, but no name or namespace."""
    meta = template.metadata
    errs = _validate_labels(meta.labels, _child(path, "labels"))
    errs += _validate_annotations(meta.annotations, _child(path, "annotations"))
    errs += _pod_annotations(meta.annotations, template.spec, _child(path, "annotations"))
    errs += validate_pod_spec(template.spec, _child(path, "spec"))
    from apiserver.apis.core.podspec_extra import validate_pod_template_extra

    errs += validate_pod_template_extra(template.spec, path)
    return errs


def _image_whitespace(containers: Sequence[core_pb2.Container], path: str) -> list[FieldError]:
    return [
        invalid(f"{path}[{i}].image", c.image, "must not have leading or trailing whitespace")
        for i, c in enumerate(containers)
        if c.image != c.image.strip()
    ]


def validate_pod(pod: core_pb2.Pod) -> list[FieldError]:
    """ValidatePodCreate."""
    errs = validate_object_meta(pod.metadata, True, name_is_dns_subdomain)
    errs += _pod_annotations(pod.metadata.annotations, pod.spec, "metadata.annotations")
    errs += validate_pod_spec(pod.spec, "spec", is_pod=True)  # with the image whitespace checks
    from apiserver.apis.core.podspec_extra import validate_pod_create_extra

    errs += validate_pod_create_extra(pod.spec, "spec")
    if pod.spec.node_name and pod.spec.scheduling_gates:
        errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
    return errs


# ---- other core kinds -------------------------------------------------------------------------------


def validate_namespace(ns: core_pb2.Namespace) -> list[FieldError]:
    errs = validate_object_meta(ns.metadata, False, name_is_dns_label)
    for i, f in enumerate(ns.spec.finalizers):
        fp = f"spec.finalizers[{i}]"
        errs += _qualified_name(f, fp)
        if "/" not in f and f != "kubernetes":
            errs.append(invalid(fp, f, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_node(node: core_pb2.Node) -> list[FieldError]:
    errs = validate_object_meta(node.metadata, False, name_is_dns_subdomain)
    errs += _validate_node_taints(node.spec.taints, "metadata.taints")
    errs += _validate_node_resources(node)
    return errs


def _validate_node_taints(taints: Sequence[core_pb2.Taint], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    unique: dict[str, set[str]] = {}
    for i, t in enumerate(taints):
        p = f"{path}[{i}]"
        errs += _qualified_name(t.key, _child(p, "key"))
        msgs = labels.validate_label_value(t.value)
        if msgs:
            errs.append(invalid(_child(p, "value"), t.value, ";".join(msgs)))
        errs += _validate_taint_effect(t.effect, False, _child(p, "effect"))
        if t.key in unique.get(t.effect, set()):
            errs.append(
                FieldError(
                    DUPLICATE,
                    p,
                    "taints must be unique by key and effect pair",
                    GoValue(
                        f"core.Taint{{Key:{_go_quote(t.key)}, Value:{_go_quote(t.value)}, "
                        f"Effect:{_go_quote(t.effect)}}}"
                    ),
                )
            )
            continue
        unique.setdefault(t.effect, set()).add(t.key)
    return errs


def _validate_node_resources(node: core_pb2.Node) -> list[FieldError]:
    errs: list[FieldError] = []
    for section, values in (("capacity", node.status.capacity), ("allocatable", node.status.allocatable)):
        for name, raw in values.items():
            p = f"status.{section}.{name}"
            q = _parse(raw, p, errs)
            if q is not None:
                errs += _quantity_value(name, q, p)
    return errs


def validate_event(ev: core_pb2.Event) -> list[FieldError]:
    """legacyValidateEvent: the only validation events get through the core/v1 API upstream."""
    errs: list[FieldError] = []
    if not ev.metadata.name:
        # Upstream fails to build the storage key ("Name parameter required"); say it the field way.
        errs.append(required("metadata.name", "name or generateName is required"))
    ns, involved_ns = ev.metadata.namespace, ev.involved_object.namespace
    has_event_time = ev.HasField("event_time") and (ev.event_time.seconds or ev.event_time.nanos)
    if not has_event_time:
        if not involved_ns:
            if ns not in ("", "default"):
                errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        elif ns != involved_ns:
            errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
    else:
        if not involved_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        if not ev.reporting_component:
            errs.append(required("reportingController"))
        errs += [
            invalid("reportingController", ev.reporting_component, m)
            for m in labels.validate_label_key(ev.reporting_component)
        ]
        for value, json_name, limit in (
            (ev.reporting_instance, "reportingInstance", 128),
            (ev.action, "action", 128),
            (ev.reason, "reason", 128),
        ):
            if not value:
                errs.append(required(json_name))
            if len(value) > limit:
                errs.append(invalid(json_name, "", f"can have at most {limit} characters"))
        if len(ev.message) > 1024:
            errs.append(invalid("message", "", "can have at most 1024 characters"))
    errs += [invalid("namespace", ns, m) for m in names.validate_dns1123_subdomain(ns)]
    return errs


def validate_replication_controller(rc: core_pb2.ReplicationController) -> list[FieldError]:
    errs = validate_object_meta(rc.metadata, True, name_is_dns_subdomain)
    spec = rc.spec
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    if not spec.selector:
        errs.append(required("spec.selector"))
    errs += _nonnegative(spec.replicas, "spec.replicas")
    if not spec.HasField("template"):
        errs.append(required("spec.template"))
        return errs
    tmpl = spec.template
    if spec.selector and any(tmpl.metadata.labels.get(k) != v for k, v in spec.selector.items()):
        errs.append(
            invalid(
                "spec.template.metadata.labels",
                dict(tmpl.metadata.labels),
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_pod_template(tmpl, "spec.template")
    errs += _template_restart_always(tmpl, "spec.template", "ReplicationController")
    return errs


def _template_restart_always(tmpl: core_pb2.PodTemplateSpec, path: str, kind: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if tmpl.spec.restart_policy != "Always":
        errs.append(not_supported(_child(path, "spec", "restartPolicy"), tmpl.spec.restart_policy, ["Always"]))
    if tmpl.spec.HasField("active_deadline_seconds"):
        errs.append(
            forbidden(
                _child(path, "spec", "activeDeadlineSeconds"), f"activeDeadlineSeconds in {kind} is not Supported"
            )
        )
    return errs


# ---- updates ----------------------------------------------------------------------------------------

UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _container_updates(
    new: Sequence[core_pb2.Container], old: Sequence[core_pb2.Container], path: str
) -> tuple[list[FieldError], bool]:
    if len(new) != len(old):
        return [forbidden(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, c in enumerate(new):
        if not c.image:
            errs.append(required(f"{path}[{i}].image"))
        if c.image != c.image.strip():
            errs.append(invalid(f"{path}[{i}].image", c.image, "must not have leading or trailing whitespace"))
    return errs, False


def _spec_diff(old: Message, new: Message) -> str:
    """A short rendering of what changed, standing in for upstream's cmp.Diff of the two specs."""
    from kubemu.api.serialization import message_to_dict

    before, after = message_to_dict(old), message_to_dict(new)
    lines = ["  core.PodSpec{"]
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            if key in before:
                lines.append(f"- \t{key}: {json.dumps(before[key], sort_keys=True)},")
            if key in after:
                lines.append(f"+ \t{key}: {json.dumps(after[key], sort_keys=True)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def validate_pod_update(new: core_pb2.Pod, old: core_pb2.Pod) -> list[FieldError]:
    """ValidatePodUpdate's update-only rules (the create rules run separately on the new pod)."""
    errs: list[FieldError] = []
    # The mirror pod annotation may be neither added nor removed nor changed.
    new_ann, old_ann = new.metadata.annotations, old.metadata.annotations
    if _MIRROR_ANNOTATION in old_ann and new_ann.get(_MIRROR_ANNOTATION) != old_ann[_MIRROR_ANNOTATION]:
        errs.append(
            forbidden(f"metadata.annotations[{_MIRROR_ANNOTATION}]", "may not remove or update mirror pod annotation")
        )
    if _MIRROR_ANNOTATION in new_ann and _MIRROR_ANNOTATION not in old_ann:
        errs.append(forbidden(f"metadata.annotations[{_MIRROR_ANNOTATION}]", "may not add mirror pod annotation"))
    ns, os_ = new.spec, old.spec
    for field_name, json_name in (("containers", "containers"), ("init_containers", "initContainers")):
        cerrs, stop = _container_updates(getattr(ns, field_name), getattr(os_, field_name), f"spec.{json_name}")
        errs += cerrs
        if stop:
            return errs
    if ns.HasField("active_deadline_seconds"):
        value = ns.active_deadline_seconds
        if not 0 <= value <= MAX_INT32:
            return [
                *errs,
                invalid("spec.activeDeadlineSeconds", value, f"must be between 0 and {MAX_INT32}, inclusive"),
            ]
        if os_.HasField("active_deadline_seconds") and os_.active_deadline_seconds < value:
            return [*errs, invalid("spec.activeDeadlineSeconds", value, "must be less than or equal to previous value")]
    elif os_.HasField("active_deadline_seconds"):
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    # Tolerations: only additions, though an existing toleration's tolerationSeconds may change.
    for old_t in os_.tolerations:
        found = False
        for new_t in ns.tolerations:
            clone = core_pb2.Toleration()
            clone.CopyFrom(old_t)
            clone.ClearField("toleration_seconds")
            if new_t.HasField("toleration_seconds"):
                clone.toleration_seconds = new_t.toleration_seconds
            if clone == new_t:
                found = True
                break
        if not found:
            errs.append(
                forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")
            )
            break
    # Scheduling gates: only removals.
    old_gates = {g.name for g in os_.scheduling_gates}
    for i, gate in enumerate(ns.scheduling_gates):
        if gate.name not in old_gates:
            errs.append(
                forbidden(
                    f"spec.schedulingGates[{i}].name",
                    f"only deletion is allowed, but found new scheduling gate '{gate.name}'",
                )
            )
    if ns == os_:
        return errs
    munged = core_pb2.PodSpec()
    munged.CopyFrom(ns)
    for c, oc in zip(munged.containers, os_.containers, strict=True):
        c.image = oc.image
    for c, oc in zip(munged.init_containers, os_.init_containers, strict=True):
        c.image = oc.image
    munged.ClearField("active_deadline_seconds")
    if os_.HasField("active_deadline_seconds"):
        munged.active_deadline_seconds = os_.active_deadline_seconds
    del munged.scheduling_gates[:]
    munged.scheduling_gates.extend(os_.scheduling_gates)
    del munged.tolerations[:]
    munged.tolerations.extend(os_.tolerations)
    if (
        os_.HasField("termination_grace_period_seconds")
        and os_.termination_grace_period_seconds < 0
        and munged.HasField("termination_grace_period_seconds")
        and munged.termination_grace_period_seconds == 1
    ):
        munged.termination_grace_period_seconds = os_.termination_grace_period_seconds
    if os_.scheduling_gates:
        # A gated pod may gain nodeSelector entries (additions only).
        if dict(munged.node_selector) != dict(os_.node_selector):
            for k, v in os_.node_selector.items():
                if munged.node_selector.get(k) != v:
                    errs.append(
                        invalid(
                            "spec.nodeSelector",
                            dict(munged.node_selector),
                            "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
                        )
                    )
                    break
            munged.node_selector.clear()
            munged.node_selector.update(os_.node_selector)
    if munged != os_:
        detail = "pod updates may not change fields other than " + ",".join(UPDATABLE_POD_SPEC_FIELDS)
        errs.append(forbidden("spec", detail + "\n" + _spec_diff(os_, munged)))
    return errs


def validate_node_update(new: core_pb2.Node, old: core_pb2.Node) -> list[FieldError]:
    errs: list[FieldError] = []
    if old.spec.pod_cidrs and list(old.spec.pod_cidrs) != list(new.spec.pod_cidrs):
        errs.append(forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'))
    if old.spec.provider_id and old.spec.provider_id != new.spec.provider_id:
        errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
    return errs
