"""The Lease strategy: no defaults and no status, as pkg/registry/coordination/lease/strategy.go."""

from __future__ import annotations

from typing import Any

from apiserver.apis.coordination.validation import validate_lease
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import kinds


class LeaseStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_lease(obj)


STRATEGY = LeaseStrategy(kinds.by_kind("Lease"))
