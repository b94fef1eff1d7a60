"""JSON patch (RFC 6902) over Kubernetes JSON documents, as kube-apiserver applies it: with the semantics of
gopkg.in/evanphx/json-patch.v4 (what upstream's patch handler uses), and upstream's errors.

Why not the `jsonpatch` package from PyPI: its operations differ from upstream's where kubectl users notice
(`replace` of a missing map key succeeds upstream, an `add` without `value` adds null, a path without the leading
slash is accepted), and every failure must become the same 422 anyway.
"""

from __future__ import annotations

import copy
from typing import Any

from kubemu.api.patch import errors

MAX_OPERATIONS = 10000
"""maxJSONPatchOperations in upstream's patch handler."""


class _Failed(Exception):
    pass


def _decode_key(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _container(doc: Any, path: str) -> tuple[Any, str]:
    """findObject: the map or list that holds the path's last element, and that element's key.
    Upstream drops the first segment without looking at it, so `data/b` means `/b`."""
    split = path.split("/")
    if len(split) < 2:
        raise _Failed(f"doc is missing path: {path!r}")
    node = doc
    for part in split[1:-1]:
        node = _get(node, _decode_key(part))
        if not isinstance(node, dict | list):
            raise _Failed(f"doc is missing path: {path!r}")
    return node, _decode_key(split[-1])


def _index(node: list[Any], key: str, *, insert: bool) -> int:
    try:
        i = int(key)
    except ValueError:
        raise _Failed(f"Unable to access invalid index: {key}") from None
    size = len(node) + (1 if insert else 0)
    if i < 0:
        if i < -size:
            raise _Failed(f"Unable to access invalid index: {i}")
        i += size
    if i >= size:
        raise _Failed(f"Unable to access invalid index: {i}")
    return i


def _get(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)  # a missing key reads as null, no error (partialDoc.get)
    if isinstance(node, list):
        return node[_index(node, key, insert=False)]
    raise _Failed("not a container")


def _add(node: Any, key: str, value: Any) -> None:
    if isinstance(node, dict):
        node[key] = value
    elif key == "-":
        node.append(value)
    else:
        node.insert(_index(node, key, insert=True), value)


def _remove(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        if key not in node:
            raise _Failed(f"Unable to remove nonexistent key: {key}: missing value")
        return node.pop(key)
    return node.pop(_index(node, key, insert=False))


def _path(op: dict[str, Any], name: str) -> str:
    value = op.get(name)
    if not isinstance(value, str):
        raise _Failed(f"{op.get('op')} operation failed to decode {name}")
    return value


def _apply_one(doc: Any, op: dict[str, Any]) -> None:
    kind = op.get("op")
    value = op.get("value")  # absent means null, as upstream reads it
    if kind == "add":
        node, key = _container(doc, _path(op, "path"))
        _add(node, key, copy.deepcopy(value))
    elif kind == "remove":
        node, key = _container(doc, _path(op, "path"))
        _remove(node, key)
    elif kind == "replace":
        node, key = _container(doc, _path(op, "path"))
        if isinstance(node, dict):
            node[key] = copy.deepcopy(value)
        else:
            node[_index(node, key, insert=False)] = copy.deepcopy(value)
    elif kind == "move":
        src, skey = _container(doc, _path(op, "from"))
        moved = _remove(src, skey)
        node, key = _container(doc, _path(op, "path"))
        _add(node, key, moved)
    elif kind == "copy":
        src, skey = _container(doc, _path(op, "from"))
        if isinstance(src, dict) and skey not in src:
            raise _Failed(f"copy operation does not apply: doc is missing from path: {op.get('from')}")
        node, key = _container(doc, _path(op, "path"))
        _add(node, key, copy.deepcopy(_get(src, skey)))
    elif kind == "test":
        node, key = _container(doc, _path(op, "path"))
        if _get(node, key) != value or (value is None) != (_get(node, key) is None):
            raise _Failed(f"testing value {op.get('path')} failed: test failed")
    else:
        raise _Failed(f"Unexpected kind: {kind}")


def json_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The document with the patch's operations applied in order, all or nothing; `doc` is not changed.

    A patch that is not a list of operations is a 400 (as upstream's decoding says), more than 10,000 operations a
    413, and any operation that does not apply a 422 with upstream's generic message."""
    if not isinstance(patch, list):
        raise _undecodable(patch, "[]handlers.jsonPatchOp")
    for op in patch:
        if not isinstance(op, dict):
            raise _undecodable(op, "handlers.jsonPatchOp")
    if len(patch) > MAX_OPERATIONS:
        raise errors.too_large(f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(patch)}")
    out = copy.deepcopy(doc)
    for op in patch:
        try:
            _apply_one(out, op)
        except (_Failed, IndexError) as e:
            raise errors.unprocessable(str(e)) from None
    if not isinstance(out, dict):
        raise errors.unprocessable("the patched document is not an object")
    return out


def _undecodable(value: Any, into: str) -> Exception:
    return errors.bad_request(f"error decoding patch: json: cannot unmarshal {errors.json_kind(value)} into Go "
                              f"value of type {into}")

