"""The CSIDriver strategy: upstream's defaults (attach required, no pod info, Persistent volumes only, ...), the
known lifecycle modes and fsGroup policies, and what a driver's mounts depend on never changes
(pkg/registry/storage/csidriver/strategy.go, pkg/apis/storage/validation: ValidateCSIDriver(Update))."""

from __future__ import annotations

import json
from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import (
    IMMUTABLE_MSG,
    FieldError,
    GoValue,
    duplicate,
    invalid,
    name_is_dns_subdomain,
    not_supported,
    required,
    validate_object_meta,
)
from kubemu.api import kinds
from kubemu.config import ClusterConfig

LIFECYCLE_MODES = ["Persistent", "Ephemeral"]
FS_GROUP_POLICIES = ["File", "None", "ReadWriteOnceWithFSType"]


class CSIDriverStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        """SetDefaults_CSIDriver."""
        spec = obj.spec
        for fld, value in (("attach_required", True), ("pod_info_on_mount", False), ("storage_capacity", False),
                           ("requires_republish", False), ("se_linux_mount", False),
                           ("fs_group_policy", "ReadWriteOnceWithFSType")):
            if not spec.HasField(fld):
                setattr(spec, fld, value)
        if not spec.volume_lifecycle_modes:
            spec.volume_lifecycle_modes.append("Persistent")

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_object_meta(obj.metadata, False, name_is_dns_subdomain)
        spec = obj.spec
        for fld, json_name in (("attach_required", "attachRequired"), ("pod_info_on_mount", "podInfoOnMount"),
                               ("storage_capacity", "storageCapacity")):
            if not spec.HasField(fld):
                errs.append(required(f"spec.{json_name}"))
        if spec.HasField("fs_group_policy") and spec.fs_group_policy not in FS_GROUP_POLICIES:
            errs.append(not_supported("spec.fsGroupPolicy", spec.fs_group_policy, FS_GROUP_POLICIES))
        for mode in spec.volume_lifecycle_modes:
            if mode not in LIFECYCLE_MODES:
                errs.append(not_supported("spec.volumeLifecycleModes", mode, LIFECYCLE_MODES))
        seen: set[str] = set()
        for i, tr in enumerate(spec.token_requests):
            if tr.audience in seen:
                errs.append(duplicate(f"spec.tokenRequests[{i}].audience", tr.audience))
            seen.add(tr.audience)
            if tr.HasField("expiration_seconds") and tr.expiration_seconds < 600:
                errs.append(invalid(f"spec.tokenRequests[{i}].expirationSeconds", tr.expiration_seconds,
                                    "may not specify a duration less than 10 minutes"))
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        """ValidateCSIDriverUpdate: attachRequired (reported as upstream spells it) and the lifecycle modes stay."""
        errs = super().validate_update(new, old)
        if new.spec.attach_required != old.spec.attach_required:
            errs.append(invalid("spec.attachedRequired", new.spec.attach_required, IMMUTABLE_MSG))
        if list(new.spec.volume_lifecycle_modes) != list(old.spec.volume_lifecycle_modes):
            errs.append(invalid("spec.volumeLifecycleModes", GoValue(json.dumps(list(new.spec.volume_lifecycle_modes),
                                                                                separators=(",", ":"))),
                                IMMUTABLE_MSG))
        return errs


STRATEGY = CSIDriverStrategy(kinds.by_kind("CSIDriver"))
