"""The ReplicationController strategy: the status is the controller's, as
pkg/registry/core/replicationcontroller/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.defaulting import default_replication_controller
from apiserver.apis.core.validation import validate_replication_controller
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds
from kubemu.config import ClusterConfig


class ReplicationControllerStrategy(Strategy):
    field_labels = fields.FieldLabels(fields.NAME_AND_NAMESPACE | {"status.replicas"}, {}, fields.not_supported)

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_replication_controller(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.ClearField("status")  # the controller's to write

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_replication_controller(obj)

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        return {"status.replicas": str(obj.status.replicas)}


STRATEGY = ReplicationControllerStrategy(kinds.by_kind("ReplicationController"))
