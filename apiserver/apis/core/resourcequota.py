"""The ResourceQuota strategy: a new quota starts with an empty status that only the status subresource writes, and
ValidateResourceQuota's rules and messages (hard amounts, scopes, scope selectors; pkg/apis/core/validation)."""

from __future__ import annotations

import json
from typing import Any

from apiserver.apis.core.limitrange import canonicalize, validate_resource_name
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    IMMUTABLE_MSG,
    IS_NEGATIVE_MSG,
    NOT_INTEGER_MSG,
    FieldError,
    GoValue,
    invalid,
    name_is_dns_subdomain,
    required,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds
from kubemu.api import quota as q
from kubemu.api.quantity import QuantityError, parse_quantity
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

_QUOTA_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services",
    "replicationcontrollers", "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps",
    "services.nodeports", "services.loadbalancers",
})
"""standardQuotaResources (helper.IsStandardQuotaResourceName, with the hugepages names)."""
_INTEGER_RESOURCES = frozenset({
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
})
_POD_COUNT = frozenset({"pods"})
_POD_COMPUTE = frozenset({"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"})
_PVC_RESOURCES = frozenset({"persistentvolumeclaims", "requests.storage"})
_EXISTS_ONLY = (q.BEST_EFFORT_SCOPE, q.NOT_BEST_EFFORT, q.TERMINATING, q.NOT_TERMINATING,
                q.CROSS_NAMESPACE_POD_AFFINITY)
_CONFLICTING = ({q.BEST_EFFORT_SCOPE, q.NOT_BEST_EFFORT}, {q.TERMINATING, q.NOT_TERMINATING})


def _is_quota_resource(name: str) -> bool:
    return name in _QUOTA_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))


def _is_extended(name: str) -> bool:
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def _scope_valid_for(scope: str, resource: str) -> bool:
    """IsResourceQuotaScopeValidForResource."""
    if scope in (q.TERMINATING, q.NOT_TERMINATING, q.NOT_BEST_EFFORT, q.PRIORITY_CLASS,
                 q.CROSS_NAMESPACE_POD_AFFINITY):
        return resource in _POD_COUNT or resource in _POD_COMPUTE
    if scope == q.BEST_EFFORT_SCOPE:
        return resource in _POD_COUNT
    if scope == q.VOLUME_ATTRIBUTES_CLASS:
        return resource in _PVC_RESOURCES
    return True


def _json_value(value: Any) -> GoValue:
    """How a 1.35 apiserver shows a list or struct in a field error: as JSON."""
    return GoValue(json.dumps(value, separators=(",", ":")))


def _resource_list(values: Any, path: str) -> list[FieldError]:
    """The names (ValidateResourceQuotaResourceName) and amounts (ValidateResourceQuantityValue) of a list."""
    errs: list[FieldError] = []
    for name in sorted(values):
        p = f"{path}[{name}]"
        errs += validate_resource_name(name, p)
        if "/" not in name and not _is_quota_resource(name):
            errs.append(invalid(p, name, "must be a standard resource for quota"))
        try:
            amount = parse_quantity(values[name])
        except QuantityError as e:
            errs.append(invalid(p, values[name], str(e)))
            continue
        if amount.amount < 0:
            errs.append(invalid(p, str(amount), IS_NEGATIVE_MSG))
        if (name in _INTEGER_RESOURCES or _is_extended(name)) and amount.amount.denominator != 1:
            errs.append(invalid(p, str(amount), NOT_INTEGER_MSG))
    return errs


def _scopes(spec: core_pb2.ResourceQuotaSpec) -> list[FieldError]:
    if not spec.scopes:
        return []
    errs: list[FieldError] = []
    shown = _json_value(list(spec.scopes))
    for scope in spec.scopes:
        if scope not in q.STANDARD_SCOPES:
            errs.append(invalid("spec.scopes", shown, "unsupported scope"))
        for name in sorted(spec.hard):
            if _is_quota_resource(name) and not _scope_valid_for(scope, name):
                errs.append(invalid("spec.scopes", shown, "unsupported scope applied to resource"))
    for pair in _CONFLICTING:
        if pair <= set(spec.scopes):
            errs.append(invalid("spec.scopes", shown, "conflicting scopes"))
    return errs


def _scope_selector(spec: core_pb2.ResourceQuotaSpec) -> list[FieldError]:
    if not spec.HasField("scope_selector"):
        return []
    errs: list[FieldError] = []
    path = "spec.scopeSelector.matchExpressions"
    exprs = spec.scope_selector.match_expressions
    shown = _json_value({"MatchExpressions": [
        {"ScopeName": r.scope_name, "Operator": r.operator, "Values": list(r.values) or None} for r in exprs
    ] or None})
    names: set[str] = set()
    for r in exprs:
        if r.scope_name not in q.STANDARD_SCOPES:
            errs.append(invalid(f"{path}.scopeName", r.scope_name, "unsupported scope"))
        for name in sorted(spec.hard):
            if _is_quota_resource(name) and not _scope_valid_for(r.scope_name, name):
                errs.append(invalid(path, shown, "unsupported scope applied to resource"))
        if r.scope_name in _EXISTS_ONLY and r.operator != q.OP_EXISTS:
            errs.append(invalid(
                f"{path}.operator", r.operator,
                "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, "
                "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort "
                "or ResourceQuotaScopeCrossNamespacePodAffinity"))
        if r.operator in (q.OP_IN, q.OP_NOT_IN):
            if not r.values:
                errs.append(required(f"{path}.values", "must be at least one value when `operator` is 'In' or "
                                                       "'NotIn' for scope selector"))
        elif r.operator in (q.OP_EXISTS, q.OP_DOES_NOT_EXIST):
            if r.values:
                errs.append(invalid(f"{path}.values", _json_value(list(r.values)),
                                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                                    "selector"))
        else:
            errs.append(invalid(f"{path}.operator", r.operator, "not a valid selector operator"))
        names.add(r.scope_name)
    scopes_shown = _json_value(list(spec.scopes) or None)
    for pair in _CONFLICTING:
        if pair <= names:
            errs.append(invalid(path, scopes_shown, "conflicting scopes"))
    return errs


def _unique(errs: list[FieldError]) -> list[FieldError]:
    """The apiserver reports a repeated error once (the scope rules find the same one per resource)."""
    seen: set[str] = set()
    out = []
    for e in errs:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out


def validate_resource_quota(rq: core_pb2.ResourceQuota) -> list[FieldError]:
    errs = validate_object_meta(rq.metadata, True, name_is_dns_subdomain)
    errs += _resource_list(rq.spec.hard, "spec.hard")
    errs += _scopes(rq.spec)
    errs += _scope_selector(rq.spec)
    errs += _resource_list(rq.status.hard, "status.hard")
    errs += _resource_list(rq.status.used, "status.used")
    return _unique(errs)


class ResourceQuotaStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        canonicalize(obj.spec.hard)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.ClearField("status")
        obj.metadata.generation = 0  # upstream keeps no generation for quotas
        self.default(obj, config)

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        super().prepare_for_update(new, old, config)
        new.metadata.generation = old.metadata.generation

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_resource_quota(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if set(new.spec.scopes) != set(old.spec.scopes):
            errs.append(invalid("spec.scopes", _json_value(list(new.spec.scopes) or None), IMMUTABLE_MSG))
        return errs

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        errs += _resource_list(new.status.hard, "status.hard")
        errs += _resource_list(new.status.used, "status.used")
        return errs


STRATEGY = ResourceQuotaStrategy(kinds.by_kind("ResourceQuota"))
