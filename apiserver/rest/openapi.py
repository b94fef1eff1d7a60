"""The OpenAPI documents kubectl reads (explain, client-side apply): /openapi/v2 (swagger 2.0), /openapi/v3 (an
index) and /openapi/v3/<api/v1|apis/g/v>, from kubemu/api/schema/kubernetes.json, built once and kept as bytes."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from apiserver.rest import discovery
from apiserver.rest.status import encode
from kubemu.api import kinds, openapi

_COMMON = (
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
)
"""Definitions every group-version's document carries beside its kinds' (what its verbs take and answer)."""

_EXTRA: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "v1"): ("io.k8s.api.core.v1.Binding",),
}

_SCALE = "io.k8s.api.autoscaling.v1.Scale"


def _roots(infos: Iterable[kinds.KindInfo]) -> list[str]:
    defs = openapi.definitions()
    out: list[str] = []
    for info in infos:
        try:
            name = openapi.definition_of(info)
        except openapi.FieldNotFound:
            continue
        out.append(name)
        if f"{name}List" in defs:
            out.append(f"{name}List")
        if "scale" in info.subresources:
            out.append(_SCALE)
        out.extend(_EXTRA.get((info.group, info.version), ()))
    out.extend(_COMMON)
    return list(dict.fromkeys(n for n in out if n in defs))


def _refs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def reachable(roots: Iterable[str]) -> list[str]:
    """Every definition the roots refer to, transitively, sorted."""
    defs = openapi.definitions()
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        todo.extend(_refs(defs[name]))
    return sorted(seen)


def _rewrite(node: Any, ref: Callable[[str], str], v3: bool) -> Any:
    """The schema with `$ref` as a JSON pointer; in v3 a reference with siblings (a default) goes inside `allOf`,
    as kube-openapi writes it, since OpenAPI 3.0 ignores the siblings of a `$ref`."""
    if isinstance(node, dict):
        out = {k: _rewrite(v, ref, v3) for k, v in node.items() if k != "$ref"}
        target = node.get("$ref")
        if isinstance(target, str):
            if v3 and out:
                return {"allOf": [{"$ref": ref(target)}], **out}
            return {"$ref": ref(target), **out}
        return out
    if isinstance(node, list):
        return [_rewrite(v, ref, v3) for v in node]
    return node


def _info() -> dict[str, Any]:
    return {"title": "Kubernetes", "version": str(openapi.schema().get("gitVersion", "unversioned"))}


@functools.cache
def v2() -> bytes:
    """swagger 2.0 with the definitions of every served kind and their read paths."""
    names = reachable(_roots(kinds.all_kinds()))
    defs = openapi.definitions()
    ref: Callable[[str], str] = lambda r: f"#/definitions/{r}"  # noqa: E731
    out = {"swagger": "2.0", "info": _info(), "paths": paths(kinds.all_kinds(), ref, False),
           "definitions": {n: _rewrite(defs[n], ref, False) for n in names}}
    return encode(out)


def _path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


_WRITE_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation")


def _operation(info: kinds.KindInfo, action: str, schema: str, ref: Callable[[str], str], v3: bool) -> dict[str, Any]:
    """One operation, with what clients look kinds up by: kubectl explain finds a resource's schema through the
    `x-kubernetes-group-version-kind` of the `get` on its path, and kubectl's query parameter verifier asks
    whether the `patch` of a kind takes `fieldValidation` before it sends it."""
    target = {"$ref": ref(schema)}
    if v3:
        response: dict[str, Any] = {"description": "OK", "content": {"application/json": {"schema": target}}}
    else:
        response = {"description": "OK", "schema": target}
    op: dict[str, Any] = {}
    if action in ("patch", "put", "post"):
        op["parameters"] = [{"name": n, "in": "query", **({"schema": {"type": "string"}} if v3 else {"type": "string"})}
                            for n in _WRITE_PARAMETERS]
    op.update({"responses": {"200": response, "401": {"description": "Unauthorized"}}, "x-kubernetes-action": action,
               "x-kubernetes-group-version-kind": {"group": info.group, "version": info.version, "kind": info.kind}})
    return op


def paths(infos: Iterable[kinds.KindInfo], ref: Callable[[str], str], v3: bool) -> dict[str, Any]:
    """The paths of each kind (its object and its collection), with what clients read there: the kind of each
    operation and the query parameters of its writes (the rest of upstream's parameters are left out)."""
    defs = openapi.definitions()
    out: dict[str, Any] = {}
    for info in infos:
        try:
            name = openapi.definition_of(info)
        except openapi.FieldNotFound:
            continue
        prefix = f"/{_path(info.group, info.version)}"
        collection = f"{prefix}/namespaces/{{namespace}}/{info.plural}" if info.namespaced else \
            f"{prefix}/{info.plural}"
        out[f"{collection}/{{name}}"] = {verb: _operation(info, action, name, ref, v3)
                                         for verb, action in (("get", "get"), ("put", "put"), ("patch", "patch"))}
        out[collection] = {"post": _operation(info, "post", name, ref, v3)}
        if f"{name}List" in defs:
            out[collection]["get"] = _operation(info, "list", f"{name}List", ref, v3)
    return out


@functools.cache
def v3(group: str, version: str) -> bytes | None:
    """The OpenAPI 3.0 document of one group-version, or None when it serves nothing."""
    infos = discovery.kinds_of(group, version)
    if not infos:
        return None
    defs = openapi.definitions()
    ref: Callable[[str], str] = lambda r: f"#/components/schemas/{r}"  # noqa: E731
    schemas = {n: _rewrite(defs[n], ref, True) for n in reachable(_roots(infos))}
    return encode({"openapi": "3.0.0", "info": _info(), "paths": paths(infos, ref, True),
                   "components": {"schemas": schemas}})


def v3_hash(group: str, version: str) -> str:
    doc = v3(group, version)
    return hashlib.sha512(doc or b"").hexdigest().upper()[:128]


@functools.cache
def v3_index() -> bytes:
    """/openapi/v3: each group-version's path and the URL to fetch it by (with its hash, as upstream, so clients
    may cache it)."""
    paths = {}
    for group, versions in discovery.group_versions().items():
        for version in versions:
            p = _path(group, version)
            paths[p] = {"serverRelativeURL": f"/openapi/v3/{p}?hash={v3_hash(group, version)}"}
    return encode({"paths": paths})
