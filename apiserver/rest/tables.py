"""meta.k8s.io/v1 Table output (what `kubectl get` asks for with `Accept: ...;as=Table`), from the same column
definitions and cells as the `kubemu` CLI (kubemu.cli.printers.table): one source for both."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from kubemu.api import kinds
from kubemu.api.serialization import message_to_dict, to_dict
from kubemu.cli import printers

_DESCRIPTIONS = {
    "Name": "Name must be unique within a namespace.",
    "Age": "CreationTimestamp is a timestamp representing the server time when this object was created.",
}
"""Our own short words for the columns every kind has (upstream copies the field's whole doc comment)."""

INCLUDE = ("None", "Metadata", "Object")


def column_definitions(kind: str) -> list[dict[str, Any]]:
    columns, _ = printers.table(kind, (), now=0.0)
    return [{"name": c.name, "type": c.type, "format": "name" if c.is_name else "",
             "description": _DESCRIPTIONS.get(c.name, ""), "priority": c.priority} for c in columns]


def _cell(column: printers.Column, text: str) -> Any:
    if column.type == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if column.type == "boolean" and text in ("true", "false"):
        return text == "true"
    return text


def partial_metadata(obj: Any) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": message_to_dict(obj.metadata)}


def rows(info: kinds.KindInfo, objects: Sequence[Any], include: str, dicts: Sequence[dict[str, Any]] | None = None
         ) -> list[dict[str, Any]]:
    """One row per object, with `object` as includeObject asks: none, its PartialObjectMetadata (the default), or
    the whole object (`dicts`, when the caller has them already as JSON values)."""
    columns, cells = printers.table(info.kind, objects, now=time.time())
    out = []
    for i, (obj, row) in enumerate(zip(objects, cells, strict=True)):
        r: dict[str, Any] = {"cells": [_cell(c, t) for c, t in zip(columns, row, strict=True)]}
        if include == "Object":
            r["object"] = dicts[i] if dicts is not None else to_dict(obj)
        elif include != "None":
            r["object"] = partial_metadata(obj)
        out.append(r)
    return out


def table(info: kinds.KindInfo, objects: Sequence[Any], include: str, metadata: dict[str, Any],
          with_columns: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    if with_columns:
        out["columnDefinitions"] = column_definitions(info.kind)
    out["rows"] = rows(info, objects, include)
    return out
