"""The Role strategy (pkg/registry/rbac/role/strategy.go): policy rules validated, no non-resource URLs; no
defaults upstream."""

from __future__ import annotations

from typing import Any

from apiserver.apis.rbac import bootstrap
from apiserver.apis.rbac.validation import validate_rules
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_path_segment, validate_object_meta
from kubemu.api import kinds


class RoleStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, True, name_is_path_segment) + validate_rules(obj.rules, True)

    def system_objects(self) -> tuple[Any, ...]:
        return bootstrap.objects("Role")


STRATEGY = RoleStrategy(kinds.by_kind("Role"))
