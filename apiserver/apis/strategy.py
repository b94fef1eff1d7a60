"""What the generic registry verbs ask of a kind: defaulting, validation, what create, update and status update may
change, graceful deletion, field selectors, as upstream's rest.RESTCreateStrategy, RESTUpdateStrategy and
RESTDeleteStrategy (pkg/registry/<group>/<kind>/strategy.go, staging/src/k8s.io/apiserver/pkg/registry/rest).
"""

from __future__ import annotations

from typing import Any, ClassVar

from apiserver.validation import FieldError, validate_object_meta_update
from kubemu.api import fields
from kubemu.api.kinds import KindInfo
from kubemu.config import ClusterConfig


class Strategy:
    """The strategy of one kind; every hook's default is what a kind with no rule of its own gets. One instance per
    kind, made at import and shared by every call (the registry looks it up by kind, once per verb)."""

    no_defaults: ClassVar[bool] = False
    """True where the kind has no defaulting at all upstream (Events, Leases): says that `default` is a no-op on
    purpose, so that the completeness test can tell it from a forgotten one."""
    field_labels: ClassVar[fields.FieldLabels] = fields.METADATA_ONLY
    """The field selectors the kind accepts (its field label conversion func upstream); the fallback is
    runtime.DefaultMetaV1FieldSelectorConversion."""

    def __init__(self, info: KindInfo) -> None:
        self.info = info
        top = {f.name for f in info.message.DESCRIPTOR.fields}
        self.has_status = "status" in top
        """The kind has a status that only the status subresource writes (a spec update keeps the old one)."""
        self.has_spec = "spec" in top
        """A change of spec bumps metadata.generation."""

    # -- create ---------------------------------------------------------------------------------------------------

    def default(self, obj: Any, config: ClusterConfig) -> None:
        """Fill in upstream's defaults in place; idempotent, so it also runs on every update."""

    def prepare_for_create(self, obj: Any, config: ClusterConfig) -> None:
        """PrepareForCreate: what the server sets on create whatever the client sent (after metadata)."""
        self.default(obj, config)

    def validate(self, obj: Any) -> list[FieldError]:
        """Create validation, run on the defaulted object (and on the new object of an update)."""
        return []

    def system_objects(self) -> tuple[Any, ...]:
        """Objects of this kind every cluster has, created when an apiserver starts (the system namespaces)."""
        return ()

    # -- update ---------------------------------------------------------------------------------------------------

    def prepare_for_update(self, new: Any, old: Any, config: ClusterConfig) -> None:
        """PrepareForUpdate of a spec update: the status stays the stored one, defaults fill the new object in, and
        a change of spec bumps the generation. `new` already has the server-owned metadata of `old`."""
        if self.has_status:
            new.ClearField("status")
            if old.HasField("status"):
                new.status.CopyFrom(old.status)
        self.default(new, config)
        if self.has_spec and new.spec.SerializeToString(deterministic=True) != old.spec.SerializeToString(
            deterministic=True
        ):
            new.metadata.generation = old.metadata.generation + 1

    def prepare_for_status_update(self, incoming: Any, old: Any) -> Any:
        """The status subresource changes status only (ResetObjectMetaForStatus upstream): the object to store is
        the stored one with the incoming status."""
        new = type(old)()
        new.CopyFrom(old)
        if self.has_status:
            new.ClearField("status")
            if incoming.HasField("status"):
                new.status.CopyFrom(incoming.status)
        return new

    def forbidden_update(self, new: Any, old: Any) -> list[FieldError]:
        """Rules that refuse an update outright, checked before validation (mirror pods)."""
        return []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        """The rules only an update has (immutable fields); the registry runs `validate(new)` as well."""
        return validate_object_meta_update(new.metadata, old.metadata)

    def validate_status_update(self, new: Any, old: Any) -> list[FieldError]:
        """ValidateStatusUpdate: what a write of the status subresource must satisfy (nothing, for most kinds)."""
        return []

    # -- delete ---------------------------------------------------------------------------------------------------

    def may_delete(self, name: str) -> str | None:
        """Why the object may not be deleted at all, or None (the system namespaces)."""
        return None

    def grace_period(self, obj: Any, requested: int | None, config: ClusterConfig) -> int:
        """CheckGracefulDelete: the grace period a delete gets; 0 deletes at once."""
        return 0

    def waits_for_grace(self, obj: Any, grace: int) -> bool:
        """The object stays, with its deletionTimestamp, while a grace period of `grace` seconds runs: someone
        (a kubelet) ends it with a delete of grace 0."""
        return False

    def begin_termination(self, obj: Any, now: float) -> bool:
        """A kind whose delete starts a phase of its life rather than ending it (a namespace turns Terminating):
        mark `obj` in place at its first delete and return True, so that it is stored instead of removed."""
        return False

    def held(self, obj: Any) -> bool:
        """Something besides metadata.finalizers keeps an object that is being deleted (a namespace's
        spec.finalizers): a delete returns it unchanged and an update does not remove it."""
        return False

    # -- the finalize subresource ---------------------------------------------------------------------------------

    def prepare_for_finalize(self, new: Any, old: Any) -> None:
        """The finalize subresource's PrepareForUpdate (namespaces): what it may not change is put back from `old`."""
        raise NotImplementedError(f"{self.info.kind} has no finalize subresource")

    # -- subresources ---------------------------------------------------------------------------------------------

    def bind(self, obj: Any, target: str, now: float) -> None:
        """The binding subresource: assign `obj` to `target` in place, or raise errors.Conflict."""
        raise NotImplementedError(f"{self.info.kind} has no binding subresource")

    # -- field selectors ------------------------------------------------------------------------------------------

    def selectable_fields(self, obj: Any) -> dict[str, str]:
        """ToSelectableFields beyond metadata.name and metadata.namespace."""
        return {}
