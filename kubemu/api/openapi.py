"""The API's schema at run time: each kind's definition and each field's type, enum, default and list/map/patch
metadata, from kubemu/api/schema/kubernetes.json (the file scripts/gen_types.py makes the types from).

`kubemu explain` reads it here; so will the REST face's OpenAPI documents and strategic merge patch.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kubemu.api.kinds import KindInfo

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_TYPE_NAMES = {
    QUANTITY: "Quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
}
"""Definitions that kubectl explain names by their JSON type (or their own short name) rather than as objects."""


class FieldNotFound(LookupError):
    pass


@functools.cache
def schema() -> dict[str, Any]:
    """The whole schema file: `gitVersion` (the Kubernetes version it came from) and `definitions`."""
    text = resources.files("kubemu.api").joinpath("schema/kubernetes.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def definitions() -> dict[str, Any]:
    defs: dict[str, Any] = schema()["definitions"]
    return defs


@functools.cache
def _messages() -> dict[str, str]:
    text = resources.files("kubemu.api").joinpath("schema/messages.json").read_text()
    data: dict[str, str] = json.loads(text)
    return data


def definition_of_message(message: str) -> dict[str, Any] | None:
    """The schema definition a generated message was made from (scripts/gen_types.py writes the map), or None."""
    name = _messages().get(message)
    return definitions()[name] if name is not None else None


@functools.cache
def _by_gvk() -> dict[tuple[str, str, str], str]:
    out: dict[tuple[str, str, str], str] = {}
    for name, definition in definitions().items():
        for gvk in definition.get("x-kubernetes-group-version-kind", ()):
            out.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return out


def definition_of(info: KindInfo) -> str:
    """The schema's definition name for a kind: `io.k8s.api.core.v1.Pod`."""
    version = info.api_version.rpartition("/")[2]
    try:
        return _by_gvk()[(info.group, version, info.kind)]
    except KeyError:
        raise FieldNotFound(f"the schema has no kind {info.kind} in {info.api_version}") from None


@dataclass(frozen=True)
class Field:
    """One field as the schema describes it."""

    name: str
    """The JSON name; the kind's own name at the top."""
    schema: dict[str, Any]
    """The property's schema, references unresolved."""
    required: bool = False

    @property
    def ref(self) -> str | None:
        """The definition of the field's object type (of its items, for a list; of its values, for a map)."""
        s = self.schema
        inner = s.get("items") or s.get("additionalProperties") or s
        ref = inner.get("$ref") if isinstance(inner, dict) else None
        return ref if isinstance(ref, str) else None

    @property
    def type_name(self) -> str:
        """What kubectl explain shows in angle brackets: `string`, `integer`, `boolean`, `[]Container`,
        `map[string]string`, `Probe`, `Quantity`, `IntOrString`, `Object`."""
        return _type_name(self.schema)

    @property
    def enum(self) -> tuple[str, ...]:
        return tuple(self.schema.get("enum", ()))

    @property
    def default(self) -> Any:
        return self.schema.get("default")

    @property
    def list_type(self) -> str | None:
        value = self.schema.get("x-kubernetes-list-type")
        return value if isinstance(value, str) else None

    @property
    def list_map_keys(self) -> tuple[str, ...]:
        return tuple(self.schema.get("x-kubernetes-list-map-keys", ()))

    @property
    def patch_strategy(self) -> str | None:
        value = self.schema.get("x-kubernetes-patch-strategy")
        return value if isinstance(value, str) else None

    @property
    def patch_merge_key(self) -> str | None:
        value = self.schema.get("x-kubernetes-patch-merge-key")
        return value if isinstance(value, str) else None

    def children(self) -> list[Field]:
        """The fields of the object type (of a list's items, of a map's values), by name; none for a scalar."""
        ref = self.ref
        if ref is None or ref in _TYPE_NAMES:
            return []
        definition = definitions()[ref]
        required = set(definition.get("required", ()))
        return [Field(name, prop, name in required) for name, prop in sorted(definition.get("properties", {}).items())]


def _type_name(s: dict[str, Any]) -> str:
    ref = s.get("$ref")
    if isinstance(ref, str):
        return _TYPE_NAMES.get(ref) or ref.rsplit(".", 1)[1]
    t = s.get("type")
    if t == "array":
        return "[]" + _type_name(s.get("items", {}))
    if t == "object":
        if "additionalProperties" in s:
            return "map[string]" + _type_name(s["additionalProperties"])
        return "Object"
    return str(t) if t else "Object"


def field(info: KindInfo, path: str) -> Field:
    """The field at a dotted path below a kind (`spec.containers.livenessProbe`; the kind itself for "").
    Lists and maps are walked through to their items' type, as kubectl explain does."""
    name = definition_of(info)
    current = Field(info.kind, {"$ref": name})
    for part in [p for p in path.split(".") if p]:
        match = next((f for f in current.children() if f.name == part), None)
        if match is None:
            raise FieldNotFound(f'field "{part}" does not exist')  # kubectl explain's words
        current = match
    return current
