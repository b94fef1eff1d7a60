"""The DaemonSet strategy: the status is the controller's and the selector is immutable, as
pkg/registry/apps/daemonset/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.apps.defaulting import default_daemon_set
from apiserver.apis.apps.validation import validate_daemon_set
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, _selector_immutable
from kubemu.api import kinds
from kubemu.config import ClusterConfig


class DaemonSetStrategy(Strategy):
    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_daemon_set(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.ClearField("status")  # the controller's to write

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_daemon_set(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return super().validate_update(new, old) + _selector_immutable(new, old)


STRATEGY = DaemonSetStrategy(kinds.by_kind("DaemonSet"))
