"""The Deployment strategy: the status is the controller's and the selector is immutable, as
pkg/registry/apps/deployment/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.apps.defaulting import default_deployment
from apiserver.apis.apps.validation import validate_deployment
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, _selector_immutable
from kubemu.api import kinds
from kubemu.config import ClusterConfig


class DeploymentStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_deployment(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.ClearField("status")  # the controller's to write

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_deployment(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + _selector_immutable(new, old)


STRATEGY = DeploymentStrategy(kinds.by_kind("Deployment"))
