"""The Namespace strategy: the Active phase at create, the system namespaces every cluster has and none may delete,
as pkg/registry/core/namespace/strategy.go and the NamespaceLifecycle admission plugin."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.defaulting import default_namespace
from apiserver.apis.core.validation import validate_namespace
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds
from kubemu.config import ClusterConfig

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceStrategy(Strategy):
    # Cluster-scoped: metadata.namespace is refused, not silently matched.
    field_labels = fields.FieldLabels(frozenset({"metadata.name", "status.phase"}), {}, fields.not_supported)

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_namespace(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.status.phase = "Active"

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_namespace(obj)

    def system_objects(self) -> tuple[Any, ...]:
        out = []
        for name in SYSTEM_NAMESPACES:
            ns = self.info.message()
            ns.metadata.name = name
            out.append(ns)
        return tuple(out)

    def may_delete(self, name: str) -> str | None:
        return "this namespace may not be deleted" if name in SYSTEM_NAMESPACES else None

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        return {"status.phase": obj.status.phase}


STRATEGY = NamespaceStrategy(kinds.by_kind("Namespace"))
