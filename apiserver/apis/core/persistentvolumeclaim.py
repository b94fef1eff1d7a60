"""The PersistentVolumeClaim strategy: a new claim is Pending with volumeMode Filesystem; its spec stays but for the
volume it is bound to, a class given where there was none and the storage request of a bound claim
(pkg/registry/core/persistentvolumeclaim/strategy.go)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.pvvalidation import default_pvc, validate_pvc_update
from apiserver.apis.core.volumes import pvc_spec
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_dns_subdomain, validate_object_meta
from kubemu.api import kinds
from kubemu.config import ClusterConfig


class PersistentVolumeClaimStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_pvc(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        obj.ClearField("status")
        self.default(obj, config)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, True, name_is_dns_subdomain) + pvc_spec(obj.spec, "spec")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_pvc_update(new, old)


STRATEGY = PersistentVolumeClaimStrategy(kinds.by_kind("PersistentVolumeClaim"))
