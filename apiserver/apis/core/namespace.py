"""The Namespace strategy: the Active phase and the `kubernetes` finalizer at create, spec.finalizers changed only
through the finalize subresource, a delete that turns the namespace Terminating until the namespace controller has
emptied it and finalized it, and the system namespaces every cluster has and none may delete, as
pkg/registry/core/namespace (strategy.go, storage/storage.go)."""

from __future__ import annotations

from typing import Any

from apiserver.apis.core.defaulting import default_namespace
from apiserver.apis.core.validation import validate_namespace
from apiserver.apis.strategy import Strategy
from apiserver.validation import FieldError
from kubemu.api import fields, kinds
from kubemu.api.serialization import set_time
from kubemu.config import ClusterConfig

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
FINALIZER_KUBERNETES = "kubernetes"
"""The namespace controller's token in spec.finalizers (api.FinalizerKubernetes)."""
TERMINATING = "Terminating"


class NamespaceStrategy(Strategy):
    # Cluster-scoped: metadata.namespace is refused, not silently matched.
    field_labels = fields.FieldLabels(frozenset({"metadata.name", "status.phase"}), {}, fields.not_supported)

    def default(self, obj: Any, config: ClusterConfig) -> None:
        default_namespace(obj)

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        self.default(obj, config)
        obj.ClearField("status")
        obj.status.phase = "Active"
        # Required on create; not a default, since the namespace controller removes it over the object's life.
        if FINALIZER_KUBERNETES not in obj.spec.finalizers:
            obj.spec.finalizers.append(FINALIZER_KUBERNETES)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_namespace(obj)

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        # Only the finalize subresource changes spec.finalizers.
        new.spec.ClearField("finalizers")
        new.spec.finalizers.extend(old.spec.finalizers)
        super().prepare_for_update(new, old, config)

    def prepare_for_finalize(self, new: Any, old: Any) -> None:
        new.ClearField("status")
        if old.HasField("status"):
            new.status.CopyFrom(old.status)

    def begin_termination(self, obj: Any, now: float) -> bool:
        set_time(obj.metadata.deletion_timestamp, now)
        obj.status.phase = TERMINATING
        return True

    def held(self, obj: Any) -> bool:
        return bool(obj.spec.finalizers)

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
