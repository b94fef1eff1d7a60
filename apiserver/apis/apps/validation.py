"""Create validation of the apps/v1 kinds (ReplicaSet, Deployment, DaemonSet), as pkg/apis/apps/validation (v1.32)."""

from __future__ import annotations

import re

from apiserver.apis.core.validation import (
    _template_restart_always,
    validate_pod_template,
)
from apiserver.validation import (
    FieldError,
    GoValue,
    _child,
    _nonnegative,
    _selector_matches,
    _selector_text,
    _validate_label_selector,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.pb import apps_pb2, core_pb2, meta_pb2

# ---- apps/v1 ----------------------------------------------------------------------------------------


def _workload_selector(sel: meta_pb2.LabelSelector | None, path: str, what: str) -> list[FieldError]:
    if sel is None:
        return [required(path)]
    errs = _validate_label_selector(sel, path)
    if not sel.match_labels and not sel.match_expressions:
        errs.append(invalid(path, _selector_text(sel), f"empty selector is invalid for {what}"))
    return errs


def _template_for_replica_set(
    sel: meta_pb2.LabelSelector | None, tmpl: core_pb2.PodTemplateSpec, kind: str
) -> list[FieldError]:
    """ValidatePodTemplateSpecForReplicaSet (apps/validation)."""
    errs: list[FieldError] = []
    if sel is not None and (sel.match_labels or sel.match_expressions):
        matches = _selector_matches(sel, tmpl.metadata.labels)
        if matches is None:
            return [invalid("spec.selector", _selector_text(sel), "invalid label selector")]
        if not matches:
            errs.append(
                invalid(
                    "spec.template.metadata.labels",
                    dict(tmpl.metadata.labels),
                    "`selector` does not match template `labels`",
                )
            )
    errs += validate_pod_template(tmpl, "spec.template")
    errs += _template_restart_always(tmpl, "spec.template", kind)
    return errs


def validate_replica_set(rs: apps_pb2.ReplicaSet) -> list[FieldError]:
    errs = validate_object_meta(rs.metadata, True, name_is_dns_subdomain)
    spec = rs.spec
    errs += _nonnegative(spec.replicas, "spec.replicas")
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    sel = spec.selector if spec.HasField("selector") else None
    # Upstream's ReplicaSet check reuses the Deployment wording.
    errs += _workload_selector(sel, "spec.selector", "deployment")
    errs += _template_for_replica_set(sel, spec.template, "ReplicaSet")
    return errs


_PERCENT_RE = re.compile(r"^[0-9]+%$")
_PERCENT_MSG = (
    "a valid percent string must be a numeric string followed by an ending '%' "
    "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"
)


def _ios_text(v: meta_pb2.IntOrString) -> GoValue:
    return GoValue(v.str_val if v.WhichOneof("value") == "str_val" else str(v.int_val))


def _ios_value(v: meta_pb2.IntOrString) -> tuple[int, bool]:
    """(value, is_percent) as getIntOrPercentValue; an unparsable percent counts as 0."""
    if v.WhichOneof("value") == "str_val":
        digits = v.str_val[:-1] if v.str_val.endswith("%") else ""
        return (int(digits) if digits.isdigit() else 0), True
    return v.int_val, False


def _positive_int_or_percent(v: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    if v.WhichOneof("value") == "str_val":
        return [] if _PERCENT_RE.match(v.str_val) else [invalid(path, _ios_text(v), _PERCENT_MSG)]
    return _nonnegative(v.int_val, path)


def _not_more_than_100(v: meta_pb2.IntOrString, path: str) -> list[FieldError]:
    value, pct = _ios_value(v)
    return [invalid(path, _ios_text(v), "must not be greater than 100%")] if pct and value > 100 else []


def validate_deployment(d: apps_pb2.Deployment) -> list[FieldError]:
    errs = validate_object_meta(d.metadata, True, name_is_dns_subdomain)
    spec = d.spec
    errs += _nonnegative(spec.replicas, "spec.replicas")
    sel = spec.selector if spec.HasField("selector") else None
    errs += _workload_selector(sel, "spec.selector", "deployment")
    errs += _template_for_replica_set(sel, spec.template, "ReplicaSet")
    st, sp = spec.strategy, "spec.strategy"
    if st.type == "Recreate":
        if st.HasField("rolling_update"):
            errs.append(
                forbidden(_child(sp, "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")
            )
    elif st.type == "RollingUpdate":
        if not st.HasField("rolling_update"):
            errs.append(required(_child(sp, "rollingUpdate"), "this should be defaulted and never be nil"))
        else:
            ru, rp = st.rolling_update, _child(sp, "rollingUpdate")
            errs += _positive_int_or_percent(ru.max_unavailable, _child(rp, "maxUnavailable"))
            errs += _positive_int_or_percent(ru.max_surge, _child(rp, "maxSurge"))
            if _ios_value(ru.max_unavailable)[0] == 0 and _ios_value(ru.max_surge)[0] == 0:
                errs.append(
                    invalid(
                        _child(rp, "maxUnavailable"), _ios_text(ru.max_unavailable), "may not be 0 when `maxSurge` is 0"
                    )
                )
            errs += _not_more_than_100(ru.max_unavailable, _child(rp, "maxUnavailable"))
    else:
        errs.append(not_supported(sp, GoValue(st.type), ["Recreate", "RollingUpdate"]))
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    if spec.HasField("revision_history_limit"):
        errs += _nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    if spec.HasField("progress_deadline_seconds"):
        errs += _nonnegative(spec.progress_deadline_seconds, "spec.progressDeadlineSeconds")
        if spec.progress_deadline_seconds <= spec.min_ready_seconds:
            errs.append(
                invalid(
                    "spec.progressDeadlineSeconds",
                    spec.progress_deadline_seconds,
                    "must be greater than minReadySeconds",
                )
            )
    return errs


def validate_daemon_set(ds: apps_pb2.DaemonSet) -> list[FieldError]:
    errs = validate_object_meta(ds.metadata, True, name_is_dns_subdomain)
    spec = ds.spec
    sel = spec.selector if spec.HasField("selector") else None
    if sel is not None and not sel.match_labels and not sel.match_expressions:
        errs.append(invalid("spec.selector", _selector_text(sel), "empty selector is invalid for daemonset"))
    # A nil selector selects nothing, so it never matches the template (LabelSelectorAsSelector upstream).
    if _selector_matches(sel, spec.template.metadata.labels) is False:
        errs.append(
            invalid(
                "spec.template.metadata.labels",
                dict(spec.template.metadata.labels),
                "`selector` does not match template `labels`",
            )
        )
    if sel is not None:
        errs += _validate_label_selector(sel, "spec.selector")
    errs += validate_pod_template(spec.template, "spec.template")
    if spec.template.spec.restart_policy != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", spec.template.spec.restart_policy, ["Always"]))
    if spec.template.spec.HasField("active_deadline_seconds"):
        errs.append(
            invalid(
                "spec.template.spec.activeDeadlineSeconds",
                spec.template.spec.active_deadline_seconds,
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    errs += _nonnegative(spec.min_ready_seconds, "spec.minReadySeconds")
    us, up = spec.update_strategy, "spec.updateStrategy"
    if us.type == "RollingUpdate":
        if not us.HasField("rolling_update"):
            errs.append(required(_child(up, "rollingUpdate")))
        else:
            ru, rp = us.rolling_update, _child(up, "rollingUpdate")
            errs += _positive_int_or_percent(ru.max_unavailable, _child(rp, "maxUnavailable"))
            errs += _positive_int_or_percent(ru.max_surge, _child(rp, "maxSurge"))
            errs += _not_more_than_100(ru.max_unavailable, _child(rp, "maxUnavailable"))
            errs += _not_more_than_100(ru.max_surge, _child(rp, "maxSurge"))
            has_unavailable = _ios_value(ru.max_unavailable)[0] != 0
            has_surge = _ios_value(ru.max_surge)[0] != 0
            if has_unavailable and has_surge:
                errs.append(
                    invalid(
                        _child(rp, "maxSurge"),
                        _ios_text(ru.max_surge),
                        "may not be set when maxUnavailable is non-zero",
                    )
                )
            elif not has_unavailable and not has_surge:
                errs.append(required(_child(rp, "maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    elif us.type != "OnDelete":
        errs.append(not_supported(up, GoValue(us.type), ["RollingUpdate", "OnDelete"]))
    if spec.HasField("revision_history_limit"):
        errs += _nonnegative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    return errs
