"""The RoleBinding strategy (pkg/registry/rbac/rolebinding/strategy.go): a Role or ClusterRole reference that never
changes, subjects of the three kinds; the RBAC group defaulted where it is implied."""

from __future__ import annotations

from typing import Any

from apiserver.apis.rbac import bootstrap
from apiserver.apis.rbac.validation import (
    default_binding,
    validate_role_ref,
    validate_role_ref_update,
    validate_subjects,
)
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_path_segment, validate_object_meta
from kubemu.api import kinds
from kubemu.config import ClusterConfig


class RoleBindingStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_binding(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return (validate_object_meta(obj.metadata, True, name_is_path_segment)
                + validate_role_ref(obj.role_ref, ("Role", "ClusterRole")) + validate_subjects(obj.subjects, True))

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_role_ref_update(new, old)

    def system_objects(self) -> tuple[Any, ...]:
        return bootstrap.objects("RoleBinding")


STRATEGY = RoleBindingStrategy(kinds.by_kind("RoleBinding"))
