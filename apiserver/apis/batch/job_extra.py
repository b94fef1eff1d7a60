"""Validation of the JobSpec fields the core Job validation leaves out: backoffLimitPerIndex, maxFailedIndexes,
managedBy, podFailurePolicy, successPolicy and podReplacementPolicy.

Ports validateJobSpec's newer parts of pkg/apis/batch/validation/validation.go.
"""

from __future__ import annotations

import re
from itertools import pairwise

from apiserver.validation import (
    INVALID,
    IS_NEGATIVE_MSG,
    FieldError,
    GoValue,
    _child,
    _qualified_name,
    duplicate,
    invalid,
    not_supported,
    required,
    too_long,
)
from kubemu.api import labels, names
from kubemu.pb import batch_pb2

MAX_FAILED_INDEXES = 100_000
COMPLETIONS_SOFT_LIMIT = 100_000
PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000
MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_CONDITION_PATTERNS = 20
MAX_MANAGED_BY = 63
MAX_SUCCEEDED_INDEXES = 64 * 1024

_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]
_OPERATORS = ["In", "NotIn"]
_STATUSES = ["False", "True", "Unknown"]
_REPLACEMENT = ["Failed", "TerminatingOrFailed"]
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile(_HTTP_PATH_FMT)


def _go_list(values: list[str]) -> str:
    """fmt's %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(labels.go_quote(v) for v in values) + "]"


def _omit_value(path: str, detail: str) -> FieldError:
    """field.Invalid with field.OmitValueType{}: the body is `Invalid value: <detail>`, no value printed."""
    return FieldError(INVALID, path, "", GoValue(detail))


def _too_many(path: str, actual: int, limit: int) -> FieldError:
    return FieldError("FieldValueTooMany", path, f"must have at most {limit} items", GoValue(str(actual)))


def _domain_prefixed_path(path: str, value: str) -> list[FieldError]:
    """IsDomainPrefixedPath (apimachinery util/validation)."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in names.validate_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.fullmatch(rest):
        errs.append(invalid(path, rest, names.regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _parse_interval(text: str, completions: int) -> tuple[int, int]:
    """parseIndexInterval; raises ValueError with upstream's message."""
    parts = text.split("-")
    if len(parts) > 2:
        raise ValueError(
            f"the fragment {labels.go_quote(text)} violates the requirement that an index interval can have at most "
            "two parts separated by '-'"
        )
    bounds: list[int] = []
    for part in parts:
        if not re.fullmatch(r"[+-]?\d+", part):
            raise ValueError(f"cannot convert string to integer for index: {labels.go_quote(part)}")
        value = int(part)
        if value >= completions:
            raise ValueError(f"too large index: {labels.go_quote(part)}")
        bounds.append(value)
    if len(bounds) == 2 and bounds[0] >= bounds[1]:
        raise ValueError(f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}")
    return bounds[0], bounds[-1]


def validate_indexes_format(text: str, completions: int) -> int:
    """validateIndexesFormat: the number of indexes in `text`; raises ValueError as upstream's error."""
    if not text:
        return 0
    last: int | None = None
    total = 0
    for interval in text.split(","):
        x, y = _parse_interval(interval, completions)
        if last is not None and last >= x:
            raise ValueError(f"non-increasing order, previous: {last}, current: {x}")
        total += y - x + 1
        last = y
    return total


def _on_exit_codes(
    req: batch_pb2.PodFailurePolicyOnExitCodesRequirement, path: str, containers: set[str]
) -> list[FieldError]:
    errs: list[FieldError] = []
    op = _child(path, "operator")
    if not req.operator:
        errs.append(required(op, f"valid values: {_go_list(_OPERATORS)}"))
    elif req.operator not in _OPERATORS:
        errs.append(not_supported(op, req.operator, _OPERATORS))
    if req.HasField("container_name") and req.container_name not in containers:
        errs.append(
            invalid(
                _child(path, "containerName"),
                req.container_name,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    vp = _child(path, "values")
    values = list(req.values)
    if not values:
        errs.append(invalid(vp, GoValue("[]int32(nil)"), "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        errs.append(_too_many(vp, len(values), MAX_EXIT_CODES))
    seen: set[int] = set()
    for j, v in enumerate(values):
        if req.operator == "In" and v == 0:
            errs.append(invalid(f"{vp}[{j}]", v, "must not be 0 for the In operator"))
        if v in seen:
            errs.append(duplicate(f"{vp}[{j}]", v))
        seen.add(v)
    if any(a > b for a, b in pairwise(values)):
        errs.append(invalid(vp, GoValue("[]int32{" + ", ".join(map(str, values)) + "}"), "must be ordered"))
    return errs


def _pod_failure_policy(spec: batch_pb2.JobSpec, path: str) -> list[FieldError]:
    """validatePodFailurePolicy and validatePodFailurePolicyRule."""
    errs: list[FieldError] = []
    rp = _child(path, "rules")
    rules = spec.pod_failure_policy.rules
    if len(rules) > MAX_RULES:
        errs.append(_too_many(rp, len(rules), MAX_RULES))
    containers = {c.name for c in (*spec.template.spec.containers, *spec.template.spec.init_containers)}
    for i, rule in enumerate(rules):
        p = f"{rp}[{i}]"
        ap = _child(p, "action")
        if not rule.action:
            errs.append(required(ap, f"valid values: {_go_list(_ACTIONS)}"))
        elif rule.action == "FailIndex":
            if not spec.HasField("backoff_limit_per_index"):
                errs.append(invalid(ap, rule.action, "requires the backoffLimitPerIndex to be set"))
        elif rule.action not in _ACTIONS:
            errs.append(not_supported(ap, rule.action, _ACTIONS))
        if rule.HasField("on_exit_codes"):
            errs += _on_exit_codes(rule.on_exit_codes, _child(p, "onExitCodes"), containers)
        cp = _child(p, "onPodConditions")
        if len(rule.on_pod_conditions) > MAX_CONDITION_PATTERNS:
            errs.append(_too_many(cp, len(rule.on_pod_conditions), MAX_CONDITION_PATTERNS))
        for j, pattern in enumerate(rule.on_pod_conditions):
            pp = f"{cp}[{j}]"
            errs += _qualified_name(pattern.type, _child(pp, "type"))
            if not pattern.status:
                errs.append(required(_child(pp, "status"), f"valid values: {_go_list(_STATUSES)}"))
            elif pattern.status not in _STATUSES:
                errs.append(not_supported(_child(pp, "status"), pattern.status, _STATUSES))
        if rule.HasField("on_exit_codes") and rule.on_pod_conditions:
            errs.append(_omit_value(p, "specifying both OnExitCodes and OnPodConditions is not supported"))
        if not rule.HasField("on_exit_codes") and not rule.on_pod_conditions:
            errs.append(_omit_value(p, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _success_policy(spec: batch_pb2.JobSpec, path: str) -> list[FieldError]:
    """validateSuccessPolicy and validateSuccessPolicyRule (completions is set: Indexed requires it)."""
    errs: list[FieldError] = []
    rp = _child(path, "rules")
    rules = spec.success_policy.rules
    if not rules:
        errs.append(required(rp, "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > MAX_RULES:
        errs.append(_too_many(rp, len(rules), MAX_RULES))
    completions = spec.completions
    for i, rule in enumerate(rules):
        p = f"{rp}[{i}]"
        if not rule.HasField("succeeded_count") and not rule.HasField("succeeded_indexes"):
            errs.append(required(p, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if rule.HasField("succeeded_indexes"):
            ip = _child(p, "succeededIndexes")
            if len(rule.succeeded_indexes) > MAX_SUCCEEDED_INDEXES:
                errs.append(too_long(ip, MAX_SUCCEEDED_INDEXES))
            try:
                total = validate_indexes_format(rule.succeeded_indexes, completions)
            except ValueError as e:
                errs.append(invalid(ip, rule.succeeded_indexes, f"error parsing succeededIndexes: {e}"))
        if rule.HasField("succeeded_count"):
            cp = _child(p, "succeededCount")
            count = rule.succeeded_count
            if count < 0:
                errs.append(invalid(cp, count, IS_NEGATIVE_MSG))
            if count > completions:
                errs.append(
                    invalid(
                        cp, count, f"must be less than or equal to {completions} (the number of specified completions)"
                    )
                )
            if rule.HasField("succeeded_indexes") and count > total:
                errs.append(
                    invalid(
                        cp,
                        count,
                        f"must be less than or equal to {total} (the number of indexes in the specified "
                        "succeededIndexes field)",
                    )
                )
    return errs


def validate_job_extra(job: batch_pb2.Job) -> list[FieldError]:
    """The parts of validateJobSpec the core Job validation does not make, in upstream's order."""
    spec, path = job.spec, "spec"
    errs: list[FieldError] = []
    for fld, json_name in (
        ("backoff_limit_per_index", "backoffLimitPerIndex"),
        ("max_failed_indexes", "maxFailedIndexes"),
    ):
        if spec.HasField(fld) and getattr(spec, fld) < 0:  # type: ignore[arg-type]
            errs.append(invalid(_child(path, json_name), getattr(spec, fld), IS_NEGATIVE_MSG))
    if spec.HasField("max_failed_indexes") and not spec.HasField("backoff_limit_per_index"):
        errs.append(required(_child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
    if spec.HasField("managed_by"):
        errs += _domain_prefixed_path(_child(path, "managedBy"), spec.managed_by)
        if len(spec.managed_by) > MAX_MANAGED_BY:
            errs.append(too_long(_child(path, "managedBy"), MAX_MANAGED_BY))
    indexed = spec.HasField("completion_mode") and spec.completion_mode == "Indexed"
    if indexed:
        mfp = _child(path, "maxFailedIndexes")
        mfi = spec.max_failed_indexes if spec.HasField("max_failed_indexes") else None
        if spec.HasField("completions") and mfi is not None and mfi > spec.completions:
            errs.append(invalid(mfp, mfi, "must be less than or equal to completions"))
        if mfi is not None and mfi > MAX_FAILED_INDEXES:
            errs.append(invalid(mfp, mfi, f"must be less than or equal to {MAX_FAILED_INDEXES}"))
        if (
            spec.HasField("completions")
            and spec.completions > COMPLETIONS_SOFT_LIMIT
            and spec.HasField("backoff_limit_per_index")
        ):
            high = f"when completions are above {COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index"
            if mfi is None:
                errs.append(required(mfp, f"must be specified when completions is above {COMPLETIONS_SOFT_LIMIT}"))
            if spec.HasField("parallelism") and spec.parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS:
                errs.append(
                    invalid(
                        _child(path, "parallelism"),
                        spec.parallelism,
                        f"must be less than or equal to {PARALLELISM_LIMIT_HIGH_COMPLETIONS} {high}",
                    )
                )
            if mfi is not None and mfi > MAX_FAILED_INDEXES_HIGH_COMPLETIONS:
                errs.append(
                    invalid(mfp, mfi, f"must be less than or equal to {MAX_FAILED_INDEXES_HIGH_COMPLETIONS} {high}")
                )
    else:
        for fld, json_name in (
            ("backoff_limit_per_index", "backoffLimitPerIndex"),
            ("max_failed_indexes", "maxFailedIndexes"),
        ):
            if spec.HasField(fld):  # type: ignore[arg-type]
                errs.append(invalid(_child(path, json_name), getattr(spec, fld), "requires indexed completion mode"))
    if spec.HasField("pod_failure_policy"):
        errs += _pod_failure_policy(spec, _child(path, "podFailurePolicy"))
    if spec.HasField("success_policy"):
        if not indexed:
            errs.append(
                invalid(
                    _child(path, "successPolicy"),
                    GoValue("batch.SuccessPolicy{...}"),
                    "requires indexed completion mode",
                )
            )
        elif spec.HasField("completions"):
            errs += _success_policy(spec, _child(path, "successPolicy"))
    if spec.HasField("pod_replacement_policy"):
        rpp = _child(path, "podReplacementPolicy")
        if spec.HasField("pod_failure_policy"):
            if spec.pod_replacement_policy != "Failed":
                errs.append(not_supported(rpp, spec.pod_replacement_policy, ["Failed"]))
        elif spec.pod_replacement_policy not in _REPLACEMENT:
            errs.append(not_supported(rpp, spec.pod_replacement_policy, _REPLACEMENT))
    restart = spec.template.spec.restart_policy
    if spec.HasField("pod_failure_policy") and restart == "OnFailure":
        errs.append(
            invalid(
                _child(path, "template", "spec", "restartPolicy"),
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return errs
