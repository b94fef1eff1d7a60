"""The ServiceAccount strategy (pkg/registry/core/serviceaccount/strategy.go): a secret reference keeps only its
name, and validation is the object's metadata, as upstream's ValidateServiceAccount."""

from __future__ import annotations

from typing import Any

from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError, name_is_dns_subdomain, validate_object_meta
from kubemu.api import kinds
from kubemu.config import ClusterConfig


def clean_secret_references(sa: Any) -> None:
    """cleanSecretReferences: `secrets` entries are references by name within the namespace; anything else a
    client put in one (namespace, uid, kind, ...) is dropped rather than stored."""
    for ref in sa.secrets:
        name = ref.name
        ref.Clear()
        if name:
            ref.name = name


class ServiceAccountStrategy(Strategy):
    # Upstream's v1 ServiceAccount has no defaulting function: the only change on write is the secrets' cleaning.
    no_defaults = True

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        clean_secret_references(obj)

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        super().prepare_for_update(new, old, config)
        clean_secret_references(new)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_object_meta(obj.metadata, True, name_is_dns_subdomain)


STRATEGY = ServiceAccountStrategy(kinds.by_kind("ServiceAccount"))
