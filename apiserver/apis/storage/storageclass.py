"""The StorageClass strategy: defaults (reclaimPolicy Delete, volumeBindingMode Immediate), a provisioner is required,
and what a class provisions with never changes (pkg/registry/storage/storageclass/strategy.go,
pkg/apis/storage/validation). Every cluster has kind's default class, `standard`."""

from __future__ import annotations

from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    _qualified_name,
    forbidden,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    too_long,
    validate_object_meta,
)
from kubemu.api import kinds, storage
from kubemu.config import ClusterConfig

RECLAIM_POLICIES = ["Delete", "Retain"]
BINDING_MODES = [storage.IMMEDIATE, storage.WAIT_FOR_FIRST_CONSUMER]
PROVISIONER_MAX_LENGTH = 63 + 253 + 1
MAX_PARAMETERS_SIZE = 256 * 1024

DEFAULT_CLASS = "standard"
"""kind's default class (its manifest in kind's images): local-path-provisioner, bound when a pod first uses it."""


class StorageClassStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        if not obj.HasField("reclaim_policy"):
            obj.reclaim_policy = "Delete"
        if not obj.HasField("volume_binding_mode"):
            obj.volume_binding_mode = storage.IMMEDIATE

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_object_meta(obj.metadata, False, name_is_dns_subdomain)
        if not obj.provisioner:
            errs.append(required("provisioner"))
        else:
            errs += _qualified_name(obj.provisioner.lower(), "provisioner")
            if len(obj.provisioner) > PROVISIONER_MAX_LENGTH:
                errs.append(too_long("provisioner", PROVISIONER_MAX_LENGTH))
        size = 0
        for k, v in obj.parameters.items():
            if not k:
                errs.append(invalid("parameters", k, "field can not be empty."))
            size += len(k) + len(v)
        if size > MAX_PARAMETERS_SIZE:
            errs.append(too_long("parameters", MAX_PARAMETERS_SIZE))
        if obj.HasField("reclaim_policy") and obj.reclaim_policy not in RECLAIM_POLICIES:
            errs.append(not_supported("reclaimPolicy", obj.reclaim_policy, RECLAIM_POLICIES))
        if obj.HasField("volume_binding_mode") and obj.volume_binding_mode not in BINDING_MODES:
            errs.append(not_supported("volumeBindingMode", obj.volume_binding_mode, BINDING_MODES))
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        """ValidateStorageClassUpdate."""
        errs = super().validate_update(new, old)
        if dict(new.parameters) != dict(old.parameters):
            errs.append(forbidden("parameters", "updates to parameters are forbidden."))
        if new.provisioner != old.provisioner:
            errs.append(forbidden("provisioner", "updates to provisioner are forbidden."))
        if new.reclaim_policy != old.reclaim_policy:
            errs.append(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
        if new.volume_binding_mode != old.volume_binding_mode:
            errs.append(invalid("volumeBindingMode", new.volume_binding_mode, IMMUTABLE_MSG))
        return errs

    def system_objects(self) -> tuple[Any, ...]:
        """kind's `standard` class. Made here rather than by a manifest applied at start so that every way a kubemu
        cluster comes up (`kubemu up`, compose, the test fixtures) has it with nothing to remember; like the system
        namespaces it is created only when missing, so a changed class stays as changed."""
        sc = self.info.message(provisioner=storage.LOCAL_PATH_PROVISIONER, reclaim_policy="Delete",
                               volume_binding_mode=storage.WAIT_FOR_FIRST_CONSUMER)
        sc.metadata.name = DEFAULT_CLASS
        sc.metadata.annotations[storage.IS_DEFAULT_CLASS] = "true"
        return (sc,)


STRATEGY = StorageClassStrategy(kinds.by_kind("StorageClass"))
