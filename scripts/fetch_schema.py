"""Fetch the API's schema from a running kube-apiserver into kubemu/api/schema/kubernetes.json.

The generator (scripts/gen_types.py) reads that file; run this only to move the pinned Kubernetes version:

    ../shared/k8s-peer/peer up && eval "$(../shared/k8s-peer/peer env)" && python scripts/fetch_schema.py

It asks `kubectl get --raw` for /version and every group version under /openapi/v3, merges their component
schemas, and keeps what the types need (types, formats, enums, defaults, required, list/map and patch metadata).
Upstream's descriptions are prose under upstream's copyright: they are dropped, never copied.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "kubemu" / "api" / "schema" / "kubernetes.json"
_KEEP = {
    "type", "format", "properties", "items", "additionalProperties", "$ref", "required", "enum", "default",
    "oneOf", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type",
    "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key", "x-kubernetes-group-version-kind",
    "x-kubernetes-unions", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
}
_REF = "#/components/schemas/"
_SCHEMAS = {"items", "additionalProperties", "oneOf"}
"""Keys whose values are schemas themselves (trimmed in turn)."""


def _raw(path: str) -> Any:
    out = subprocess.run(["kubectl", "get", "--raw", path], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def _trim(schema: Any) -> Any:
    """The schema without prose, with `allOf: [{$ref}]` (how kube-openapi wraps a reference that has a default
    or a description) folded into a plain `$ref`."""
    if isinstance(schema, list):
        return [_trim(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        out["$ref"] = all_of[0]["$ref"].removeprefix(_REF)
    for key, value in schema.items():
        if key not in _KEEP:
            continue
        if key == "$ref":
            out[key] = value.removeprefix(_REF)
        elif key == "properties":
            out[key] = {name: _trim(v) for name, v in sorted(value.items())}
        elif key in _SCHEMAS:
            out[key] = _trim(value)
        else:  # a value (enum, default, required, x-kubernetes-*), kept as it is
            out[key] = value
    return out


def fetch() -> dict[str, Any]:
    version = _raw("/version")
    definitions: dict[str, Any] = {}
    for path in sorted(_raw("/openapi/v3")["paths"]):
        if not (path == "api/v1" or (path.startswith("apis/") and path.count("/") == 2)):
            continue
        for name, schema in _raw(f"/openapi/v3/{path}").get("components", {}).get("schemas", {}).items():
            definitions.setdefault(name, _trim(schema))
    return {
        "source": "kube-apiserver /openapi/v3, descriptions removed (scripts/fetch_schema.py)",
        "gitVersion": version["gitVersion"],
        "definitions": dict(sorted(definitions.items())),
    }


if __name__ == "__main__":
    data = fetch()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    count, version = len(data["definitions"]), data["gitVersion"]
    print(f"{count} definitions from {version} -> {OUT.relative_to(ROOT)}", file=sys.stderr)
