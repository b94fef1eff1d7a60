"""The LimitRange strategy: a Container item's defaults filled in from its max, default and min
(SetDefaults_LimitRangeItem), and ValidateLimitRange's rules and messages (pkg/apis/core/validation)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.validation import _overcommit_allowed, _validate_container_resource_name
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    _qualified_name,
    duplicate,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    required,
    validate_object_meta,
)
from kubemu.api import kinds
from kubemu.api.quantity import Quantity, QuantityError, parse_quantity
from kubemu.config import ClusterConfig
from kubemu.pb import core_pb2

POD, CONTAINER, PVC = "Pod", "Container", "PersistentVolumeClaim"
STANDARD_TYPES = (POD, CONTAINER, PVC)
_STANDARD_RESOURCES = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage",
    "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
    "resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "storage", "requests.storage",
    "services.nodeports", "services.loadbalancers",
})


def canonicalize(values: Any) -> None:
    """Quantities are stored in their canonical form (`0.5` is kept as `500m`), as upstream's serialization does."""
    for name, raw in list(values.items()):
        try:
            values[name] = str(parse_quantity(raw))
        except QuantityError:
            continue  # validation names it


def default_limit_range_item(item: core_pb2.LimitRangeItem) -> None:
    """SetDefaults_LimitRangeItem: for containers, the default limit is the max, the default request the default
    limit, else the min."""
    if item.type != CONTAINER:
        return
    for name, value in item.max.items():
        item.default.setdefault(name, value)
    for name, value in item.default.items():
        item.default_request.setdefault(name, value)
    for name, value in item.min.items():
        item.default_request.setdefault(name, value)


def validate_resource_name(name: str, path: str) -> list[FieldError]:
    """validateResourceName: a qualified name, standard unless it has a domain."""
    errs = _qualified_name(name, path)
    if errs:
        return errs
    if "/" not in name and name not in _STANDARD_RESOURCES and not name.startswith(("hugepages-",
                                                                                    "requests.hugepages-")):
        errs.append(invalid(path, name, "must be a standard resource type or fully qualified"))
    return errs


def _type_name(value: str, path: str) -> list[FieldError]:
    errs = _qualified_name(value, path)
    if errs:
        return errs
    if "/" not in value and value not in STANDARD_TYPES:
        return [invalid(path, value, "must be a standard limit type or fully qualified")]
    return []


def _resource_name(limit_type: str, name: str, path: str) -> list[FieldError]:
    if limit_type in (POD, CONTAINER):
        return _validate_container_resource_name(name, path)
    return validate_resource_name(name, path)


def _quantities(item_type: str, values: Any, path: str, errs: list[FieldError], keys: set[str]
                ) -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for name, raw in values.items():
        p = f"{path}[{name}]"
        errs += _resource_name(item_type, name, p)
        keys.add(name)
        try:
            out[name] = parse_quantity(raw)
        except QuantityError as e:  # upstream refuses it while decoding
            errs.append(invalid(p, raw, str(e)))
    return out


def _ratio_limit(ratio: Quantity, lo: Quantity, hi: Quantity) -> tuple[float, float]:
    """The ratio and max/min as ValidateLimitRange compares them (in milli units)."""
    lo_m, hi_m = lo.milli_value(), hi.milli_value()
    limit = float("inf") if lo_m == 0 else hi_m / lo_m
    return ratio.milli_value() / 1000, limit


def validate_limit_range(lr: core_pb2.LimitRange) -> list[FieldError]:
    errs = validate_object_meta(lr.metadata, True, name_is_dns_subdomain)
    seen: set[str] = set()
    for i, item in enumerate(lr.spec.limits):
        p = f"spec.limits[{i}]"
        errs += _type_name(item.type, f"{p}.type")
        if item.type in seen:
            errs.append(duplicate(f"{p}.type", item.type))
        seen.add(item.type)
        keys: set[str] = set()
        hi = _quantities(item.type, item.max, f"{p}.max", errs, keys)
        lo = _quantities(item.type, item.min, f"{p}.min", errs, keys)
        defaults: dict[str, Quantity] = {}
        requests: dict[str, Quantity] = {}
        if item.type == POD:
            if item.default:
                errs.append(forbidden(f"{p}.default", "may not be specified when `type` is 'Pod'"))
            if item.default_request:
                errs.append(forbidden(f"{p}.defaultRequest", "may not be specified when `type` is 'Pod'"))
        else:
            defaults = _quantities(item.type, item.default, f"{p}.default", errs, keys)
            requests = _quantities(item.type, item.default_request, f"{p}.defaultRequest", errs, keys)
        if item.type == PVC and "storage" not in item.min and "storage" not in item.max:
            errs.append(required(f"{p}.limits",
                                 "either minimum or maximum storage value is required, but neither was provided"))
        ratios = _quantities(item.type, item.max_limit_request_ratio, f"{p}.maxLimitRequestRatio", errs, keys)
        for k in sorted(keys):
            mn, mx, df, dr, ratio = lo.get(k), hi.get(k), defaults.get(k), requests.get(k), ratios.get(k)
            if mn is not None and mx is not None and mx < mn:
                errs.append(invalid(f"{p}.min[{k}]", str(mn), f"min value {mn} is greater than max value {mx}"))
            if dr is not None and mn is not None and dr < mn:
                errs.append(invalid(f"{p}.defaultRequest[{k}]", str(dr),
                                    f"min value {mn} is greater than default request value {dr}"))
            if dr is not None and mx is not None and mx < dr:
                errs.append(invalid(f"{p}.defaultRequest[{k}]", str(dr),
                                    f"default request value {dr} is greater than max value {mx}"))
            if dr is not None and df is not None and df < dr:
                errs.append(invalid(f"{p}.defaultRequest[{k}]", str(dr),
                                    f"default request value {dr} is greater than default limit value {df}"))
            if df is not None and mn is not None and df < mn:
                errs.append(invalid(f"{p}.default[{k}]", str(mn),
                                    f"min value {mn} is greater than default value {df}"))
            if df is not None and mx is not None and mx < df:
                errs.append(invalid(f"{p}.default[{k}]", str(mx),
                                    f"default value {df} is greater than max value {mx}"))
            if ratio is not None and ratio.amount < 1:
                errs.append(invalid(f"{p}.maxLimitRequestRatio[{k}]", str(ratio), f"ratio {ratio} is less than 1"))
            if ratio is not None and mn is not None and mx is not None:
                value, limit = _ratio_limit(ratio, mn, mx)
                if value > limit:
                    errs.append(invalid(f"{p}.maxLimitRequestRatio[{k}]", str(ratio),
                                        f"ratio {ratio} is greater than max/min = {limit:f}"))
            if not _overcommit_allowed(k) and df is not None and dr is not None and df != dr:
                errs.append(invalid(f"{p}.defaultRequest[{k}]", str(dr),
                                    f"default value {df} must equal to defaultRequest value {dr} in {k}"))
    return errs


class LimitRangeStrategy(Strategy):
    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.metadata.generation = 0  # upstream keeps no generation for LimitRanges
        self.default(obj, config)

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        super().prepare_for_update(new, old, config)
        new.metadata.generation = old.metadata.generation

    def default(self, obj: Any, config: ClusterConfig) -> None:
        for item in obj.spec.limits:
            for values in (item.max, item.min, item.default, item.default_request, item.max_limit_request_ratio):
                canonicalize(values)
            default_limit_range_item(item)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_limit_range(obj)


STRATEGY = LimitRangeStrategy(kinds.by_kind("LimitRange"))
