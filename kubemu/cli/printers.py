"""kubectl's human-readable output: `get` tables (plain, wide, labels, namespaces, watch rows) and `describe`.

Ported from kubectl v1.32: pkg/printers/internalversion/printers.go, cli-runtime's tableprinter.go, describe.go.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from google.protobuf.message import Message

from kubemu.api import kinds
from kubemu.api import storage as storage_api
from kubemu.api.labels import SelectorError, from_label_selector, go_quote
from kubemu.api.qos import qos_class
from kubemu.api.quantity import Quantity, QuantityError, parse_quantity
from kubemu.api.serialization import format_time, time_value, to_dict
from kubemu.pb import (
    apps_pb2,
    batch_pb2,
    coordination_pb2,
    core_pb2,
    discovery_pb2,
    meta_pb2,
    networking_pb2,
    rbac_pb2,
    scheduling_pb2,
    storage_pb2,
)

__all__ = [
    "Column",
    "describe",
    "human_duration",
    "pod_ready",
    "pod_restarts",
    "pod_status",
    "print_table",
    "print_watch_row",
    "table",
]

_NONE = "<none>"
_UNSET = "<unset>"
_UNKNOWN = "<unknown>"
_ZERO = Quantity(Fraction(0))
_ONE = Quantity(Fraction(1))

# ---- durations and times ------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """duration.HumanDuration: an age with ~2-3 significant figures (`5s`, `2m30s`, `10m`, `3h`, `2d1h`, `2y`)."""
    # Go works on integer nanoseconds and truncates toward zero; rounding first avoids float noise like 299.9999999.
    ns = round(seconds * 1e9)
    whole_seconds = abs(ns) // 10**9 * (1 if ns >= 0 else -1)
    if whole_seconds < -1:
        return "<invalid>"  # more than 2s in the future: a real clock skew, not rounding
    if whole_seconds < 0:
        return "0s"
    if whole_seconds < 60 * 2:
        return f"{whole_seconds}s"
    minutes = ns // (60 * 10**9)
    if minutes < 10:
        s = (ns // 10**9) % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = ns // (3600 * 10**9)
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _is_set(t: Message) -> bool:
    # metav1.Time.IsZero: the zero time is "unset" whether or not the message is present.
    return time_value(t) != 0.0


def _since(t: Message, now: float) -> str:
    """translateTimestampSince: `<unknown>` for an unset time."""
    if not _is_set(t):
        return _UNKNOWN
    return human_duration(now - time_value(t))


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _rfc1123z(t: Message) -> str:
    """time.RFC1123Z in UTC (kubectl uses the local zone; UTC keeps output reproducible). Spelled out, not strftime,
    so a non-English locale cannot change the day and month names."""
    when = dt.datetime.fromtimestamp(int(time_value(t) // 1), dt.UTC)
    return (
        f"{_DAYS[when.weekday()]}, {when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} +0000"
    )


# ---- Go's text/tabwriter (github.com/liggitt/tabwriter) ----------------------------------------------


def _tabwrite(text: str, *, minwidth: int, padding: int, remembered: list[int] | None = None) -> str:
    """Lay out tab-separated cells as Go's tabwriter does, column block by column block.

    A column block is a run of consecutive lines that all have a tab-terminated cell in that column; a line with
    fewer cells ends the block, which is why describe's sections align independently. `remembered` is liggitt's
    RememberWidths: widths never shrink across calls, which keeps `get -w` rows aligned with the header.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            parts: list[str] = []
            for j, cell in enumerate(lines[i]):
                parts.append(cell)
                if j < len(widths):
                    parts.append(" " * (widths[j] - len(cell)))
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            if remembered is not None:
                if len(remembered) < column:
                    remembered.extend(widths[len(remembered):])
                if len(remembered) == column:
                    remembered.append(width)
                else:
                    width = max(width, remembered[column])
                    remembered[column] = width
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)


# kubectl get's GetNewTabWriter settings.
_GET_MINWIDTH = 6
_GET_PADDING = 3
# describe's tabbedString settings.
_DESCRIBE_MINWIDTH = 0
_DESCRIBE_PADDING = 2


# ---- small formatters -----------------------------------------------------------------------------------


def _format_labels(labels: Mapping[str, str]) -> str:
    """labels.FormatLabels: sorted `k=v` pairs joined by commas, `<none>` when empty."""
    if not labels:
        return _NONE
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(meta_has: bool, selector: meta_pb2.LabelSelector) -> str | None:
    """LabelSelectorAsSelector(...).String(); None when the selector does not parse."""
    if not meta_has:
        return ""  # a nil selector is labels.Nothing(), whose String() is empty
    try:
        return str(from_label_selector(selector))
    except SelectorError:
        return None


def _format_label_selector(has: bool, selector: meta_pb2.LabelSelector) -> str:
    """metav1.FormatLabelSelector: `<none>` for an empty selector, `<error>` for one that does not parse."""
    text = _selector_string(has, selector)
    if text is None:
        return "<error>"
    return text or _NONE


def _containers_cells(containers: Sequence[core_pb2.Container]) -> tuple[str, str]:
    """layoutContainerCells: names and images, comma-joined."""
    return ",".join(c.name for c in containers), ",".join(c.image for c in containers)


def _quantity_text(raw: str) -> str:
    """A quantity as upstream's Quantity.String() prints it (canonical form); the raw text if it does not parse."""
    try:
        return str(parse_quantity(raw))
    except QuantityError:
        return raw


def _quantity(raw: str) -> Quantity:
    try:
        return parse_quantity(raw)
    except QuantityError:
        return _ZERO


def _int_or_string(v: meta_pb2.IntOrString) -> str:
    # intstr.String(): an unset value is the int 0.
    return v.str_val if v.WhichOneof("value") == "str_val" else str(v.int_val)


# ---- pods ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PodSummary:
    ready: str
    status: str
    restarts: int
    last_restart: float


def _is_restartable_init(container: core_pb2.Container | None) -> bool:
    # A native sidecar: an init container with restartPolicy Always.
    return container is not None and container.HasField("restart_policy") and container.restart_policy == "Always"


def _has_condition(conditions: Sequence[core_pb2.PodCondition], ctype: str) -> bool:
    return any(c.type == ctype and c.status == "True" for c in conditions)


def _initialized_true(conditions: Sequence[core_pb2.PodCondition]) -> bool:
    # isPodInitializedConditionTrue looks at the first Initialized condition only.
    for c in conditions:
        if c.type == "Initialized":
            return c.status == "True"
    return False


def _summarize_pod(pod: core_pb2.Pod) -> _PodSummary:
    """printPod's READY, STATUS and RESTARTS logic."""
    status = pod.status
    restarts = 0
    restartable_restarts = 0
    total = len(pod.spec.containers)
    ready = 0
    last_restart = 0.0
    last_restartable_restart = 0.0

    reason = status.reason or status.phase
    for cond in status.conditions:
        if cond.type == "PodScheduled" and cond.reason == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = {c.name: c for c in pod.spec.init_containers}
    total += sum(1 for c in pod.spec.init_containers if _is_restartable_init(c))

    initializing = False
    for i, cs in enumerate(status.init_container_statuses):
        restarts += cs.restart_count
        if cs.last_state.HasField("terminated"):
            last_restart = max(last_restart, time_value(cs.last_state.terminated.finished_at))
        sidecar = _is_restartable_init(init_specs.get(cs.name))
        if sidecar:
            restartable_restarts += cs.restart_count
            if cs.last_state.HasField("terminated"):
                finished = time_value(cs.last_state.terminated.finished_at)
                last_restartable_restart = max(last_restartable_restart, finished)
        state = cs.state
        if state.HasField("terminated") and state.terminated.exit_code == 0:
            continue
        if sidecar and cs.HasField("started") and cs.started:
            if cs.ready:
                ready += 1
            continue
        if state.HasField("terminated"):
            term = state.terminated
            if not term.reason:
                reason = f"Init:Signal:{term.signal}" if term.signal != 0 else f"Init:ExitCode:{term.exit_code}"
            else:
                reason = "Init:" + term.reason
        elif state.HasField("waiting") and state.waiting.reason and state.waiting.reason != "PodInitializing":
            reason = "Init:" + state.waiting.reason
        else:
            reason = f"Init:{i}/{len(pod.spec.init_containers)}"
        initializing = True
        break

    if not initializing or _initialized_true(status.conditions):
        # Only sidecar restarts count once the pod is initialized; finished init containers are history.
        restarts = restartable_restarts
        last_restart = last_restartable_restart
        has_running = False
        for cs in reversed(status.container_statuses):
            restarts += cs.restart_count
            if cs.last_state.HasField("terminated"):
                last_restart = max(last_restart, time_value(cs.last_state.terminated.finished_at))
            state = cs.state
            if state.HasField("waiting") and state.waiting.reason:
                reason = state.waiting.reason
            elif state.HasField("terminated") and state.terminated.reason:
                reason = state.terminated.reason
            elif state.HasField("terminated"):
                term = state.terminated
                reason = f"Signal:{term.signal}" if term.signal != 0 else f"ExitCode:{term.exit_code}"
            elif cs.ready and state.HasField("running"):
                has_running = True
                ready += 1
        # A pod whose first container completed but another still runs is not "Completed".
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status.conditions, "Ready") else "NotReady"

    deleting = pod.metadata.HasField("deletion_timestamp")
    if deleting and status.reason == "NodeLost":
        reason = "Unknown"
    elif deleting and status.phase not in ("Failed", "Succeeded"):
        reason = "Terminating"

    return _PodSummary(f"{ready}/{total}", reason, restarts, last_restart)


def pod_status(pod: core_pb2.Pod) -> str:
    """The STATUS column of `kubectl get pods`: Running, Pending, Init:0/1, CrashLoopBackOff, Terminating, ..."""
    return _summarize_pod(pod).status


def pod_ready(pod: core_pb2.Pod) -> str:
    """The READY column of `kubectl get pods`: ready containers (sidecars included) over all of them."""
    return _summarize_pod(pod).ready


def pod_restarts(pod: core_pb2.Pod, *, now: float) -> str:
    """The RESTARTS column: `3`, or `3 (5m ago)` when the last restart's time is known."""
    s = _summarize_pod(pod)
    if s.restarts != 0 and s.last_restart != 0.0:
        return f"{s.restarts} ({human_duration(now - s.last_restart)} ago)"
    return str(s.restarts)


# ---- table rows per kind ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of a kind's table (metav1.TableColumnDefinition): the CLI prints it, the REST face serves it."""

    name: str
    priority: int = 0
    """1: shown with `-o wide` only."""
    is_name: bool = False
    """The object's name (format "name"): kubectl prefixes it with the kind."""
    type: str = "string"
    """The cell's OpenAPI type as printers.go declares it: "string", "integer" (the cell is a count), "boolean",
    "date"."""


_Column = Column


def _age(obj: Any, now: float) -> str:
    return _since(obj.metadata.creation_timestamp, now)


def _pod_row(pod: core_pb2.Pod, now: float) -> list[str]:
    s = _summarize_pod(pod)
    restarts = str(s.restarts)
    if s.restarts != 0 and s.last_restart != 0.0:
        restarts = f"{s.restarts} ({human_duration(now - s.last_restart)} ago)"
    ip = pod.status.pod_ips[0].ip if pod.status.pod_ips else ""
    return [
        pod.metadata.name, s.ready, s.status, restarts, _age(pod, now),
        ip or _NONE, pod.spec.node_name or _NONE, pod.status.nominated_node_name or _NONE,
        _NONE,  # readiness gates: the API here has none
    ]


