"""The ResourceQuota strategy (scaffold: metadata validation only, until the kind's own rules land)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_dns_subdomain, validate_object_meta
from kubemu.api import kinds


class ResourceQuotaStrategy(Strategy):
    no_defaults = True

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, True, name_is_dns_subdomain)


STRATEGY = ResourceQuotaStrategy(kinds.by_kind("ResourceQuota"))
