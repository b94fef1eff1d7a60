"""The API schema as the patch machinery walks it: for each place in a document, whether it is a struct, a map, a
list or a scalar, and its list type, list-map keys, map type and strategic merge patch strategy and merge key.

Built on kubemu/api/openapi.py's schema; each Type is made once per schema node, so a walk costs a dict lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubemu.api import openapi
from kubemu.api.kinds import KindInfo

STRUCT, MAP, LIST, SCALAR, UNTYPED = "struct", "map", "list", "scalar", "untyped"

_SCALAR_REFS = frozenset({
    openapi.QUANTITY,
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
})
"""Definitions that are objects in Go but a scalar in JSON."""


class Type:
    """The schema of one place in a document: a property's schema (with its x-kubernetes-* extensions) and the
    definition it refers to, if any."""

    __slots__ = ("_fields", "_items", "_values", "definition", "kind", "schema")

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema = schema
        ref = schema.get("$ref")
        self.definition: Mapping[str, Any] = openapi.definitions().get(ref, {}) if isinstance(ref, str) else schema
        d = self.definition
        if isinstance(ref, str) and ref in _SCALAR_REFS:
            self.kind = SCALAR
        elif "properties" in d:
            self.kind = STRUCT
        elif d.get("type") == "array":
            self.kind = LIST
        elif d.get("type") == "object" and isinstance(d.get("additionalProperties"), dict):
            self.kind = MAP
        elif d.get("type") in ("string", "integer", "number", "boolean"):
            self.kind = SCALAR
        else:
            self.kind = UNTYPED  # RawExtension, JSON, FieldsV1, or a field the schema does not know
        self._fields: dict[str, Type] | None = None
        self._items: Type | None = None
        self._values: Type | None = None

    def field(self, name: str) -> Type:
        """The type of a struct's field or a map's value; untyped where the schema says nothing."""
        if self.kind == STRUCT:
            if self._fields is None:
                self._fields = {}
            t = self._fields.get(name)
            if t is None:
                prop = self.definition["properties"].get(name)
                t = of(prop) if prop is not None else UNKNOWN
                self._fields[name] = t
            return t
        if self.kind == MAP:
            if self._values is None:
                self._values = of(self.definition["additionalProperties"])
            return self._values
        return UNKNOWN

    def has_field(self, name: str) -> bool:
        return self.kind == STRUCT and name in self.definition["properties"]

    @property
    def items(self) -> Type:
        if self._items is None:
            items = self.definition.get("items")
            self._items = of(items) if isinstance(items, dict) else UNKNOWN
        return self._items

    @property
    def list_type(self) -> str:
        """atomic, set or map; a list the schema leaves untyped is atomic, as structured-merge-diff takes it."""
        value = self.schema.get("x-kubernetes-list-type") or self.definition.get("x-kubernetes-list-type")
        return value if value in ("set", "map") else "atomic"

    @property
    def map_keys(self) -> tuple[str, ...]:
        return tuple(self.schema.get("x-kubernetes-list-map-keys") or self.definition.get(
            "x-kubernetes-list-map-keys") or ())

    @property
    def atomic_map(self) -> bool:
        """A struct or map that server-side apply owns and replaces as one value."""
        value = self.schema.get("x-kubernetes-map-type") or self.definition.get("x-kubernetes-map-type")
        return value == "atomic"

    @property
    def patch_strategies(self) -> list[str]:
        value = self.schema.get("x-kubernetes-patch-strategy")
        return value.split(",") if isinstance(value, str) and value else []

    @property
    def patch_merge_key(self) -> str:
        value = self.schema.get("x-kubernetes-patch-merge-key")
        return value if isinstance(value, str) else ""

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    def required(self) -> frozenset[str]:
        return frozenset(self.definition.get("required", ())) if self.kind == STRUCT else frozenset()


_BY_ID: dict[int, Type] = {}


def of(schema: Mapping[str, Any]) -> Type:
    """The Type of a schema node, made once: the schema is loaded once and lives as long as the process."""
    t = _BY_ID.get(id(schema))
    if t is None:
        t = _BY_ID[id(schema)] = Type(schema)
    return t


UNKNOWN = Type({})
"""What the schema does not describe: maps merged, lists replaced, no keys."""


def root(info: KindInfo) -> Type:
    """The Type of a whole object of a kind."""
    return _root(openapi.definition_of(info))


_ROOTS: dict[str, Type] = {}


def _root(name: str) -> Type:
    t = _ROOTS.get(name)
    if t is None:
        t = _ROOTS[name] = Type({"$ref": name})
    return t
