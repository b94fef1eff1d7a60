"""The ClusterRole strategy (scaffold: metadata validation only, until the kind's own rules land)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_path_segment, validate_object_meta
from kubemu.api import kinds


class ClusterRoleStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, False, name_is_path_segment)


STRATEGY = ClusterRoleStrategy(kinds.by_kind("ClusterRole"))