def _node_row(node: core_pb2.Node, now: float) -> list[str]:
    conditions = {c.type: c for c in node.status.conditions}
    status: list[str] = []
    if "Ready" in conditions:
        status.append("Ready" if conditions["Ready"].status == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if node.spec.unschedulable:
        status.append("SchedulingDisabled")
    info = node.status.node_info
    return [
        node.metadata.name, ",".join(status), ",".join(_node_roles(node)) or _NONE, _age(node, now),
        info.kubelet_version,
        _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
        info.os_image or _UNKNOWN, info.kernel_version or _UNKNOWN, info.container_runtime_version or _UNKNOWN,
    ]


def _node_roles(node: core_pb2.Node) -> list[str]:
    """findNodeRoles: `node-role.kubernetes.io/<role>` keys and `kubernetes.io/role=<role>` values, sorted."""
    roles: set[str] = set()
    for k, v in node.metadata.labels.items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k[len("node-role.kubernetes.io/"):]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def _node_address(node: core_pb2.Node, kind: str) -> str:
    for a in node.status.addresses:
        if a.type == kind:
            return a.address
    return _NONE


def _event_row(ev: core_pb2.Event, now: float) -> list[str]:
    first = _since(ev.first_timestamp, now) if _is_set(ev.first_timestamp) else _since(ev.event_time, now)
    last = _since(ev.last_timestamp, now) if _is_set(ev.last_timestamp) else first
    count = ev.count or 1  # singleton events of the new API carry no count
    obj = ev.involved_object
    target = f"{obj.kind.lower()}/{obj.name}" if obj.name else obj.kind.lower()
    source = _event_source(ev)
    return [last, ev.type, ev.reason, target, obj.field_path, source, ev.message.strip(), first, str(count),
            ev.metadata.name]


def _event_source(ev: core_pb2.Event) -> str:
    """formatEventSource: component (or reporting component) and, when known, the host."""
    component = ev.source.component or ev.reporting_component
    host = ev.source.host or ev.reporting_instance
    return component if not host else f"{component}, {host}"


def _namespace_row(ns: core_pb2.Namespace, now: float) -> list[str]:
    return [ns.metadata.name, ns.status.phase, _age(ns, now)]


def _rc_row(rc: core_pb2.ReplicationController, now: float) -> list[str]:
    desired = rc.spec.replicas if rc.spec.HasField("replicas") else 1  # the API defaults replicas to 1
    names, images = _containers_cells(rc.spec.template.spec.containers)
    return [rc.metadata.name, str(desired), str(rc.status.replicas), str(rc.status.ready_replicas), _age(rc, now),
            names, images, _format_labels(rc.spec.selector)]


def _rs_row(rs: apps_pb2.ReplicaSet, now: float) -> list[str]:
    desired = rs.spec.replicas if rs.spec.HasField("replicas") else 1
    names, images = _containers_cells(rs.spec.template.spec.containers)
    return [rs.metadata.name, str(desired), str(rs.status.replicas), str(rs.status.ready_replicas), _age(rs, now),
            names, images, _format_label_selector(rs.spec.HasField("selector"), rs.spec.selector)]


def _deployment_row(d: apps_pb2.Deployment, now: float) -> list[str]:
    desired = d.spec.replicas if d.spec.HasField("replicas") else 1
    names, images = _containers_cells(d.spec.template.spec.containers)
    selector = _selector_string(d.spec.HasField("selector"), d.spec.selector)
    return [d.metadata.name, f"{d.status.ready_replicas}/{desired}", str(d.status.updated_replicas),
            str(d.status.available_replicas), _age(d, now), names, images,
            "<invalid>" if selector is None else selector]


def _daemonset_row(ds: apps_pb2.DaemonSet, now: float) -> list[str]:
    st = ds.status
    names, images = _containers_cells(ds.spec.template.spec.containers)
    return [ds.metadata.name, str(st.desired_number_scheduled), str(st.current_number_scheduled),
            str(st.number_ready), str(st.updated_number_scheduled), str(st.number_available),
            _format_labels(ds.spec.template.spec.node_selector), _age(ds, now), names, images,
            _format_label_selector(ds.spec.HasField("selector"), ds.spec.selector)]


def _job_condition(job: batch_pb2.Job, ctype: str) -> bool:
    # hasJobCondition: the first condition of the type decides.
    for c in job.status.conditions:
        if c.type == ctype:
            return c.status == "True"
    return False


def _job_row(job: batch_pb2.Job, now: float) -> list[str]:
    succeeded = job.status.succeeded
    if job.spec.HasField("completions"):
        completions = f"{succeeded}/{job.spec.completions}"
    else:
        parallelism = job.spec.parallelism if job.spec.HasField("parallelism") else 0
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    duration = ""
    if _is_set(job.status.start_time):
        start = time_value(job.status.start_time)
        end = time_value(job.status.completion_time) if _is_set(job.status.completion_time) else now
        duration = human_duration(end - start)
    if _job_condition(job, "Complete"):
        status = "Complete"
    elif _job_condition(job, "Failed"):
        status = "Failed"
    elif job.metadata.HasField("deletion_timestamp"):
        status = "Terminating"
    elif _job_condition(job, "Suspended"):
        status = "Suspended"
    elif _job_condition(job, "FailureTarget"):
        status = "FailureTarget"
    else:
        status = "Running"
    names, images = _containers_cells(job.spec.template.spec.containers)
    return [job.metadata.name, status, completions, duration, _age(job, now), names, images,
            _format_label_selector(job.spec.HasField("selector"), job.spec.selector)]


def _service_account_row(sa: core_pb2.ServiceAccount, now: float) -> list[str]:
    return [sa.metadata.name, _age(sa, now)]


def _lease_row(lease: coordination_pb2.Lease, now: float) -> list[str]:
    return [lease.metadata.name, lease.spec.holder_identity, _age(lease, now)]


# ---- networking ---------------------------------------------------------------------------------------------

_LOAD_BALANCER_WIDTH = 16


def _ingress_hosts(rules: Sequence[networking_pb2.IngressRule]) -> str:
    """formatHosts: the first three hosts, `*` when no rule names one."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
        if not more and rule.host:
            hosts.append(rule.host)
    if not hosts:
        return "*"
    text = ",".join(hosts)
    return f"{text} + {len(rules) - 3} more..." if more else text


def _ingress_address(status: networking_pb2.IngressLoadBalancerStatus, wide: bool) -> str:
    """ingressLoadBalancerStatusStringer: each ingress point's IP (else hostname), sorted, clipped unless wide."""
    text = ",".join(sorted({i.ip or i.hostname for i in status.ingress if i.ip or i.hostname}))
    if not wide and len(text) > _LOAD_BALANCER_WIDTH:
        text = text[: _LOAD_BALANCER_WIDTH - 3] + "..."
    return text


def _ingress_row(ing: networking_pb2.Ingress, now: float) -> list[str]:
    cls = ing.spec.ingress_class_name if ing.spec.HasField("ingress_class_name") else _NONE
    ports = "80, 443" if ing.spec.tls else "80"
    # The apiserver prints its tables wide (printers/storage), so kubectl never sees the address clipped.
    return [ing.metadata.name, cls, _ingress_hosts(ing.spec.rules), _ingress_address(ing.status.load_balancer, True),
            ports, _age(ing, now)]


def _ingress_class_parameters(ic: networking_pb2.IngressClass) -> str:
    if not ic.spec.HasField("parameters"):
        return _NONE
    p = ic.spec.parameters
    kind = f"{p.kind}.{p.api_group}" if p.HasField("api_group") else p.kind
    return f"{kind}/{p.name}"


def _ingress_class_row(ic: networking_pb2.IngressClass, now: float) -> list[str]:
    return [ic.metadata.name, ic.spec.controller, _ingress_class_parameters(ic), _age(ic, now)]


def _network_policy_row(np: networking_pb2.NetworkPolicy, now: float) -> list[str]:
    return [np.metadata.name, _format_label_selector(True, np.spec.pod_selector), _age(np, now)]
def _pv_row(pv: core_pb2.PersistentVolume, now: float) -> list[str]:
    """printPersistentVolume."""
    claim = f"{pv.spec.claim_ref.namespace}/{pv.spec.claim_ref.name}" if pv.spec.HasField("claim_ref") else ""
    phase = "Terminating" if pv.metadata.HasField("deletion_timestamp") else pv.status.phase
    vac = pv.spec.volume_attributes_class_name if pv.spec.HasField("volume_attributes_class_name") else _UNSET
    return [pv.metadata.name, _quantity_text(pv.spec.capacity.get("storage", "0")),
            storage_api.access_modes_text(pv.spec.access_modes), pv.spec.persistent_volume_reclaim_policy, phase,
            claim, storage_api.volume_class(pv), vac, pv.status.reason, _age(pv, now),
            pv.spec.volume_mode if pv.spec.HasField("volume_mode") else _UNSET]


def _pvc_row(pvc: core_pb2.PersistentVolumeClaim, now: float) -> list[str]:
    """printPersistentVolumeClaim: capacity and access modes are the bound volume's, from the claim's status."""
    phase = "Terminating" if pvc.metadata.HasField("deletion_timestamp") else pvc.status.phase
    capacity = modes = ""
    if pvc.spec.volume_name:
        modes = storage_api.access_modes_text(pvc.status.access_modes)
        capacity = _quantity_text(pvc.status.capacity.get("storage", "0"))
    vac = pvc.spec.volume_attributes_class_name if pvc.spec.HasField("volume_attributes_class_name") else _UNSET
    return [pvc.metadata.name, phase, pvc.spec.volume_name, capacity, modes, storage_api.claim_class(pvc), vac,
            _age(pvc, now), pvc.spec.volume_mode if pvc.spec.HasField("volume_mode") else _UNSET]


def _storage_class_row(sc: storage_pb2.StorageClass, now: float) -> list[str]:
    """printStorageClass: the default class's name says so."""
    name = sc.metadata.name + (" (default)" if storage_api.is_default_class(sc) else "")
    return [name, sc.provisioner, sc.reclaim_policy if sc.HasField("reclaim_policy") else "Delete",
            sc.volume_binding_mode if sc.HasField("volume_binding_mode") else storage_api.IMMEDIATE,
            "true" if sc.allow_volume_expansion else "false", _age(sc, now)]


def _b(value: bool) -> str:
    return "true" if value else "false"


def _csi_driver_row(d: storage_pb2.CSIDriver, now: float) -> list[str]:
    """printCSIDriver."""
    spec = d.spec
    tokens = ",".join(t.audience for t in spec.token_requests) or _UNSET
    return [d.metadata.name, _b(spec.attach_required if spec.HasField("attach_required") else True),
            _b(spec.pod_info_on_mount), _b(spec.storage_capacity), tokens, _b(spec.requires_republish),
            ",".join(spec.volume_lifecycle_modes) or _NONE, _age(d, now)]


def _csi_node_row(n: storage_pb2.CSINode, now: float) -> list[str]:
    return [n.metadata.name, str(len(n.spec.drivers)), _age(n, now)]


def _configmap_row(cm: core_pb2.ConfigMap, now: float) -> list[str]:
    return [cm.metadata.name, str(len(cm.data) + len(cm.binary_data)), _age(cm, now)]


def _secret_row(secret: core_pb2.Secret, now: float) -> list[str]:
    return [secret.metadata.name, secret.type, str(len(secret.data)), _age(secret, now)]
def _rfc3339(t: Message) -> str:
    """metav1.Time in RFC 3339, UTC, whole seconds (a `date` column's cell)."""
    return dt.datetime.fromtimestamp(int(time_value(t) // 1), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _limit_range_row(lr: core_pb2.LimitRange, now: float) -> list[str]:
    return [lr.metadata.name, _rfc3339(lr.metadata.creation_timestamp)]


def _quota_row(rq: core_pb2.ResourceQuota, now: float) -> list[str]:
    """printResourceQuota: `name: used/hard` by name, the limits.* ones in their own column."""
    request: list[str] = []
    limit: list[str] = []
    for name in sorted(rq.status.hard):
        used = _quantity_text(rq.status.used.get(name, "0"))
        cell = f"{name}: {used}/{_quantity_text(rq.status.hard[name])}"
        pieces = name.split(".")
        (limit if len(pieces) > 1 and pieces[0] == "limits" else request).append(cell)
    return [rq.metadata.name, ", ".join(request), ", ".join(limit), _age(rq, now)]


def _role_row(role: Any, now: float) -> list[str]:
    # printRole/printClusterRole: the creation time itself, not an age.
    ts = role.metadata.creation_timestamp
    return [role.metadata.name, format_time(ts) if _is_set(ts) else "<unknown>"]


def _subjects_cells(subjects: Sequence[rbac_pb2.Subject]) -> list[str]:
    """SubjectsStrings: the users, the groups and the service accounts (`namespace/name`) a binding names."""
    users = [s.name for s in subjects if s.kind == "User"]
    groups = [s.name for s in subjects if s.kind == "Group"]
    sas = [f"{s.namespace}/{s.name}" if s.namespace else s.name for s in subjects if s.kind == "ServiceAccount"]
    return [", ".join(users), ", ".join(groups), ", ".join(sas)]


def _binding_row(b: Any, now: float) -> list[str]:
    return [b.metadata.name, f"{b.role_ref.kind}/{b.role_ref.name}", _age(b, now), *_subjects_cells(b.subjects)]
def _priority_class_row(pc: scheduling_pb2.PriorityClass, now: float) -> list[str]:
    policy = pc.preemption_policy if pc.HasField("preemption_policy") else "PreemptLowerPriority"
    return [pc.metadata.name, str(pc.value), "true" if pc.global_default else "false", _age(pc, now), policy]


# Services and their endpoints (printers.go printService, printEndpoints, printEndpointSlice, printIPAddress,
# printServiceCIDR).

_MAX_LISTED = 3


def _listed(items: Sequence[str], total: int | None = None) -> str:
    """The first three, and ` + N more...` (formatEndpoints, formatDiscoveryEndpoints)."""
    total = len(items) if total is None else total
    text = ",".join(items[:_MAX_LISTED])
    return f"{text} + {total - _MAX_LISTED} more..." if total > _MAX_LISTED else text


def _service_external_ip(svc: core_pb2.Service) -> str:
    spec = svc.spec
    if spec.type in ("ClusterIP", "NodePort"):
        return ",".join(spec.external_ips) if spec.external_ips else _NONE
    if spec.type == "LoadBalancer":
        found = [i.ip or i.hostname for i in svc.status.load_balancer.ingress] + list(spec.external_ips)
        return ",".join(found) if found else "<pending>"
    if spec.type == "ExternalName":
        return spec.external_name
    return "<unknown>"


def service_ports(svc: core_pb2.Service) -> str:
    """makePortString: `80/TCP`, `80:31000/TCP` for a node port, comma-joined; `<none>` without ports."""
    out = []
    for p in svc.spec.ports:
        protocol = p.protocol or "TCP"
        out.append(f"{p.port}:{p.node_port}/{protocol}" if p.node_port else f"{p.port}/{protocol}")
    return ",".join(out) if out else _NONE


def _service_row(svc: core_pb2.Service, now: float) -> list[str]:
    return [svc.metadata.name, svc.spec.type, svc.spec.cluster_ip or _NONE, _service_external_ip(svc),
            service_ports(svc), _age(svc, now), _format_labels(svc.spec.selector)]


def _endpoints_text(ep: core_pb2.Endpoints) -> str:
    """formatEndpoints: ready `ip:port` per subset, port and address; `<none>` when there is none."""
    listed: list[str] = []
    for subset in ep.subsets:
        if not subset.ports:
            listed.extend(a.ip for a in subset.addresses)
            continue
        for port in subset.ports:
            listed.extend(_join_host_port(a.ip, str(port.port)) for a in subset.addresses)
    return _listed(listed) if listed else _NONE


def _endpoints_row(ep: core_pb2.Endpoints, now: float) -> list[str]:
    return [ep.metadata.name, _endpoints_text(ep), _age(ep, now)]


def _endpoint_slice_row(es: Any, now: float) -> list[str]:
    ports = [str(p.port) if p.HasField("port") else "<unset>" for p in es.ports]
    addresses = [a for e in es.endpoints for a in e.addresses]
    return [es.metadata.name, es.address_type, _listed(ports) if ports else "<unset>",
            _listed(addresses) if addresses else "<unset>", _age(es, now)]


def _ip_address_row(ip: Any, now: float) -> list[str]:
    ref = ip.spec.parent_ref
    parent = _NONE
    if ip.spec.HasField("parent_ref"):
        resource = f"{ref.resource}.{ref.group}" if ref.group else ref.resource
        parent = resource.lower() + "/" + (f"{ref.namespace}/" if ref.namespace else "") + ref.name
    return [ip.metadata.name, parent]


def _service_cidr_row(cidr: Any, now: float) -> list[str]:
    return [cidr.metadata.name, ",".join(cidr.spec.cidrs), _age(cidr, now)]


_INT = "integer"
_BOOL = "boolean"

_WIDE_TEMPLATE = (_Column("Containers", 1), _Column("Images", 1), _Column("Selector", 1))

# Column definitions as printers.go registers them; priority 1 columns show with `-o wide` only.
_TABLES: dict[str, tuple[tuple[_Column, ...], Callable[[Any, float], list[str]]]] = {
    "Pod": ((
        _Column("Name", is_name=True), _Column("Ready"), _Column("Status"), _Column("Restarts"), _Column("Age"),
        _Column("IP", 1), _Column("Node", 1), _Column("Nominated Node", 1), _Column("Readiness Gates", 1),
    ), _pod_row),
    "Node": ((
        _Column("Name", is_name=True), _Column("Status"), _Column("Roles"), _Column("Age"), _Column("Version"),
        _Column("Internal-IP", 1), _Column("External-IP", 1), _Column("OS-Image", 1), _Column("Kernel-Version", 1),
        _Column("Container-Runtime", 1),
    ), _node_row),
    "Event": ((
        _Column("Last Seen"), _Column("Type"), _Column("Reason"), _Column("Object"), _Column("Subobject", 1),
        _Column("Source", 1), _Column("Message"), _Column("First Seen", 1), _Column("Count", 1, type=_INT),
        _Column("Name", 1, is_name=True),
    ), _event_row),
    "Namespace": ((_Column("Name", is_name=True), _Column("Status"), _Column("Age")), _namespace_row),
    "ReplicationController": ((
        _Column("Name", is_name=True), _Column("Desired", type=_INT), _Column("Current", type=_INT),
        _Column("Ready", type=_INT), _Column("Age"),
        *_WIDE_TEMPLATE,
    ), _rc_row),
    "ReplicaSet": ((
        _Column("Name", is_name=True), _Column("Desired", type=_INT), _Column("Current", type=_INT),
        _Column("Ready", type=_INT), _Column("Age"),
        *_WIDE_TEMPLATE,
    ), _rs_row),
    "Deployment": ((
        _Column("Name", is_name=True), _Column("Ready"), _Column("Up-to-date", type=_INT),
        _Column("Available", type=_INT), _Column("Age"), *_WIDE_TEMPLATE,
    ), _deployment_row),
    "DaemonSet": ((
        _Column("Name", is_name=True), _Column("Desired", type=_INT), _Column("Current", type=_INT),
        _Column("Ready", type=_INT), _Column("Up-to-date", type=_INT), _Column("Available", type=_INT),
        _Column("Node Selector"), _Column("Age"), *_WIDE_TEMPLATE,
    ), _daemonset_row),
    "Job": ((
        _Column("Name", is_name=True), _Column("Status"), _Column("Completions"), _Column("Duration"),
        _Column("Age"), *_WIDE_TEMPLATE,
    ), _job_row),
    "Lease": ((_Column("Name", is_name=True), _Column("Holder"), _Column("Age")), _lease_row),
    # kube-apiserver 1.35 serves no Secrets column any more (token Secrets are no longer made).
    "ServiceAccount": ((_Column("Name", is_name=True), _Column("Age")), _service_account_row),
    "Ingress": ((
        _Column("Name", is_name=True), _Column("Class"), _Column("Hosts"), _Column("Address"), _Column("Ports"),
        _Column("Age"),
    ), _ingress_row),
    "IngressClass": ((
        _Column("Name", is_name=True), _Column("Controller"), _Column("Parameters"), _Column("Age"),
    ), _ingress_class_row),
    "NetworkPolicy": ((_Column("Name", is_name=True), _Column("Pod-Selector"), _Column("Age")), _network_policy_row),
    "PersistentVolume": ((
        _Column("Name", is_name=True), _Column("Capacity"), _Column("Access Modes"), _Column("Reclaim Policy"),
        _Column("Status"), _Column("Claim"), _Column("StorageClass"), _Column("VolumeAttributesClass"),
        _Column("Reason"), _Column("Age"), _Column("VolumeMode", 1),
    ), _pv_row),
    "PersistentVolumeClaim": ((
        _Column("Name", is_name=True), _Column("Status"), _Column("Volume"), _Column("Capacity"),
        _Column("Access Modes"), _Column("StorageClass"), _Column("VolumeAttributesClass"), _Column("Age"),
        _Column("VolumeMode", 1),
    ), _pvc_row),
    "StorageClass": ((
        _Column("Name", is_name=True), _Column("Provisioner"), _Column("ReclaimPolicy"),
        _Column("VolumeBindingMode"), _Column("AllowVolumeExpansion"), _Column("Age"),
    ), _storage_class_row),
    "CSIDriver": ((
        _Column("Name", is_name=True), _Column("AttachRequired", type=_BOOL),
        _Column("PodInfoOnMount", type=_BOOL), _Column("StorageCapacity", type=_BOOL),
        _Column("TokenRequests"), _Column("RequiresRepublish", type=_BOOL), _Column("Modes"), _Column("Age"),
    ), _csi_driver_row),
    "CSINode": ((_Column("Name", is_name=True), _Column("Drivers", type=_INT), _Column("Age")), _csi_node_row),
    "ConfigMap": ((_Column("Name", is_name=True), _Column("Data", type=_INT), _Column("Age")), _configmap_row),
    "Secret": ((
        _Column("Name", is_name=True), _Column("Type"), _Column("Data", type=_INT), _Column("Age"),
    ), _secret_row),
    "LimitRange": ((_Column("Name", is_name=True), _Column("Created At", type="date")), _limit_range_row),
    "ResourceQuota": ((
        _Column("Name", is_name=True), _Column("Request"), _Column("Limit"), _Column("Age"),
    ), _quota_row),
    **dict.fromkeys(("Role", "ClusterRole"), (
        (_Column("Name", is_name=True), _Column("Created At", type="date")), _role_row)),
    **dict.fromkeys(("RoleBinding", "ClusterRoleBinding"), ((
        _Column("Name", is_name=True), _Column("Role"), _Column("Age"), _Column("Users", 1), _Column("Groups", 1),
        _Column("ServiceAccounts", 1),
    ), _binding_row)),
    "PriorityClass": ((
        _Column("Name", is_name=True), _Column("Value", type=_INT), _Column("Global-Default", type=_BOOL),
        _Column("Age"), _Column("PreemptionPolicy"),
    ), _priority_class_row),
    "Service": ((
        _Column("Name", is_name=True), _Column("Type"), _Column("Cluster-IP"), _Column("External-IP"),
        _Column("Port(s)"), _Column("Age"), _Column("Selector", 1),
    ), _service_row),
    "Endpoints": ((_Column("Name", is_name=True), _Column("Endpoints"), _Column("Age")), _endpoints_row),
    "EndpointSlice": ((
        _Column("Name", is_name=True), _Column("AddressType"), _Column("Ports"), _Column("Endpoints"),
        _Column("Age"),
    ), _endpoint_slice_row),
    "IPAddress": ((_Column("Name", is_name=True), _Column("ParentRef")), _ip_address_row),
    "ServiceCIDR": ((_Column("Name", is_name=True), _Column("CIDRs"), _Column("Age")), _service_cidr_row),
}

_DEFAULT_TABLE: tuple[tuple[_Column, ...], Callable[[Any, float], list[str]]] = (
    (_Column("Name", is_name=True), _Column("Age")), lambda obj, now: [obj.metadata.name, _age(obj, now)],
)
"""The table of a kind that registers none: its name and age, as a custom resource without printer columns prints
(upstream's DefaultTableConvertor serves name and creation time)."""

DEFAULT_TABLE_KINDS: frozenset[str] = frozenset({
    # Scaffolds of #24's kinds until each has its printers.go columns.
})
"""Kinds that print with the default table on purpose; any other kind should have its own row in _TABLES."""


def table(kind: str, objects: Sequence[Any], *, now: float) -> tuple[tuple[Column, ...], list[list[str]]]:
    """The columns of a kind's table and one row of cells per object, every column included (priority 1 too):
    the one source `kubemu get` lays out as text and the REST face serves as a meta.k8s.io/v1 Table."""
    columns, row_of = _TABLES.get(kind, _DEFAULT_TABLE)
    return columns, [row_of(obj, now) for obj in objects]


def has_table(kind: str) -> bool:
    """Whether `kind` prints with a table of its own or chose the default one (the completeness test asks)."""
    return kind in _TABLES or kind in DEFAULT_TABLE_KINDS


@dataclass(frozen=True)
class _Options:
    wide: bool
    show_labels: bool
    label_columns: tuple[str, ...]
    with_namespace: bool
    with_kind: bool
    no_headers: bool


def _label_keys(label_columns: Sequence[str]) -> tuple[str, ...]:
    # -L is a string slice flag: `-L a,b` and `-L a -L b` are the same.
    return tuple(k for item in label_columns for k in item.split(",") if k)


def _decorated(info: kinds.KindInfo, objects: Sequence[Any], now: float, opts: _Options) -> list[list[str]]:
    """The header and rows of one kind's table after decorateTable: NAMESPACE, kind/name, -L and LABELS columns."""
    columns, rows = table(info.kind, objects, now=now)
    visible = [i for i, c in enumerate(columns) if opts.wide or c.priority == 0]
    name_col = next((i for i, c in enumerate(columns) if c.is_name), -1)
    with_namespace = opts.with_namespace and info.namespaced  # -A adds no column for cluster-scoped kinds
    # kubectl prefixes names with the lower-cased GroupKind: `pod/web`, `deployment.apps/web`.
    prefix = f"{info.kind.lower()}.{info.group}" if info.group else info.kind.lower()

    header = [c.name.upper() for i, c in enumerate(columns) if i in visible]
    header += [key.split("/")[-1].upper() for key in opts.label_columns]
    if opts.show_labels:
        header.append("LABELS")
    if with_namespace:
        header.insert(0, "NAMESPACE")

    lines = [] if opts.no_headers else [header]
    for obj, cells in zip(objects, rows, strict=True):
        if opts.with_kind and name_col >= 0:
            cells[name_col] = f"{prefix}/{cells[name_col]}"
        row = [cells[i] for i in visible]
        labels = obj.metadata.labels
        row += [labels.get(key, "") for key in opts.label_columns]
        if opts.show_labels:
            row.append(_format_labels(labels))
        if with_namespace:
            row.insert(0, obj.metadata.namespace)
        lines.append(row)
    return lines


def _cells_text(table: Sequence[Sequence[str]]) -> str:
    # Cells must not break the layout: kubectl cuts a cell at its first line break and marks it with "...";
    # a tab inside a cell would open a new column here, so it becomes a space.
    def clean(cell: str) -> str:
        for i, ch in enumerate(cell):
            if ch in "\n\r\f":
                return cell[:i].replace("\t", " ") + "..."
        return cell.replace("\t", " ")

    return "".join("\t".join(clean(c) for c in row) + "\n" for row in table)


def _group_by_kind(objects: Sequence[Any]) -> list[tuple[kinds.KindInfo, list[Any]]]:
    groups: dict[str, tuple[kinds.KindInfo, list[Any]]] = {}
    for obj in objects:
        info = kinds.of_message(obj)
        groups.setdefault(info.kind, (info, []))[1].append(obj)
    return list(groups.values())


def print_table(
    objects: Sequence[Any],
    *,
    now: float,
    wide: bool = False,
    show_labels: bool = False,
    label_columns: Sequence[str] = (),
    with_namespace: bool = False,
    with_kind: bool = False,
    no_headers: bool = False,
) -> str:
    """`kubectl get` output for objects of any registered kinds, one table per kind separated by a blank line.

    Objects of several kinds always print as `kind/name`, as kubectl does when more than one type was asked for.
    An empty list prints nothing (kubectl's "No resources found" goes to stderr and is the caller's).
    """
    groups = _group_by_kind(objects)
    opts = _Options(wide, show_labels, _label_keys(label_columns), with_namespace,
                    with_kind or len(groups) > 1, no_headers)
    tables: list[str] = []
    for info, items in groups:
        text = _cells_text(_decorated(info, items, now, opts))
        tables.append(_tabwrite(text, minwidth=_GET_MINWIDTH, padding=_GET_PADDING))
    return ("" if no_headers else "\n").join(tables)


def print_watch_row(
    obj: Any,
    *,
    now: float,
    first: bool,
    wide: bool = False,
    show_labels: bool = False,
    label_columns: Sequence[str] = (),
    with_namespace: bool = False,
    with_kind: bool = False,
    no_headers: bool = False,
    widths: list[int] | None = None,
) -> str:
    """One `kubectl get -w` line, preceded by the header when `first` is set.

    Pass the same `widths` list on every call to keep columns from shrinking, as kubectl's tabwriter remembers
    widths between flushes; without it each line is laid out on its own.
    """
    info = kinds.of_message(obj)
    opts = _Options(wide, show_labels, _label_keys(label_columns), with_namespace, with_kind,
                    no_headers or not first)
    text = _cells_text(_decorated(info, [obj], now, opts))
    remembered = widths if widths is not None else []
    if first:
        remembered.clear()  # a new header starts a new table, as kubectl's SetRememberedWidths(nil)
    return _tabwrite(text, minwidth=_GET_MINWIDTH, padding=_GET_PADDING, remembered=remembered)


# ---- describe ---------------------------------------------------------------------------------------------------


class _Writer:
    """describe's PrefixWriter: two spaces per level, cells separated by tabs, laid out by tabwriter at the end."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, level: int, text: str) -> None:
        self._parts.append("  " * level + text)

    def line(self, text: str) -> None:
        self._parts.append(text + "\n")

    def render(self) -> str:
        # DescribeEvents flushes before its table, but its "Events:" line has no cell and so ends every column
        # block anyway: laying everything out at once gives the same text.
        return _tabwrite("".join(self._parts), minwidth=_DESCRIBE_MINWIDTH, padding=_DESCRIBE_PADDING)


_SKIP_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
_MAX_ANNOTATION_LEN = 140


def _labels_multiline(w: _Writer, title: str, labels: Mapping[str, str]) -> None:
    w.write(0, f"{title}:\t")
    if not labels:
        w.line(_NONE)
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, "\t")
        w.write(0, f"{key}={labels[key]}\n")


def _annotations_multiline(w: _Writer, title: str, annotations: Mapping[str, str]) -> None:
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in annotations if k not in _SKIP_ANNOTATIONS)
    if not keys:
        w.line(_NONE)
        return
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for s in value.split("\n"):
                short = s if len(s) <= _MAX_ANNOTATION_LEN - 2 else s[: _MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _taint_string(t: core_pb2.Taint) -> str:
    if not t.effect:
        return t.key if not t.value else f"{t.key}={t.value}:"
    return f"{t.key}:{t.effect}" if not t.value else f"{t.key}={t.value}:{t.effect}"


def _taints_multiline(w: _Writer, title: str, taints: Sequence[core_pb2.Taint]) -> None:
    w.write(0, f"{title}:\t")
    if not taints:
        w.line(_NONE)
        return
    for i, t in enumerate(sorted(taints, key=lambda t: f"{t.effect},{t.key}")):
        if i:
            w.write(0, "\t")
        w.write(0, _taint_string(t) + "\n")


def _tolerations_multiline(w: _Writer, title: str, tolerations: Sequence[core_pb2.Toleration]) -> None:
    w.write(0, f"{title}:\t")
    if not tolerations:
        w.line(_NONE)
        return
    for i, t in enumerate(sorted(tolerations, key=lambda t: t.key)):
        if i:
            w.write(0, "\t")
        text = t.key
        if t.value:
            text += f"={t.value}"
        if t.effect:
            text += f":{t.effect}"
        if t.operator == "Exists" and not t.value:
            # A bare `operator: Exists` tolerates everything and prints as just that.
            text += " op=Exists" if t.key or t.effect else "op=Exists"
        if t.HasField("toleration_seconds"):
            text += f" for {t.toleration_seconds}s"
        w.write(0, text + "\n")


def _describe_events(w: _Writer, events: Sequence[core_pb2.Event], now: float) -> None:
    if not events:
        w.write(0, "Events:\t<none>\n")
        return

    def sort_time(e: core_pb2.Event) -> float:
        return time_value(e.last_timestamp) if _is_set(e.last_timestamp) else time_value(e.event_time)

    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=sort_time):
        first = _since(e.event_time, now) if _is_set(e.event_time) else _since(e.first_timestamp, now)
        if e.count > 1:
            interval = f"{_since(e.last_timestamp, now)} (x{e.count} over {first})"
        else:
            interval = first
        source = e.source.component or e.reporting_component
        w.write(1, f"{e.type}\t{e.reason}\t{interval}\t{source}\t{e.message.strip()}\n")


def _controller_of(meta: meta_pb2.ObjectMeta) -> str:
    for ref in meta.owner_references:
        if ref.HasField("controller") and ref.controller:
            return f"{ref.kind}/{ref.name}"
    return ""


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _describe_probe(p: core_pb2.Probe) -> str:
    """DescribeProbe: the action, then `delay=0s timeout=1s period=10s #success=1 #failure=3`."""
    attrs = (f"delay={p.initial_delay_seconds}s timeout={p.timeout_seconds}s period={p.period_seconds}s "
             f"#success={p.success_threshold} #failure={p.failure_threshold}")
    if p.HasField("exec"):
        return f"exec [{' '.join(p.exec.command)}] {attrs}"
    if p.HasField("http_get"):
        h = p.http_get
        # Go's url.URL.String(): scheme://host/path, a slash added before a relative path.
        url = ""
        if h.scheme:
            url += h.scheme.lower() + ":"
        url += "//" + _join_host_port(h.host, _int_or_string(h.port))
        if h.path:
            url += h.path if h.path.startswith("/") else "/" + h.path
        return f"http-get {url} {attrs}"
    if p.HasField("tcp_socket"):
        return f"tcp-socket {p.tcp_socket.host}:{_int_or_string(p.tcp_socket.port)} {attrs}"
    if p.HasField("grpc"):
        return f"grpc <pod>:{p.grpc.port} {p.grpc.service} {attrs}"
    return f"unknown {attrs}"


def _describe_state(w: _Writer, name: str, state: core_pb2.ContainerState) -> None:
    if state.HasField("running"):
        w.write(2, f"{name}:\tRunning\n")
        w.write(3, f"Started:\t{_rfc1123z(state.running.started_at)}\n")
    elif state.HasField("waiting"):
        w.write(2, f"{name}:\tWaiting\n")
        if state.waiting.reason:
            w.write(3, f"Reason:\t{state.waiting.reason}\n")
    elif state.HasField("terminated"):
        t = state.terminated
        w.write(2, f"{name}:\tTerminated\n")
        if t.reason:
            w.write(3, f"Reason:\t{t.reason}\n")
        if t.message:
            w.write(3, f"Message:\t{t.message}\n")
        w.write(3, f"Exit Code:\t{t.exit_code}\n")
        if t.signal > 0:
            w.write(3, f"Signal:\t{t.signal}\n")
        w.write(3, f"Started:\t{_rfc1123z(t.started_at)}\n")
        w.write(3, f"Finished:\t{_rfc1123z(t.finished_at)}\n")
    else:
        w.write(2, f"{name}:\tWaiting\n")


def _pod_field(pod: core_pb2.Pod, path: str) -> str:
    """fieldpath.ExtractFieldPathAsString: kubectl resolves metadata fields only; others show empty."""
    meta = pod.metadata
    simple = {"metadata.name": meta.name, "metadata.namespace": meta.namespace, "metadata.uid": meta.uid}
    if path in simple:
        return simple[path]
    for prefix, values in (("metadata.labels", meta.labels), ("metadata.annotations", meta.annotations)):
        if path.startswith(prefix + "['") and path.endswith("']"):
            return values.get(path[len(prefix) + 2: -2], "")
    return ""


def _resource_field(ref: core_pb2.ResourceFieldSelector, container: core_pb2.Container) -> str:
    """ExtractContainerResourceValue: a limit or request divided by the divisor, rounded up."""
    divisor = _quantity(ref.divisor) if ref.divisor else _ONE
    if divisor.is_zero():
        divisor = _ONE
    kind, _, resource = ref.resource.partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory", "ephemeral-storage"):
        return ""
    amounts = container.resources.limits if kind == "limits" else container.resources.requests
    amount = _quantity(amounts.get(resource, "0"))
    if resource == "cpu":
        return str(math.ceil(amount.milli_value() / divisor.milli_value()))
    return str(math.ceil(amount.value() / max(divisor.value(), 1)))


def _describe_containers(w: _Writer, label: str, pod: core_pb2.Pod, containers: Sequence[core_pb2.Container],
                         statuses: Sequence[core_pb2.ContainerStatus]) -> None:
    by_name = {s.name: s for s in statuses}
    w.write(0, f"{label}:{'' if containers else ' <none>'}\n")
    for c in containers:
        status = by_name.get(c.name)
        w.write(1, f"{c.name}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.container_id}\n")
        w.write(2, f"Image:\t{c.image}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.image_id}\n")
        ports = ", ".join(f"{p.container_port}/{p.protocol}" for p in c.ports)
        host_ports = ", ".join(f"{p.host_port}/{p.protocol}" for p in c.ports)
        w.write(2, f"Ports:\t{ports}\n" if "," in ports else f"Port:\t{ports or _NONE}\n")
        w.write(2, f"Host Ports:\t{host_ports}\n" if "," in host_ports else f"Host Port:\t{host_ports or _NONE}\n")
        for title, items in (("Command", c.command), ("Args", c.args)):
            if items:
                w.write(2, f"{title}:\n")
                for item in items:
                    for s in item.split("\n"):
                        w.write(3, s + "\n")
        if status is not None:
            _describe_state(w, "State", status.state)
            if status.last_state.HasField("terminated"):
                _describe_state(w, "Last State", status.last_state)
            w.write(2, f"Ready:\t{'True' if status.ready else 'False'}\n")
            w.write(2, f"Restart Count:\t{status.restart_count}\n")
        for title, amounts in (("Limits", c.resources.limits), ("Requests", c.resources.requests)):
            if amounts:
                w.write(2, f"{title}:\n")
                for name in sorted(amounts):
                    w.write(3, f"{name}:\t{_quantity_text(amounts[name])}\n")
        for title, has, probe in (("Liveness", c.HasField("liveness_probe"), c.liveness_probe),
                                  ("Readiness", c.HasField("readiness_probe"), c.readiness_probe),
                                  ("Startup", c.HasField("startup_probe"), c.startup_probe)):
            if has:
                w.write(2, f"{title}:\t{_describe_probe(probe)}\n")
        if c.env_from:
            w.write(2, "Environment Variables from:\n")
        for ef in c.env_from:
            cm_ref = ef.HasField("config_map_ref")
            name = ef.config_map_ref.name if cm_ref else ef.secret_ref.name
            source = "ConfigMap" if cm_ref else "Secret"
            optional = _go_bool(ef.config_map_ref.optional if cm_ref else ef.secret_ref.optional)
            if ef.prefix:
                w.write(3, f"{name}\t{source} with prefix '{ef.prefix}'\tOptional: {optional}\n")
            else:
                w.write(3, f"{name}\t{source}\tOptional: {optional}\n")
        w.write(2, "Environment:" + ("" if c.env else "\t<none>") + "\n")
        for e in c.env:
            if not e.HasField("value_from"):
                for i, s in enumerate(e.value.split("\n")):
                    w.write(3, f"{e.name}:\t{s}\n" if i == 0 else f"\t{s}\n")
            elif e.value_from.HasField("field_ref"):
                ref = e.value_from.field_ref
                w.write(3, f"{e.name}:\t{_pod_field(pod, ref.field_path)} ({ref.api_version}:{ref.field_path})\n")
            elif e.value_from.HasField("resource_field_ref"):
                rref = e.value_from.resource_field_ref
                value = _resource_field(rref, c)
                if value == "0" and rref.resource in ("limits.cpu", "limits.memory"):
                    value = "node allocatable"
                w.write(3, f"{e.name}:\t{value} ({rref.resource})\n")
            elif e.value_from.HasField("secret_key_ref"):
                sref = e.value_from.secret_key_ref
                w.write(3, f"{e.name}:\t<set to the key '{sref.key}' in secret '{sref.name}'>\t"
                           f"Optional: {'true' if sref.optional else 'false'}\n")
            elif e.value_from.HasField("config_map_key_ref"):
                cref = e.value_from.config_map_key_ref
                w.write(3, f"{e.name}:\t<set to the key '{cref.key}' of config map '{cref.name}'>\t"
                           f"Optional: {'true' if cref.optional else 'false'}\n")
        w.write(2, "Mounts:" + ("" if c.volume_mounts else "\t<none>") + "\n")
        for m in sorted(c.volume_mounts, key=lambda m: m.mount_path):
            flags = ["ro" if m.read_only else "rw"]
            if m.sub_path:
                flags.append(f"path={go_quote(m.sub_path)}")
            w.write(3, f"{m.mount_path} from {m.name} ({','.join(flags)})\n")


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def _describe_projected(w: _Writer, projected: core_pb2.ProjectedVolumeSource) -> None:
    """printProjectedVolumeSource: one or two lines per source."""
    w.write(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n")
    for src in projected.sources:
        if src.HasField("secret"):
            w.write(2, f"SecretName:\t{src.secret.name}\n    Optional:\t{_go_bool(src.secret.optional)}\n")
        elif src.HasField("downward_api"):
            w.write(2, "DownwardAPI:\ttrue\n")
        elif src.HasField("config_map"):
            w.write(2, f"ConfigMapName:\t{src.config_map.name}\n"
                       f"    Optional:\t{_go_bool(src.config_map.optional)}\n")
        elif src.HasField("service_account_token"):
            w.write(2, f"TokenExpirationSeconds:\t{src.service_account_token.expiration_seconds}\n")


def _describe_volumes(w: _Writer, volumes: Sequence[core_pb2.Volume]) -> None:
    if not volumes:
        w.write(0, "Volumes:\t<none>\n")
        return
    w.write(0, "Volumes:\n")
    for v in volumes:
        w.write(1, f"{v.name}:\n")
        if v.HasField("host_path"):
            kind = v.host_path.type if v.host_path.HasField("type") else _NONE
            w.write(2, "Type:\tHostPath (bare host directory volume)\n"
                       f"    Path:\t{v.host_path.path}\n    HostPathType:\t{kind}\n")
        elif v.HasField("empty_dir"):
            ed = v.empty_dir
            size = "<unset>"
            if ed.HasField("size_limit") and _quantity(ed.size_limit).amount > 0:
                size = _quantity_text(ed.size_limit)
            w.write(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                       f"    Medium:\t{ed.medium}\n    SizeLimit:\t{size}\n")
        elif v.HasField("persistent_volume_claim"):
            claim = v.persistent_volume_claim
            w.write(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                       f"    ClaimName:\t{claim.claim_name}\n    ReadOnly:\t{_b(claim.read_only)}\n")
        elif v.HasField("config_map"):
            w.write(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n"
                       f"    Name:\t{v.config_map.name}\n    Optional:\t{_go_bool(v.config_map.optional)}\n")
        elif v.HasField("secret"):
            w.write(2, "Type:\tSecret (a volume populated by a Secret)\n"
                       f"    SecretName:\t{v.secret.secret_name}\n    Optional:\t{_go_bool(v.secret.optional)}\n")
        elif v.HasField("downward_api"):
            w.write(2, "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n")
            for item in v.downward_api.items:
                if item.HasField("field_ref"):
                    w.write(3, f"{item.field_ref.field_path} -> {item.path}\n")
                if item.HasField("resource_field_ref"):
                    w.write(3, f"{item.resource_field_ref.resource} -> {item.path}\n")
        elif v.HasField("projected"):
            _describe_projected(w, v.projected)
        else:
            w.write(1, "<unknown>\n")


def _describe_pod(pod: core_pb2.Pod, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    w = _Writer()
    meta, spec, status = pod.metadata, pod.spec, pod.status
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    if spec.HasField("priority"):
        w.write(0, f"Priority:\t{spec.priority}\n")
    if spec.priority_class_name:
        w.write(0, f"Priority Class Name:\t{spec.priority_class_name}\n")
    if spec.service_account_name:
        w.write(0, f"Service Account:\t{spec.service_account_name}\n")
    w.write(0, f"Node:\t{spec.node_name + '/' + status.host_ip if spec.node_name else _NONE}\n")
    if status.HasField("start_time"):
        w.write(0, f"Start Time:\t{_rfc1123z(status.start_time)}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    if meta.HasField("deletion_timestamp") and status.phase not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {_since(meta.deletion_timestamp, now)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.deletion_grace_period_seconds}s\n")
    else:
        w.write(0, f"Status:\t{status.phase}\n")
    if status.reason:
        w.write(0, f"Reason:\t{status.reason}\n")
    if status.message:
        w.write(0, f"Message:\t{status.message}\n")
    w.write(0, f"IP:\t{status.pod_ip}\n")
    if status.pod_ips:
        w.write(0, "IPs:\n")
        for ip in status.pod_ips:
            w.write(1, f"IP:\t{ip.ip}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    controlled_by = _controller_of(meta)
    if controlled_by:
        w.write(0, f"Controlled By:\t{controlled_by}\n")
    if status.nominated_node_name:
        w.write(0, f"NominatedNodeName:\t{status.nominated_node_name}\n")
    if spec.init_containers:
        _describe_containers(w, "Init Containers", pod, spec.init_containers, status.init_container_statuses)
    _describe_containers(w, "Containers", pod, spec.containers, status.container_statuses)
    if status.conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in status.conditions:
            w.write(1, f"{c.type} \t{c.status} \n")
    _describe_volumes(w, spec.volumes)
    w.write(0, f"QoS Class:\t{status.qos_class or qos_class(spec)}\n")
    _labels_multiline(w, "Node-Selectors", spec.node_selector)
    _tolerations_multiline(w, "Tolerations", spec.tolerations)
    if spec.topology_spread_constraints:
        w.write(0, "Topology Spread Constraints:\t")
        for i, tsc in enumerate(sorted(spec.topology_spread_constraints, key=lambda t: t.topology_key)):
            if i:
                w.write(0, "\t")
            text = f"{tsc.topology_key}:{tsc.when_unsatisfiable} when max skew {tsc.max_skew} is exceeded"
            if tsc.HasField("label_selector"):
                text += f" for selector {_format_label_selector(True, tsc.label_selector)}"
            w.write(0, text + "\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _pod_requests_limits(pod: core_pb2.Pod) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """PodRequestsAndLimits: containers and sidecars add up, a plain init container only raises the maximum."""
    reqs: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}

    def add(into: dict[str, Quantity], amounts: Mapping[str, str]) -> None:
        for name, raw in amounts.items():
            into[name] = into.get(name, _ZERO) + _quantity(raw)

    for c in pod.spec.containers:
        add(reqs, c.resources.requests)
        add(limits, c.resources.limits)
    sidecar_reqs: dict[str, Quantity] = {}
    sidecar_limits: dict[str, Quantity] = {}
    init_reqs: dict[str, Quantity] = {}
    init_limits: dict[str, Quantity] = {}
    for c in pod.spec.init_containers:
        if _is_restartable_init(c):
            add(reqs, c.resources.requests)
            add(limits, c.resources.limits)
            add(sidecar_reqs, c.resources.requests)
            add(sidecar_limits, c.resources.limits)
            continue
        # A plain init container runs alongside the sidecars started before it.
        for into, amounts, side in ((init_reqs, c.resources.requests, sidecar_reqs),
                                    (init_limits, c.resources.limits, sidecar_limits)):
            for name, raw in amounts.items():
                need = _quantity(raw) + side.get(name, _ZERO)
                if name not in into or into[name] < need:
                    into[name] = need
    for into, init in ((reqs, init_reqs), (limits, init_limits)):
        for name, q in init.items():
            if name not in into or into[name] < q:
                into[name] = q
    for into in (reqs, limits):
        add(into, pod.spec.overhead)
    return reqs, limits


def _describe_node_resource(w: _Writer, node: core_pb2.Node, pods: Sequence[core_pb2.Pod], now: float) -> None:
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    allocatable = dict(node.status.allocatable) or dict(node.status.capacity)
    alloc_cpu = _quantity(allocatable.get("cpu", "0")).milli_value()
    alloc = {name: _quantity(raw).value() for name, raw in allocatable.items()}

    def pct(q: Quantity, name: str) -> str:
        # int64(float64 fraction * 100): truncation, and 0 when the node reports no such resource.
        if name == "cpu":
            frac = q.milli_value() / alloc_cpu * 100 if alloc_cpu else 0.0
        else:
            frac = q.value() / alloc[name] * 100 if alloc.get(name) else 0.0
        return f"{q} ({int(frac)}%)"

    total_reqs: dict[str, Quantity] = {}
    total_limits: dict[str, Quantity] = {}
    for pod in pods:
        reqs, limits = _pod_requests_limits(pod)
        for into, src in ((total_reqs, reqs), (total_limits, limits)):
            for name, q in src.items():
                into[name] = into.get(name, _ZERO) + q
        zero = _ZERO
        w.write(1, f"{pod.metadata.namespace}\t{pod.metadata.name}\t\t"
                   f"{pct(reqs.get('cpu', zero), 'cpu')}\t{pct(limits.get('cpu', zero), 'cpu')}\t"
                   f"{pct(reqs.get('memory', zero), 'memory')}\t{pct(limits.get('memory', zero), 'memory')}\t"
                   f"{_age(pod, now)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for name in ("cpu", "memory", "ephemeral-storage"):
        zero = _ZERO
        w.write(1, f"{name}\t{pct(total_reqs.get(name, zero), name)}\t{pct(total_limits.get(name, zero), name)}\n")
    standard = {"cpu", "memory", "ephemeral-storage", "pods"}
    huge = sorted(n for n in allocatable if n.startswith("hugepages-"))
    extended = sorted(n for n in allocatable if n not in standard and not n.startswith("hugepages-"))
    for name in huge:
        zero = _ZERO
        w.write(1, f"{name}\t{pct(total_reqs.get(name, zero), name)}\t{pct(total_limits.get(name, zero), name)}\n")
    for name in extended:
        w.write(1, f"{name}\t{total_reqs.get(name, _ZERO)}\t{total_limits.get(name, _ZERO)}\n")


def _describe_node(node: core_pb2.Node, events: Sequence[core_pb2.Event] | None, now: float,
                   lease: coordination_pb2.Lease | None, pods: Sequence[core_pb2.Pod] | None) -> str:
    w = _Writer()
    meta, spec, status = node.metadata, node.spec, node.status
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Roles:\t{','.join(_node_roles(node)) or _NONE}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    w.write(0, f"CreationTimestamp:\t{_rfc1123z(meta.creation_timestamp)}\n")
    _taints_multiline(w, "Taints", spec.taints)
    w.write(0, f"Unschedulable:\t{'true' if spec.unschedulable else 'false'}\n")
    if lease is not None:
        w.write(0, "Lease:\n")
        holder = lease.spec.holder_identity if lease.spec.HasField("holder_identity") else "<unset>"
        w.write(1, f"HolderIdentity:\t{holder}\n")
        for title, has, t in (("AcquireTime", lease.spec.HasField("acquire_time"), lease.spec.acquire_time),
                              ("RenewTime", lease.spec.HasField("renew_time"), lease.spec.renew_time)):
            w.write(1, f"{title}:\t{_rfc1123z(t) if has else '<unset>'}\n")
    if status.conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in status.conditions:
            w.write(1, f"{c.type} \t{c.status} \t{_rfc1123z(c.last_heartbeat_time)} \t"
                       f"{_rfc1123z(c.last_transition_time)} \t{c.reason} \t{c.message}\n")
    w.write(0, "Addresses:\n")
    for a in status.addresses:
        w.write(1, f"{a.type}:\t{a.address}\n")
    for title, amounts in (("Capacity", status.capacity), ("Allocatable", status.allocatable)):
        if amounts:
            w.write(0, f"{title}:\n")
            for name in sorted(amounts):
                w.write(0, f"  {name}:\t{_quantity_text(amounts[name])}\n")
    info = status.node_info
    w.write(0, "System Info:\n")
    for title, value in (("Machine ID", info.machine_id), ("System UUID", info.system_uuid),
                         ("Boot ID", info.boot_id), ("Kernel Version", info.kernel_version),
                         ("OS Image", info.os_image), ("Operating System", info.operating_system),
                         ("Architecture", info.architecture),
                         ("Container Runtime Version", info.container_runtime_version),
                         ("Kubelet Version", info.kubelet_version), ("Kube-Proxy Version", info.kube_proxy_version)):
        w.write(0, f"  {title}:\t{value}\n")
    if spec.pod_cidr:
        w.write(0, f"PodCIDR:\t{spec.pod_cidr}\n")
    if spec.pod_cidrs:
        w.write(0, f"PodCIDRs:\t{','.join(spec.pod_cidrs)}\n")
    if spec.provider_id:
        w.write(0, f"ProviderID:\t{spec.provider_id}\n")
    if pods is not None:
        _describe_node_resource(w, node, pods, now)
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _format_map(values: Mapping[str, str]) -> str:
    """labels.FormatLabels: `k=v` sorted by key, comma-joined; <none> when empty."""
    return ",".join(f"{k}={values[k]}" for k in sorted(values)) or _NONE


def _go_list(items: Sequence[str]) -> str:
    """A []string as Go's %v prints it."""
    return "[" + " ".join(items) + "]"


def _status_line(w: _Writer, obj: Any, phase: str, now: float) -> None:
    if obj.metadata.HasField("deletion_timestamp"):
        w.write(0, f"Status:\tTerminating (lasts {_since(obj.metadata.deletion_timestamp, now)})\n")
    else:
        w.write(0, f"Status:\t{phase}\n")


def _node_selector_term(w: _Writer, level: int, title: str, exprs: Sequence[core_pb2.NodeSelectorRequirement]) -> None:
    """printNodeSelectorTermsMultilineWithIndent."""
    w.write(level, f"{title}:\t")
    if not exprs:
        w.line(_NONE)
        return
    for i, req in enumerate(exprs):
        if i:
            w.write(level, "\t")
        text = f"{req.key} {req.operator.lower()}"
        if req.values:
            text += f" [{', '.join(req.values)}]"
        w.write(0, text + "\n")


def _describe_pv_source(w: _Writer, spec: core_pb2.PersistentVolumeSpec) -> None:
    if spec.HasField("host_path"):
        hp = spec.host_path
        w.write(2, "Type:\tHostPath (bare host directory volume)\n")
        w.write(2, f"Path:\t{hp.path}\n")
        w.write(2, f"HostPathType:\t{hp.type}\n")
    elif spec.HasField("local"):
        w.write(2, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n")
        w.write(2, f"Path:\t{spec.local.path}\n")
    elif spec.HasField("nfs"):
        w.write(2, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)\n")
        w.write(2, f"Server:\t{spec.nfs.server}\n")
        w.write(2, f"Path:\t{spec.nfs.path}\n")
        w.write(2, f"ReadOnly:\t{'true' if spec.nfs.read_only else 'false'}\n")
    elif spec.HasField("csi"):
        csi = spec.csi
        w.write(2, "Type:\tCSI (a Container Storage Interface (CSI) volume source)\n")
        w.write(2, f"Driver:\t{csi.driver}\n")
        w.write(2, f"FSType:\t{csi.fs_type}\n")
        w.write(2, f"VolumeHandle:\t{csi.volume_handle}\n")
        w.write(2, f"ReadOnly:\t{'true' if csi.read_only else 'false'}\n")
        w.write(2, f"VolumeAttributes:\t{_format_map(csi.volume_attributes)}\n")


def _describe_pv(pv: core_pb2.PersistentVolume, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    """describePersistentVolume."""
    w = _Writer()
    spec = pv.spec
    w.write(0, f"Name:\t{pv.metadata.name}\n")
    _labels_multiline(w, "Labels", pv.metadata.labels)
    _annotations_multiline(w, "Annotations", pv.metadata.annotations)
    w.write(0, f"Finalizers:\t{_go_list(pv.metadata.finalizers)}\n")
    w.write(0, f"StorageClass:\t{storage_api.volume_class(pv)}\n")
    _status_line(w, pv, pv.status.phase, now)
    claim = f"{spec.claim_ref.namespace}/{spec.claim_ref.name}" if spec.HasField("claim_ref") else ""
    w.write(0, f"Claim:\t{claim}\n")
    w.write(0, f"Reclaim Policy:\t{spec.persistent_volume_reclaim_policy}\n")
    w.write(0, f"Access Modes:\t{storage_api.access_modes_text(spec.access_modes)}\n")
    if spec.HasField("volume_mode"):
        w.write(0, f"VolumeMode:\t{spec.volume_mode}\n")
    w.write(0, f"Capacity:\t{_quantity_text(spec.capacity.get('storage', '0'))}\n")
    w.write(0, "Node Affinity:\t")
    if not spec.HasField("node_affinity") or not spec.node_affinity.HasField("required"):
        w.line(_NONE)
    else:
        w.line("")
        w.write(1, "Required Terms:\t")
        terms = spec.node_affinity.required.node_selector_terms
        if not terms:
            w.line(_NONE)
        else:
            w.line("")
            for i, term in enumerate(terms):
                _node_selector_term(w, 2, f"Term {i}", term.match_expressions)
    w.write(0, f"Message:\t{pv.status.message}\n")
    w.write(0, "Source:\n")
    _describe_pv_source(w, spec)
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_pvc(pvc: core_pb2.PersistentVolumeClaim, events: Sequence[core_pb2.Event] | None, now: float,
                  pods: Sequence[core_pb2.Pod] | None) -> str:
    """describePersistentVolumeClaim; `pods` are the namespace's pods, of which those naming the claim are Used By."""
    w = _Writer()
    meta, spec = pvc.metadata, pvc.spec
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    w.write(0, f"StorageClass:\t{storage_api.claim_class(pvc)}\n")
    if spec.volume_attributes_class_name:
        w.write(0, f"VolumeAttributesClass:\t{spec.volume_attributes_class_name}\n")
    _status_line(w, pvc, pvc.status.phase, now)
    w.write(0, f"Volume:\t{spec.volume_name}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    w.write(0, f"Finalizers:\t{_go_list(meta.finalizers)}\n")
    capacity = modes = ""
    if spec.volume_name:
        modes = storage_api.access_modes_text(pvc.status.access_modes)
        capacity = _quantity_text(pvc.status.capacity.get("storage", "0"))
    w.write(0, f"Capacity:\t{capacity}\n")
    w.write(0, f"Access Modes:\t{modes}\n")
    if spec.HasField("volume_mode"):
        w.write(0, f"VolumeMode:\t{spec.volume_mode}\n")
    users = [p.metadata.name for p in pods or ()
             if any(v.persistent_volume_claim.claim_name == meta.name for v in p.spec.volumes
                    if v.HasField("persistent_volume_claim"))]
    w.write(0, "Used By:\t")
    if not users:
        w.line(_NONE)
    for i, name in enumerate(users):
        if i:
            w.write(0, "\t")
        w.write(0, f"{name}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_storage_class(sc: storage_pb2.StorageClass, events: Sequence[core_pb2.Event] | None,
                            now: float) -> str:
    """StorageClassDescriber."""
    w = _Writer()
    w.write(0, f"Name:\t{sc.metadata.name}\n")
    w.write(0, f"IsDefaultClass:\t{'Yes' if storage_api.is_default_class(sc) else 'No'}\n")
    w.write(0, f"Annotations:\t{_format_map(sc.metadata.annotations)}\n")
    w.write(0, f"Provisioner:\t{sc.provisioner}\n")
    w.write(0, f"Parameters:\t{_format_map(sc.parameters)}\n")
    expansion = ("True" if sc.allow_volume_expansion else "False") if sc.HasField("allow_volume_expansion") \
        else _UNSET
    w.write(0, f"AllowVolumeExpansion:\t{expansion}\n")
    if not sc.mount_options:
        w.write(0, f"MountOptions:\t{_NONE}\n")
    else:
        w.write(0, "MountOptions:\n")
        for option in sc.mount_options:
            w.write(1, f"{option}\n")
    if sc.HasField("reclaim_policy"):
        w.write(0, f"ReclaimPolicy:\t{sc.reclaim_policy}\n")
    if sc.HasField("volume_binding_mode"):
        w.write(0, f"VolumeBindingMode:\t{sc.volume_binding_mode}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_namespace(ns: core_pb2.Namespace, quotas: Sequence[core_pb2.ResourceQuota] | None,
                        limit_ranges: Sequence[core_pb2.LimitRange] | None) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{ns.metadata.name}\n")
    _labels_multiline(w, "Labels", ns.metadata.labels)
    _annotations_multiline(w, "Annotations", ns.metadata.annotations)
    w.write(0, f"Status:\t{ns.status.phase}\n")
    if ns.status.conditions:
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t------------------\t------\t-------\n")
        for c in ns.status.conditions:
            w.write(1, f"{c.type}\t{c.status}\t{_rfc1123z(c.last_transition_time)}\t{c.reason}\t{c.message}\n")
    w.write(0, "\n")
    _namespace_quotas(w, quotas or ())
    w.write(0, "\n")
    _namespace_limit_ranges(w, limit_ranges or ())
    return w.render()


def _namespace_quotas(w: _Writer, quotas: Sequence[core_pb2.ResourceQuota]) -> None:
    """DescribeResourceQuotas: each quota by name, its scopes and its used and hard amounts as stored."""
    if not quotas:
        w.write(0, "No resource quota.\n")
        return
    w.write(0, "Resource Quotas\n")
    for rq in sorted(quotas, key=lambda r: r.metadata.name):
        w.write(1, f"Name:\t{rq.metadata.name}\n")
        if rq.spec.scopes:
            scopes = sorted(rq.spec.scopes)
            w.write(1, f"Scopes:\t{', '.join(scopes)}\n")
            for scope in scopes:
                if scope in _SCOPE_HELP:
                    w.write(1, f"* {_SCOPE_HELP[scope]}\n")
        w.write(1, "Resource\tUsed\tHard\n")
        w.write(1, "--------\t---\t---\n")
        for name in sorted(rq.status.hard):
            used = _quantity_text(rq.status.used.get(name, "0"))
            w.write(1, f"{name}\t{used}\t{_quantity_text(rq.status.hard[name])}\n")


def _limit_range_rows(lr: core_pb2.LimitRange) -> list[list[str]]:
    rows = []
    for item in lr.spec.limits:
        columns = (item.min, item.max, item.default_request, item.default, item.max_limit_request_ratio)
        for name in sorted({name for values in columns for name in values}):
            rows.append([item.type, name, *(_quantity_text(v[name]) if name in v else "-" for v in columns)])
    return rows


def _namespace_limit_ranges(w: _Writer, limit_ranges: Sequence[core_pb2.LimitRange]) -> None:
    """DescribeLimitRanges: every item of every LimitRange in one table."""
    if not limit_ranges:
        w.write(0, "No LimitRange resource.\n")
        return
    w.write(0, "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
    w.write(0, " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
    for lr in limit_ranges:
        for row in _limit_range_rows(lr):
            w.write(0, " " + "\t".join(row) + "\n")


def _describe_limit_range(lr: core_pb2.LimitRange) -> str:
    """describeLimitRange: one row per type and resource, `-` where the item says nothing."""
    w = _Writer()
    w.write(0, f"Name:\t{lr.metadata.name}\n")
    w.write(0, f"Namespace:\t{lr.metadata.namespace}\n")
    w.write(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
    w.write(0, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
    for row in _limit_range_rows(lr):
        w.write(0, "\t".join(row) + "\n")
    return w.render()


_SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited lifespan on a node "
                   "before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually include long "
                      "running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have a best effort "
                  "quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These pods have a "
                     "burstable or guaranteed quality of service.",
}
"""helpTextForResourceQuotaScope."""


def _describe_quota(rq: core_pb2.ResourceQuota) -> str:
    """describeQuota: the scopes with their help, then used and hard per resource by name; a used amount in
    another notation than the hard one is shown in the hard one's."""
    w = _Writer()
    w.write(0, f"Name:\t{rq.metadata.name}\n")
    w.write(0, f"Namespace:\t{rq.metadata.namespace}\n")
    if rq.spec.scopes:
        scopes = sorted(rq.spec.scopes)
        w.write(0, f"Scopes:\t{', '.join(scopes)}\n")
        for scope in scopes:
            if scope in _SCOPE_HELP:
                w.write(0, f" * {_SCOPE_HELP[scope]}\n")
    w.write(0, "Resource\tUsed\tHard\n")
    w.write(0, "--------\t----\t----\n")
    for name in sorted(rq.status.hard):
        hard = _quantity(rq.status.hard[name])
        raw = rq.status.used.get(name)
        used = _quantity(raw) if raw is not None else None
        if used is None or used.format != hard.format:
            used = Quantity(Fraction(used.value() if used is not None else 0), hard.format)
        w.write(0, f"{name}\t{used}\t{hard}\n")
    return w.render()


def _rule_sort_key(rule: rbac_pb2.PolicyRule) -> str:
    """SortableRuleSlice orders by the rule's generated String(): `&PolicyRule{Verbs:[get list],APIGroups:[],...}`."""
    def v(values: Sequence[str]) -> str:
        return "[" + " ".join(values) + "]"
    return (f"&PolicyRule{{Verbs:{v(rule.verbs)},APIGroups:{v(rule.api_groups)},Resources:{v(rule.resources)},"
            f"ResourceNames:{v(rule.resource_names)},NonResourceURLs:{v(rule.non_resource_urls)},}}")


def _compact_rules(rules: Sequence[rbac_pb2.PolicyRule]) -> list[rbac_pb2.PolicyRule]:
    """BreakdownRule (one rule per group, resource and name; one per non-resource URL), then CompactRules (the
    verbs of rules on one group, resource and name put together), sorted as kubectl's describer does."""
    broken: list[rbac_pb2.PolicyRule] = []
    for rule in rules:
        for group in rule.api_groups:
            for resource in rule.resources:
                for name in rule.resource_names or [None]:
                    broken.append(rbac_pb2.PolicyRule(api_groups=[group], resources=[resource], verbs=rule.verbs,
                                                      resource_names=[name] if name is not None else []))
        for url in rule.non_resource_urls:
            broken.append(rbac_pb2.PolicyRule(non_resource_urls=[url], verbs=rule.verbs))
    compacted: list[rbac_pb2.PolicyRule] = []
    simple: dict[tuple[str, str, bool, str], rbac_pb2.PolicyRule] = {}
    for rule in broken:
        if rule.non_resource_urls or not rule.verbs:
            compacted.append(rule)
            continue
        key = (rule.api_groups[0], rule.resources[0], bool(rule.resource_names),
               rule.resource_names[0] if rule.resource_names else "")
        if key in simple:
            simple[key].verbs.extend(rule.verbs)
        else:
            simple[key] = rbac_pb2.PolicyRule()
            simple[key].CopyFrom(rule)
    return sorted([*compacted, *simple.values()], key=_rule_sort_key)


def _combine_resource_group(resources: Sequence[str], groups: Sequence[str]) -> str:
    """CombineResourceGroup: `deployments.apps`, `deployments.apps/scale`, `pods`."""
    if not resources:
        return ""
    resource, _, sub = resources[0].partition("/")
    if groups and groups[0]:
        resource += "." + groups[0]
    return f"{resource}/{sub}" if sub else resource


def _describe_role(role: Any) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{role.metadata.name}\n")
    _labels_multiline(w, "Labels", role.metadata.labels)
    _annotations_multiline(w, "Annotations", role.metadata.annotations)
    w.write(0, "PolicyRule:\n")
    w.write(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
    w.write(1, "---------\t-----------------\t--------------\t-----\n")
    for r in _compact_rules(role.rules):
        w.write(1, f"{_combine_resource_group(r.resources, r.api_groups)}\t[{' '.join(r.non_resource_urls)}]\t"
                   f"[{' '.join(r.resource_names)}]\t[{' '.join(r.verbs)}]\n")
    return w.render()


def _describe_binding(b: Any) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{b.metadata.name}\n")
    _labels_multiline(w, "Labels", b.metadata.labels)
    _annotations_multiline(w, "Annotations", b.metadata.annotations)
    w.write(0, "Role:\n")
    w.write(1, f"Kind:\t{b.role_ref.kind}\n")
    w.write(1, f"Name:\t{b.role_ref.name}\n")
    w.write(0, "Subjects:\n")
    w.write(1, "Kind\tName\tNamespace\n")
    w.write(1, "----\t----\t---------\n")
    for s in b.subjects:
        w.write(1, f"{s.kind}\t{s.name}\t{s.namespace}\n")
    return w.render()


def _describe_priority_class(pc: scheduling_pb2.PriorityClass, events: Sequence[core_pb2.Event] | None,
                             now: float) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{pc.metadata.name}\n")
    w.write(0, f"Value:\t{pc.value}\n")
    w.write(0, f"GlobalDefault:\t{'true' if pc.global_default else 'false'}\n")
    w.write(0, f"PreemptionPolicy:\t{pc.preemption_policy}\n")
    w.write(0, f"Description:\t{pc.description}\n")
    annotations = ",".join(f"{k}={v}" for k, v in sorted(pc.metadata.annotations.items()))
    w.write(0, f"Annotations:\t{annotations or _NONE}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _go_time_string(t: Message) -> str:
    """metav1.Time's String() (Go's time.Time.String) in UTC, as `Created on:` prints it."""
    when = dt.datetime.fromtimestamp(int(time_value(t) // 1), dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def ingress_service_backend(svc: networking_pb2.IngressServiceBackend) -> tuple[str, str]:
    """serviceBackendStringer's two parts: the service and its port (the number, else the name). The key of the
    endpoints text `describe` takes for an Ingress's service backends."""
    return svc.name, str(svc.port.number) if svc.port.number else svc.port.name


def format_endpoint_slices(slices: Sequence[Any], port_names: set[str] | None) -> str:
    """formatEndpointSlices: up to three ready `ip:port` of the ports named in `port_names` (None: every port),
    `<none>` without slices."""
    if not slices:
        return _NONE
    listed: list[str] = []
    more = False
    count = 0
    for sl in slices:
        ports = list(sl.ports) if sl.ports else [None]
        for port in ports:
            if port is not None and port_names is not None and port.name not in port_names:
                continue
            for ep in sl.endpoints:
                if len(listed) == 3:
                    more = True
                if ep.conditions.HasField("ready") and not ep.conditions.ready:
                    continue
                if not more:
                    addr = ep.addresses[0] if ep.addresses else ""
                    listed.append(addr if port is None else _join_host_port(addr, str(port.port)))
                count += 1
    text = ",".join(listed)
    return f"{text} + {count - 3} more..." if more else text


def _describe_ingress_backend(backend: networking_pb2.IngressBackend, endpoints: Mapping[tuple[str, str], str]) -> str:
    """describeBackendV1: `svc:port (endpoints)` of a service, the reference of a resource."""
    if backend.HasField("service"):
        key = ingress_service_backend(backend.service)
        return f"{key[0]}:{key[1]} ({endpoints.get(key, _NONE)})"
    if backend.HasField("resource"):
        r = backend.resource
        group = r.api_group if r.HasField("api_group") else _NONE
        return f"APIGroup: {group}, Kind: {r.kind}, Name: {r.name}"
    return ""


def _describe_ingress(ing: networking_pb2.Ingress, endpoints: Mapping[tuple[str, str], str],
                      events: Sequence[core_pb2.Event] | None, now: float) -> str:
    """describeIngressV1. `endpoints` holds the text of each service backend (ingress_service_backend keys): its
    ready endpoints, or `<error: ...>` when the service is missing."""
    w = _Writer()
    meta = ing.metadata
    w.write(0, f"Name:\t{meta.name}\n")
    _labels_multiline(w, "Labels", meta.labels)
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    w.write(0, f"Address:\t{_ingress_address(ing.status.load_balancer, True)}\n")
    cls = ing.spec.ingress_class_name if ing.spec.HasField("ingress_class_name") else _NONE
    w.write(0, f"Ingress Class:\t{cls}\n")
    default = "<default>"
    if ing.spec.HasField("default_backend"):
        default = _describe_ingress_backend(ing.spec.default_backend, endpoints)
    w.write(0, f"Default backend:\t{default}\n")
    if ing.spec.tls:
        w.write(0, "TLS:\n")
        for t in ing.spec.tls:
            hosts = ",".join(t.hosts)
            w.write(1, f"{t.secret_name} terminates {hosts}\n" if t.secret_name else f"SNI routes {hosts}\n")
    w.write(0, "Rules:\n  Host\tPath\tBackends\n")
    w.write(1, "----\t----\t--------\n")
    count = 0
    for rule in ing.spec.rules:
        if not rule.HasField("http"):
            continue
        count += 1
        w.write(1, f"{rule.host or '*'}\t\n")
        for p in rule.http.paths:
            w.write(2, f"\t{p.path} \t{_describe_ingress_backend(p.backend, endpoints)}\n")
    if not count:
        w.write(1, f"*\t*\t{default}\n")
    _annotations_multiline(w, "Annotations", meta.annotations)
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_ingress_class(ic: networking_pb2.IngressClass, events: Sequence[core_pb2.Event] | None,
                            now: float) -> str:
    """describeIngressClassV1."""
    w = _Writer()
    w.write(0, f"Name:\t{ic.metadata.name}\n")
    _labels_multiline(w, "Labels", ic.metadata.labels)
    _annotations_multiline(w, "Annotations", ic.metadata.annotations)
    w.write(0, f"Controller:\t{ic.spec.controller}\n")
    if ic.spec.HasField("parameters"):
        p = ic.spec.parameters
        w.write(0, "Parameters:\n")
        if p.HasField("api_group"):
            w.write(1, f"APIGroup:\t{p.api_group}\n")
        w.write(1, f"Kind:\t{p.kind}\n")
        w.write(1, f"Name:\t{p.name}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _network_policy_port(port: networking_pb2.NetworkPolicyPort) -> tuple[str, str]:
    proto = port.protocol if port.HasField("protocol") else "TCP"
    number = _int_or_string(port.port) if port.HasField("port") else "<nil>"
    if port.HasField("end_port"):
        return "To Port Range", f"{number}-{port.end_port}/{proto}"
    return "To Port", f"{number}/{proto}"


def _network_policy_peers(w: _Writer, peers: Sequence[networking_pb2.NetworkPolicyPeer], word: str,
                          any_text: str) -> None:
    indent = "    "
    if not peers:
        w.write(0, f"{indent}{word}: <any> ({any_text})\n")
        return
    for peer in peers:
        w.write(0, f"{indent}{word}:\n")
        if peer.HasField("pod_selector") and peer.HasField("namespace_selector"):
            w.write(1, f"{indent}NamespaceSelector: {_format_label_selector(True, peer.namespace_selector)}\n")
            w.write(1, f"{indent}PodSelector: {_format_label_selector(True, peer.pod_selector)}\n")
        elif peer.HasField("pod_selector"):
            w.write(1, f"{indent}PodSelector: {_format_label_selector(True, peer.pod_selector)}\n")
        elif peer.HasField("namespace_selector"):
            w.write(1, f"{indent}NamespaceSelector: {_format_label_selector(True, peer.namespace_selector)}\n")
        elif peer.HasField("ip_block"):
            w.write(1, f"{indent}IPBlock:\n")
            w.write(2, f"{indent}CIDR: {peer.ip_block.cidr}\n")
            w.write(2, f"{indent}Except: {', '.join(getattr(peer.ip_block, 'except'))}\n")


def _network_policy_rules(w: _Writer, rules: Sequence[Any], direction: str) -> None:
    """printNetworkPolicySpecIngressFrom / printNetworkPolicySpecEgressTo."""
    indent = "    "
    if not rules:
        w.write(0, f"{indent}<none> (Selected pods are isolated for {direction} connectivity)\n")
        return
    for i, rule in enumerate(rules):
        if not rule.ports:
            w.write(0, f"{indent}To Port: <any> (traffic allowed to all ports)\n")
        for port in rule.ports:
            title, text = _network_policy_port(port)
            w.write(0, f"{indent}{title}: {text}\n")
        if direction == "ingress":
            _network_policy_peers(w, getattr(rule, "from"), "From", "traffic not restricted by source")
        else:
            _network_policy_peers(w, rule.to, "To", "traffic not restricted by destination")
        if i != len(rules) - 1:
            w.write(0, f"{indent}----------\n")


def _describe_network_policy(np: networking_pb2.NetworkPolicy) -> str:
    """describeNetworkPolicy: kubectl prints no events for a NetworkPolicy."""
    w = _Writer()
    meta, spec = np.metadata, np.spec
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    w.write(0, f"Created on:\t{_go_time_string(meta.creation_timestamp)}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    w.write(0, "Spec:\n")
    w.write(1, "PodSelector: ")
    if not spec.pod_selector.match_labels and not spec.pod_selector.match_expressions:
        w.write(2, "<none> (Allowing the specific traffic to all pods in this namespace)\n")
    else:
        w.write(2, f"{_format_label_selector(True, spec.pod_selector)}\n")
    types = list(spec.policy_types)
    if "Ingress" in types:
        w.write(1, "Allowing ingress traffic:\n")
        _network_policy_rules(w, spec.ingress, "ingress")
    else:
        w.write(1, "Not affecting ingress traffic\n")
    if "Egress" in types:
        w.write(1, "Allowing egress traffic:\n")
        _network_policy_rules(w, spec.egress, "egress")
    else:
        w.write(1, "Not affecting egress traffic\n")
    w.write(1, f"Policy Types: {', '.join(types)}\n")
    return w.render()


def _describe_service_account(sa: core_pb2.ServiceAccount, events: Sequence[core_pb2.Event] | None,
                              now: float) -> str:
    """kubectl's describeServiceAccount: its image pull secrets, one per line (kubectl 1.36 lists neither the
    mountable secrets nor token Secrets, which are no longer made)."""
    w = _Writer()
    w.write(0, f"Name:\t{sa.metadata.name}\n")
    w.write(0, f"Namespace:\t{sa.metadata.namespace}\n")
    _labels_multiline(w, "Labels", sa.metadata.labels)
    _annotations_multiline(w, "Annotations", sa.metadata.annotations)
    header = "Image pull secrets:"
    names = [r.name for r in sa.image_pull_secrets]
    if not names:
        w.write(0, f"{header}\t<none>\n")
    for name in names:
        w.write(0, f"{header}\t{name}\n")
        header = " " * len(header)
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _camel_split(field: str) -> list[str]:
    """github.com/fatih/camelcase.Split: runs of one character class, an upper-to-lower edge moving one letter."""
    runs: list[list[str]] = []
    last = 0
    for ch in field:
        cls = 1 if ch.islower() else 2 if ch.isupper() else 3 if ch.isdigit() else 4
        if cls == last:
            runs[-1].append(ch)
        else:
            runs.append([ch])
        last = cls
    for i in range(len(runs) - 1):
        if runs[i] and runs[i][0].isupper() and runs[i + 1] and runs[i + 1][0].islower():
            runs[i + 1].insert(0, runs[i].pop())
    return ["".join(r) for r in runs if r]


def _smart_label(field: str) -> str:
    """smartLabelFor: `creationTimestamp` -> `Creation Timestamp`, `apiVersion` -> `API Version`."""
    if any(not (ch.isalpha() or ch == "-") for ch in field):
        return field
    parts = []
    for part in _camel_split(field):
        if part == "_":
            continue
        acronym = part.upper() in ("API", "URL", "UID", "OSB", "GUID")
        parts.append(part.upper() if acronym else part[:1].upper() + part[1:])
    return " ".join(parts)


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_GENERIC_SKIP = frozenset({".metadata.managedFields", ".metadata.name", ".metadata.namespace", ".metadata.labels",
                           ".metadata.annotations"})


def _unstructured(w: _Writer, level: int, content: Mapping[str, Any], prefix: str) -> None:
    """printUnstructuredContent: fields sorted, maps and lists nested one level deeper, scalars as `Field:\tvalue`."""
    for field in sorted(content):
        value = content[field]
        path = f"{prefix}.{field}"
        if path in _GENERIC_SKIP:
            continue
        if isinstance(value, dict):
            w.write(level, f"{_smart_label(field)}:\n")
            _unstructured(w, level + 1, value, path)
        elif isinstance(value, list):
            w.write(level, f"{_smart_label(field)}:\n")
            for child in value:
                if isinstance(child, dict):
                    _unstructured(w, level + 1, child, path)
                else:
                    w.write(level + 1, f"{_go_value(child)}\n")
        else:
            w.write(level, f"{_smart_label(field)}:\t{_go_value(value)}\n")


def _describe_configmap(cm: core_pb2.ConfigMap, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    """describeConfigMap: each value in full under its key, binary values as their size."""
    w = _Writer()
    w.write(0, f"Name:\t{cm.metadata.name}\n")
    w.write(0, f"Namespace:\t{cm.metadata.namespace}\n")
    _labels_multiline(w, "Labels", cm.metadata.labels)
    _annotations_multiline(w, "Annotations", cm.metadata.annotations)
    w.write(0, "\nData\n====\n")
    for k in sorted(cm.data):
        w.write(0, f"{k}:\n----\n{cm.data[k]}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    for k in sorted(cm.binary_data):
        w.write(0, f"{k}: {len(cm.binary_data[k])} bytes\n")
    w.write(0, "\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_secret(secret: core_pb2.Secret) -> str:
    """describeSecret: the sizes of the values, never the values (but a service account token's token), and no
    events."""
    w = _Writer()
    w.write(0, f"Name:\t{secret.metadata.name}\n")
    w.write(0, f"Namespace:\t{secret.metadata.namespace}\n")
    _labels_multiline(w, "Labels", secret.metadata.labels)
    _annotations_multiline(w, "Annotations", secret.metadata.annotations)
    w.write(0, f"\nType:\t{secret.type}\n")
    w.write(0, "\nData\n====\n")
    for k in sorted(secret.data):
        v = secret.data[k]
        if k == "token" and secret.type == "kubernetes.io/service-account-token":
            w.write(0, f"{k}:\t{v.decode(errors='replace')}\n")
        else:
            w.write(0, f"{k}:\t{len(v)} bytes\n")
    return w.render()


def _describe_generic(obj: Any, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    w = _Writer()
    meta = obj.metadata
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    _unstructured(w, 0, to_dict(obj), "")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_service(svc: core_pb2.Service, slices: Sequence[Any] | None, events: Sequence[core_pb2.Event] | None,
                      now: float) -> str:
    w = _Writer()
    meta, spec = svc.metadata, svc.spec
    w.write(0, f"Name:\t{meta.name}\n")
    w.write(0, f"Namespace:\t{meta.namespace}\n")
    _labels_multiline(w, "Labels", meta.labels)
    _annotations_multiline(w, "Annotations", meta.annotations)
    w.write(0, f"Selector:\t{_format_labels(spec.selector)}\n")
    w.write(0, f"Type:\t{spec.type}\n")
    if spec.HasField("ip_family_policy"):
        w.write(0, f"IP Family Policy:\t{spec.ip_family_policy}\n")
    w.write(0, f"IP Families:\t{','.join(spec.ip_families) if spec.ip_families else _NONE}\n")
    w.write(0, f"IP:\t{spec.cluster_ip}\n")
    w.write(0, f"IPs:\t{','.join(spec.cluster_ips) if spec.cluster_ips else _NONE}\n")
    if spec.external_ips:
        w.write(0, f"External IPs:\t{','.join(spec.external_ips)}\n")
    if spec.load_balancer_ip:
        w.write(0, f"IP:\t{spec.load_balancer_ip}\n")
    if svc.status.load_balancer.ingress:
        ingress = ", ".join(i.ip or i.hostname for i in svc.status.load_balancer.ingress)
        w.write(0, f"LoadBalancer Ingress:\t{ingress}\n")
    if spec.type == "ExternalName":
        w.write(0, f"External Name:\t{spec.external_name}\n")
    for p in spec.ports:
        name = p.name or "<unset>"
        w.write(0, f"Port:\t{name}\t{p.port}/{p.protocol}\n")
        w.write(0, f"TargetPort:\t{_int_or_string(p.target_port)}/{p.protocol}\n")
        if p.node_port:
            w.write(0, f"NodePort:\t{name}\t{p.node_port}/{p.protocol}\n")
        w.write(0, f"Endpoints:\t{format_endpoint_slices(slices or [], {p.name})}\n")
    w.write(0, f"Session Affinity:\t{spec.session_affinity}\n")
    if spec.external_traffic_policy:
        w.write(0, f"External Traffic Policy:\t{spec.external_traffic_policy}\n")
    if spec.HasField("internal_traffic_policy"):
        w.write(0, f"Internal Traffic Policy:\t{spec.internal_traffic_policy}\n")
    if spec.health_check_node_port:
        w.write(0, f"HealthCheck NodePort:\t{spec.health_check_node_port}\n")
    if spec.load_balancer_source_ranges:
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec.load_balancer_source_ranges)}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_endpoints(ep: core_pb2.Endpoints, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{ep.metadata.name}\n")
    w.write(0, f"Namespace:\t{ep.metadata.namespace}\n")
    _labels_multiline(w, "Labels", ep.metadata.labels)
    _annotations_multiline(w, "Annotations", ep.metadata.annotations)
    w.write(0, "Subsets:\n")
    for subset in ep.subsets:
        w.write(1, f"Addresses:\t{','.join(a.ip for a in subset.addresses) or _NONE}\n")
        w.write(1, f"NotReadyAddresses:\t{','.join(a.ip for a in subset.not_ready_addresses) or _NONE}\n")
        if subset.ports:
            w.write(1, "Ports:\n")
            w.write(2, "Name\tPort\tProtocol\n")
            w.write(2, "----\t----\t--------\n")
            for port in subset.ports:
                w.write(2, f"{port.name or '<unset>'}\t{port.port}\t{port.protocol}\n")
        w.write(0, "\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def _describe_endpoint_slice(es: Any, events: Sequence[core_pb2.Event] | None, now: float) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{es.metadata.name}\n")
    w.write(0, f"Namespace:\t{es.metadata.namespace}\n")
    _labels_multiline(w, "Labels", es.metadata.labels)
    _annotations_multiline(w, "Annotations", es.metadata.annotations)
    w.write(0, f"AddressType:\t{es.address_type}\n")
    if not es.ports:
        w.write(0, "Ports: <unset>\n")
    else:
        w.write(0, "Ports:\n")
        w.write(1, "Name\tPort\tProtocol\n")
        w.write(1, "----\t----\t--------\n")
        for p in es.ports:
            port = str(p.port) if p.HasField("port") else "<unset>"
            w.write(1, f"{p.name or '<unset>'}\t{port}\t{p.protocol}\n")
    if not es.endpoints:
        w.write(0, "Endpoints: <none>\n")
    else:
        w.write(0, "Endpoints:\n")
        for e in es.endpoints:
            w.write(1, f"- Addresses:\t{', '.join(e.addresses) or _NONE}\n")
            w.write(2, "Conditions:\n")
            ready = ("true" if e.conditions.ready else "false") if e.conditions.HasField("ready") else "<unset>"
            w.write(3, f"Ready:\t{ready}\n")
            w.write(2, f"Hostname:\t{e.hostname if e.HasField('hostname') else '<unset>'}\n")
            if e.HasField("target_ref"):
                w.write(2, f"TargetRef:\t{e.target_ref.kind}/{e.target_ref.name}\n")
            w.write(2, f"NodeName:\t{e.node_name if e.HasField('node_name') else '<unset>'}\n")
            w.write(2, f"Zone:\t{e.zone if e.HasField('zone') else '<unset>'}\n")
    if events is not None:
        _describe_events(w, events, now)
    return w.render()


def describe(
    obj: Any,
    events: Sequence[core_pb2.Event] | None,
    *,
    now: float,
    lease: coordination_pb2.Lease | None = None,
    pods: Sequence[core_pb2.Pod] | None = None,
    quotas: Sequence[core_pb2.ResourceQuota] | None = None,
    limit_ranges: Sequence[core_pb2.LimitRange] | None = None,
    backends: Mapping[tuple[str, str], str] | None = None,
    endpoint_slices: Sequence[Any] | None = None,
) -> str:
    """`kubectl describe` text for one object.

    `events` are the events about the object (None leaves the section out, as `--show-events=false`). For a Node,
    `lease` adds the Lease section and `pods` (its non-terminated pods) the pod and allocated-resources tables. For
    a Namespace, `quotas` and `limit_ranges` are the ResourceQuotas and LimitRanges in it; for an Ingress,
    `backends` holds the endpoints text of each service backend (see _describe_ingress); for a
    PersistentVolumeClaim, `pods` are its namespace's pods (those using the claim show as Used By); for a Service,
    `endpoint_slices` (those labelled with its name) give each port's Endpoints line.
    Kinds without a describer of their own use kubectl's generic one.
    """
    if isinstance(obj, core_pb2.Pod):
        return _describe_pod(obj, events, now)
    if isinstance(obj, core_pb2.Node):
        return _describe_node(obj, events, now, lease, pods)
    if isinstance(obj, core_pb2.Namespace):
        return _describe_namespace(obj, quotas, limit_ranges)
    if isinstance(obj, networking_pb2.Ingress):
        return _describe_ingress(obj, backends or {}, events, now)
    if isinstance(obj, networking_pb2.IngressClass):
        return _describe_ingress_class(obj, events, now)
    if isinstance(obj, networking_pb2.NetworkPolicy):
        return _describe_network_policy(obj)
    if isinstance(obj, core_pb2.ConfigMap):
        return _describe_configmap(obj, events, now)
    if isinstance(obj, core_pb2.Secret):
        return _describe_secret(obj)
    if isinstance(obj, core_pb2.LimitRange):
        return _describe_limit_range(obj)
    if isinstance(obj, core_pb2.ResourceQuota):
        return _describe_quota(obj)
    if isinstance(obj, rbac_pb2.Role | rbac_pb2.ClusterRole):
        return _describe_role(obj)
    if isinstance(obj, rbac_pb2.RoleBinding | rbac_pb2.ClusterRoleBinding):
        return _describe_binding(obj)
    if isinstance(obj, scheduling_pb2.PriorityClass):
        return _describe_priority_class(obj, events, now)
    if isinstance(obj, core_pb2.PersistentVolume):
        return _describe_pv(obj, events, now)
    if isinstance(obj, core_pb2.PersistentVolumeClaim):
        return _describe_pvc(obj, events, now, pods)
    if isinstance(obj, storage_pb2.StorageClass):
        return _describe_storage_class(obj, events, now)
    if isinstance(obj, core_pb2.ServiceAccount):
        return _describe_service_account(obj, events, now)
    if isinstance(obj, core_pb2.Service):
        return _describe_service(obj, endpoint_slices, events, now)
    if isinstance(obj, core_pb2.Endpoints):
        return _describe_endpoints(obj, events, now)
    if isinstance(obj, discovery_pb2.EndpointSlice):
        return _describe_endpoint_slice(obj, events, now)
    return _describe_generic(obj, events, now)
