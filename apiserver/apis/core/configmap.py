"""The ConfigMap strategy: keys that can be file names in a volume, 1 MiB in all, and no change of contents once
`immutable` is set, as ValidateConfigMap / ValidateConfigMapUpdate (pkg/apis/core/validation) and
pkg/registry/core/configmap/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.env import is_config_map_key
from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    FieldError,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    too_long,
    validate_object_meta,
    validate_object_meta_update,
)
from kubemu.api import kinds

MAX_SIZE = 1024 * 1024
"""core.MaxSecretSize: the most bytes of data a ConfigMap or a Secret may hold (their values, not their keys)."""
IMMUTABLE_SET_MSG = "field is immutable when `immutable` is set"


def key_errors(keys: Any, path: str) -> list[FieldError]:
    """IsConfigMapKey on every key of a data map, each error at `path[key]`; sorted, where Go's map order is
    random."""
    return [invalid(f"{path}[{k}]", k, m) for k in sorted(keys) for m in is_config_map_key(k)]


def validate_config_map(cm: Any) -> list[FieldError]:
    errs = validate_object_meta(cm.metadata, True, name_is_dns_subdomain)
    errs += key_errors(cm.data, "data")
    errs += [invalid(f"data[{k}]", k, "duplicate of key present in binaryData")
             for k in sorted(cm.data) if k in cm.binary_data]
    errs += key_errors(cm.binary_data, "binaryData")
    size = sum(len(v.encode()) for v in cm.data.values()) + sum(len(v) for v in cm.binary_data.values())
    if size > MAX_SIZE:
        # Upstream passes field.NewPath(""), which prints as "[]": the error is the whole object's.
        errs.append(too_long("[]", MAX_SIZE))
    return errs


class ConfigMapStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_config_map(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        errs = validate_object_meta_update(new.metadata, old.metadata)
        if old.immutable:
            if not new.immutable:
                errs.append(forbidden("immutable", IMMUTABLE_SET_MSG))
            if dict(new.data) != dict(old.data):
                errs.append(forbidden("data", IMMUTABLE_SET_MSG))
            if dict(new.binary_data) != dict(old.binary_data):
                errs.append(forbidden("binaryData", IMMUTABLE_SET_MSG))
        # Upstream reports these together with the create rules on the new object (the registry runs those alone
        # only when this finds nothing).
        return errs + validate_config_map(new) if errs else errs


STRATEGY = ConfigMapStrategy(kinds.by_kind("ConfigMap"))
