"""Admission: the plugins every write passes through between decoding and storage, as kube-apiserver's admission
chain (staging/src/k8s.io/apiserver/pkg/admission). A plugin may mutate the object (`admit`, run before the kind's
strategy defaults and validates it) and may refuse it (`validate`, run after the strategy's validation, just before
the write). Plugins read other objects through the registry they are given, never the store.

The order is upstream's recommended order (pkg/kubeapiserver/options/plugins.go AllOrderedPlugins), limited to the
plugins kubemu has: a plugin is a module in apiserver/admission/ with its class at its place in load.ORDER.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from apiserver import errors
from kubemu.api import kinds

if TYPE_CHECKING:
    from apiserver.registry import Registry

CREATE = "CREATE"
UPDATE = "UPDATE"
DELETE = "DELETE"


@dataclass
class Attributes:
    """admission.Attributes: what is being done to which object."""

    operation: str
    """CREATE, UPDATE or DELETE."""
    info: kinds.KindInfo
    namespace: str
    name: str
    obj: Any
    """The object to be stored (None for DELETE)."""
    old: Any = None
    """The stored object (UPDATE, DELETE)."""
    subresource: str = ""
    """"" for the object itself, "status" for a status write, ..."""
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Plugin:
    """One admission plugin. `handles` says which operations it looks at; both hooks default to doing nothing."""

    name: ClassVar[str] = ""
    """Upstream's plugin name: `NamespaceLifecycle`, `LimitRanger`, `ServiceAccount`, ..."""
    operations: ClassVar[frozenset[str]] = frozenset({CREATE, UPDATE})

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def handles(self, a: Attributes) -> bool:
        return a.operation in self.operations

    async def admit(self, a: Attributes) -> None:
        """Mutate a.obj in place, or raise an errors.StatusError."""

    async def validate(self, a: Attributes) -> None:
        """Refuse with an errors.StatusError, or return."""


def forbidden(a: Attributes, why: str) -> errors.Forbidden:
    """admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`, the object named by its generateName when
    its name is not made yet (extractResourceName upstream)."""
    name = a.name
    if not name and a.obj is not None:
        name = a.obj.metadata.name or a.obj.metadata.generate_name or "Unknown"
    return errors.new_forbidden(a.info.plural, a.info.group, name, why)


def plugins() -> list[type[Plugin]]:
    """Every plugin kubemu has, in upstream's order."""
    from apiserver.admission import load

    return list(load.ORDER)


class Chain:
    """The admission chain of one apiserver: every plugin, or those `enabled` names."""

    def __init__(self, registry: Registry, enabled: frozenset[str] | None = None) -> None:
        self.plugins = [p(registry) for p in plugins() if enabled is None or p.name in enabled]

    async def admit(self, a: Attributes) -> None:
        for p in self.plugins:
            if p.handles(a):
                await p.admit(a)

    async def validate(self, a: Attributes) -> None:
        for p in self.plugins:
            if p.handles(a):
                await p.validate(a)
