"""What a real kube-apiserver answered to the patches of tests/unit/test_patch_*.py, and the helpers that compare
our functions' results with those answers.

The answers are in tests/unit/data/patch_oracle.json, recorded by tests/unit/patch_oracle_record.py against the
k8s-peer (kube-apiserver 1.35 built from source): for each case, each step's request (create, a JSON, merge or
strategic merge patch, or a server-side apply with its field manager and force), the object as the server had it
just before (`before`, read with a GET) and its answer (status code and body) as they came.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubemu.api.kinds import KindInfo
from kubemu.api.patch import schema
from kubemu.api.patch.schema import MAP, Type

DATA = Path(__file__).parent / "data" / "patch_oracle.json"

INFO = {
    "ConfigMap": KindInfo("ConfigMap", "v1", "configmaps", ("cm",), True, object),
    "Deployment": KindInfo("Deployment", "apps/v1", "deployments", ("deploy",), True, object,
                           subresources=("scale", "status")),
    "Pod": KindInfo("Pod", "v1", "pods", ("po",), True, object, subresources=("status",)),
}
"""The kinds as the functions need them (ConfigMap is not served by kubemu yet, its schema is there)."""

VOLATILE = ("resourceVersion", "generation", "managedFields")


def cases() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DATA.read_text())
    return data


def steps(*ops: str) -> Iterator[tuple[str, int, str, dict[str, Any]]]:
    """(case, index, kind, step) of every recorded step of the given operations that had an object to work on."""
    for name, case in cases().items():
        if name.startswith("_"):
            continue
        for i, step in enumerate(case["steps"]):
            if step["op"] in ops:
                yield name, i, case["kind"], step


def without_volatile(obj: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in VOLATILE}
    return {**obj, "metadata": meta}


def typed(t: Type, value: Any) -> Any:
    """The value as it comes back from Go's typed object: nulls, empty maps of map type and empty lists omitted
    (omitempty), which is what decoding a patched document into the kind does upstream."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            f = t.field(k)
            v = typed(f, v)
            if v is None or v == [] or (v == {} and f.kind == MAP):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [typed(t.items, v) for v in value]
    return value


def as_typed(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = typed(schema.root(INFO[kind]), without_volatile(obj))
    return out


def subset(mine: Any, theirs: Any) -> bool:
    """Every field of `mine` is in `theirs` with the same value; `theirs` may have more (the server's defaults)."""
    if isinstance(mine, dict):
        return isinstance(theirs, dict) and all(k in theirs and subset(v, theirs[k]) for k, v in mine.items())
    if isinstance(mine, list):
        return isinstance(theirs, list) and len(mine) == len(theirs) and all(
            subset(a, b) for a, b in zip(mine, theirs, strict=True))
    return bool(mine == theirs)


def managed_fields(obj: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = obj.get("metadata", {}).get("managedFields") or []
    return out
