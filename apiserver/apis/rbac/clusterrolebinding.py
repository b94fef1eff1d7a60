"""The ClusterRoleBinding strategy (pkg/registry/rbac/clusterrolebinding/strategy.go): a ClusterRole reference
that never changes, subjects of the three kinds (a ServiceAccount with its namespace); the bootstrap bindings."""

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


class ClusterRoleBindingStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_binding(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return (validate_object_meta(obj.metadata, False, name_is_path_segment)
                + validate_role_ref(obj.role_ref, ("ClusterRole",)) + validate_subjects(obj.subjects, False))

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_role_ref_update(new, old)

    def system_objects(self) -> tuple[Any, ...]:
        return bootstrap.objects("ClusterRoleBinding")


STRATEGY = ClusterRoleBindingStrategy(kinds.by_kind("ClusterRoleBinding"))
