"""Sets of field paths, as structured-merge-diff's fieldpath.Set, kept in the shape managedFields' FieldsV1 has:
a trie keyed by path elements (`f:<name>`, `k:{<keys>}`, `v:<value>`, `i:<index>`), where "." marks a member.

Inside this package every member carries its "."; `from_fields_v1`/`to_fields_v1` convert at the edges, where a
member with no children is written `{}`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

Set = dict[str, Any]
"""A trie node: path element -> child node, and "." -> {} when the path that leads here is a member."""

MEMBER = "."


def from_fields_v1(fields: Any) -> Set:
    if not isinstance(fields, dict):
        return {}
    out: Set = {}
    for key, child in fields.items():
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        node = from_fields_v1(child)
        if not child:  # `{}` is a member with no children
            node[MEMBER] = {}
        out[key] = node
    return out


def to_fields_v1(s: Set) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, child in s.items():
        if key == MEMBER:
            continue
        if set(child) == {MEMBER}:
            out[key] = {}
        else:
            node = to_fields_v1(child)
            if MEMBER in child:
                node = {MEMBER: {}, **node}
            out[key] = node
    return out


def empty(s: Set) -> bool:
    return not s


def union(a: Set, b: Set) -> Set:
    if not a:
        return b
    if not b:
        return a
    out: Set = dict(a)
    for key, child in b.items():
        out[key] = child if key not in a else ({} if key == MEMBER else union(a[key], child))
    return out


def difference(a: Set, b: Set) -> Set:
    """The members of a that are not members of b."""
    if not a or not b:
        return a
    out: Set = {}
    for key, child in a.items():
        if key == MEMBER:
            if MEMBER not in b:
                out[MEMBER] = {}
            continue
        other = b.get(key)
        node = difference(child, other) if other is not None else child
        if node:
            out[key] = node
    return out


def intersection(a: Set, b: Set) -> Set:
    if not a or not b:
        return {}
    out: Set = {}
    for key, child in a.items():
        if key not in b:
            continue
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        node = intersection(child, b[key])
        if node:
            out[key] = node
    return out


def strip(a: Set, paths: Set) -> Set:
    """Set.Difference with a set of paths given as a trie: the same as `difference`, named for its use."""
    return difference(a, paths)


_ORDER = {"f": 0, "k": 1, "v": 2, "i": 3}
"""PathElement order in structured-merge-diff: field names, then keys, then values, then indexes."""


def _sort_key(element: str) -> tuple[int, str]:
    return _ORDER.get(element[:1], 9), element[2:]


def members(s: Set, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every member path, in Set.Iterate's order: the members at a level first, then each child's."""
    children = sorted((k for k in s if k != MEMBER), key=_sort_key)
    for key in children:
        if MEMBER in s[key]:
            yield (*prefix, key)
    for key in children:
        yield from members({k: v for k, v in s[key].items() if k != MEMBER}, (*prefix, key))


def path_string(path: tuple[str, ...]) -> str:
    """fieldpath.Path.String(): `.spec.containers[name="app"].image`, `[="x"]`, `[0]`."""
    out = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            out.append("." + rest)
        elif kind == "k":
            keys = json.loads(rest)
            out.append("[" + ",".join(f"{k}={_value_string(v)}" for k, v in sorted(keys.items())) + "]")
        elif kind == "v":
            out.append(f"[={_value_string(json.loads(rest))}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)


def _value_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def field(name: str) -> str:
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    return "k:" + json.dumps(keys, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def value_element(value: Any) -> str:
    return "v:" + json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def index_element(i: int) -> str:
    return f"i:{i}"


def make(*paths: tuple[str, ...]) -> Set:
    """A set of the given paths, each a tuple of path elements."""
    out: Set = {}
    for path in paths:
        node = out
        for element in path:
            node = node.setdefault(element, {})
        node[MEMBER] = {}
    return out
