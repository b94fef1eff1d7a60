"""The Node strategy: allocatable defaults to capacity, podCIDRs and providerID are set once, as
pkg/registry/core/node/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.defaulting import default_node
from apiserver.apis.core.validation import validate_node, validate_node_update
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds
from kubemu.config import ClusterConfig


class NodeStrategy(Strategy):
    # Cluster-scoped: metadata.namespace is refused, not silently matched.
    field_labels = fields.FieldLabels(frozenset({"metadata.name", "spec.unschedulable"}), {}, fields.not_supported)

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_node(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_node(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + validate_node_update(new, old)

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        return {"spec.unschedulable": fields.bool_field(obj.spec.unschedulable)}


STRATEGY = NodeStrategy(kinds.by_kind("Node"))
