"""The ClusterRole strategy (pkg/registry/rbac/clusterrole/strategy.go): policy rules (non-resource URLs allowed)
and the aggregation rule validated; the bootstrap ClusterRoles every cluster has."""

from __future__ import annotations

from typing import Any

from apiserver.apis.rbac import bootstrap
from apiserver.apis.rbac.validation import validate_aggregation_rule, validate_rules
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_path_segment, validate_object_meta
from kubemu.api import kinds


class ClusterRoleStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return (validate_object_meta(obj.metadata, False, name_is_path_segment) + validate_rules(obj.rules, False)
                + validate_aggregation_rule(obj))

    def system_objects(self) -> tuple[Any, ...]:
        return bootstrap.objects("ClusterRole")


STRATEGY = ClusterRoleStrategy(kinds.by_kind("ClusterRole"))
