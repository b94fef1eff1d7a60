"""Server-side apply and managedFields, as kube-apiserver does them with apimachinery's
pkg/util/managedfields (the field manager chain) over structured-merge-diff (typed merge, compare, field sets):
`apply` merges a configuration into the live object by the schema's list and map types, drops what its manager
applied before and no longer does, and refuses fields other managers own with another value (409) unless forced;
`record_update` records the fields a create, update or patch changed as an `Update` entry of its manager.

Both walk each document a bounded number of times: their cost is proportional to the object's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from kubemu.api.errors import BadRequest, Cause, Conflict, StatusError, new_apply_conflict
from kubemu.api.kinds import KindInfo
from kubemu.api.patch import fieldpath as fp
from kubemu.api.patch import schema
from kubemu.api.patch.fieldpath import MEMBER, Set
from kubemu.api.patch.schema import LIST, MAP, STRUCT, Type

APPLY, UPDATE = "Apply", "Update"
CURRENT_OPERATION = "current-operation"
BEFORE_FIRST_APPLY = "before-first-apply"
"""The manager the fields of an object that had no managedFields are given to on its first apply."""

_STRIP = fp.make(
    ("f:apiVersion",), ("f:kind",), ("f:metadata",), ("f:metadata", "f:name"), ("f:metadata", "f:namespace"),
    ("f:metadata", "f:creationTimestamp"), ("f:metadata", "f:selfLink"), ("f:metadata", "f:uid"),
    ("f:metadata", "f:clusterName"), ("f:metadata", "f:generation"), ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:resourceVersion"),
)
"""stripMetaManager's set: fields no manager owns (removed exactly, not their children)."""

_ABSENT: Any = object()


@dataclass(frozen=True)
class Entry:
    """One managedFields entry: who (manager, operation, apiVersion of an Update, subresource) owns which fields."""

    manager: str
    operation: str
    api_version: str
    fields: Set
    time: str | None = None
    subresource: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        """BuildManagerIdentifier: an Update's apiVersion is part of who its manager is; an Apply's is not."""
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "",
                self.subresource)

    def printed(self) -> str:
        """printManager in upstream's conflict messages: `"kubectl-edit" using apps/v1`."""
        out = _go_quote(self.manager)
        if self.subresource:
            out += f" with subresource {_go_quote(self.subresource)}"
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fp.to_fields_v1(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


Managers = dict[tuple[str, str, str, str], Entry]


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode_managed_fields(obj: dict[str, Any] | None) -> Managers:
    out: Managers = {}
    if obj is None:
        return out
    for e in (obj.get("metadata") or {}).get("managedFields") or ():
        if not isinstance(e, dict):
            continue
        entry = Entry(str(e.get("manager", "")), str(e.get("operation", "")), str(e.get("apiVersion", "")),
                      fp.from_fields_v1(e.get("fieldsV1") or {}), e.get("time"), str(e.get("subresource", "")))
        out[entry.key] = entry
    return out


def encode_managed_fields(managers: Managers) -> list[dict[str, Any]]:
    """The entries with fields, in sortEncodedManagedFields' order: Apply before Update, then oldest first."""
    entries = [e for e in managers.values() if e.fields]
    entries.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.to_dict() for e in entries]


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return obj
    return {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _with_managed_fields(obj: dict[str, Any], managers: Managers) -> dict[str, Any]:
    entries = encode_managed_fields(managers)
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    if entries:
        meta["managedFields"] = entries
    return {**obj, "metadata": meta}


# ---- the schema's view of a value -------------------------------------------------------------------------------


def _shape(t: Type, value: Any) -> str:
    """How structured-merge-diff treats the value here: struct/map (granular), list (set or map), or a leaf."""
    if isinstance(value, dict) and t.kind in (STRUCT, MAP, schema.UNTYPED) and not t.atomic_map:
        return "map"
    if isinstance(value, list) and t.kind == LIST and t.list_type != "atomic":
        return "list"
    return "leaf"


def _item_element(t: Type, item: Any, index: int) -> str:
    """listItemToPathElement: a map-list item by its keys (a missing key takes its schema default), a set item by
    its value."""
    if t.list_type == "set":
        return fp.value_element(item)
    keys: dict[str, Any] = {}
    if isinstance(item, dict):
        for k in t.map_keys:
            if k in item:
                keys[k] = item[k]
            else:
                default = t.items.field(k).default
                if default is not None:
                    keys[k] = default
    if not keys:
        return fp.index_element(index)
    return fp.key_element(keys)


def _items(t: Type, value: list[Any]) -> dict[str, Any]:
    """The list's items by path element; a duplicate keeps the first (upstream refuses duplicates on apply)."""
    out: dict[str, Any] = {}
    for i, item in enumerate(value):
        out.setdefault(_item_element(t, item, i), item)
    return out


# ---- ToFieldSet ------------------------------------------------------------------------------------------------


def to_field_set(t: Type, value: Any) -> Set:
    """The fields a value sets: leaves, atomic lists and maps as a whole, list items, map entries, empty maps."""
    node: Set = {}
    shape = _shape(t, value)
    if shape == "map":
        if not value:
            return {MEMBER: {}}
        for k, v in value.items():
            child = to_field_set(t.field(k), v)
            if not t.has_field(k):
                child = {**child, MEMBER: {}}
            if child:
                node[fp.field(k)] = child
        return node
    if shape == "list":
        if not value:
            return {MEMBER: {}}
        for pe, item in _items(t, value).items():
            node[pe] = {**to_field_set(t.items, item), MEMBER: {}}
        return node
    granular = (t.kind in (STRUCT, MAP) and not t.atomic_map) or (t.kind == LIST and t.list_type != "atomic")
    if value is None and granular:
        return node  # a null map or list sets nothing; a null scalar or atomic value is set to null
    return {MEMBER: {}}


def _ensure_named_fields_are_members(t: Type, s: Set) -> Set:
    out: Set = {}
    for key, child in s.items():
        if key == MEMBER:
            out[MEMBER] = {}
            continue
        if key.startswith("f:"):
            name = key[2:]
            sub = _ensure_named_fields_are_members(t.field(name), child)
            if t.has_field(name):
                sub = {**sub, MEMBER: {}}
        else:
            sub = _ensure_named_fields_are_members(t.items, child)
        out[key] = sub
    return out


# ---- Compare ---------------------------------------------------------------------------------------------------


@dataclass
class Comparison:
    added: Set
    removed: Set
    modified: Set


def _implicit(t: Type, name: str) -> bool:
    """Whether a field absent from a document is there all the same in Go's view of the object: a struct that is
    not a pointer (its schema defaults it to {}), or a required list or map (serialized as null)."""
    f = t.field(name)
    if f.kind == STRUCT and f.default == {}:
        return True
    return f.kind in (LIST, MAP) and name in t.required()


def compare(t: Type, lhs: Any, rhs: Any) -> Comparison:
    """TypedValue.Compare: the fields added, removed and modified from lhs to rhs (both present)."""
    added, removed, modified = _compare(t, lhs, rhs, True, True)
    return Comparison(added, removed, modified)


def _shapes(t: Type, lhs: Any, rhs: Any, has_l: bool, has_r: bool) -> tuple[str | None, str | None]:
    """Each side's shape; a null takes the other side's, as a null map or list is an empty one to the walkers."""
    shape_l = _shape(t, lhs) if has_l and lhs is not None else None
    shape_r = _shape(t, rhs) if has_r and rhs is not None else None
    if has_l and lhs is None:
        shape_l = shape_r or "leaf"
    if has_r and rhs is None:
        shape_r = shape_l or "leaf"
    return shape_l, shape_r


def _compare(t: Type, lhs: Any, rhs: Any, has_l: bool, has_r: bool) -> tuple[Set, Set, Set]:
    shape_l, shape_r = _shapes(t, lhs, rhs, has_l, has_r)
    shape = shape_r or shape_l
    empty_l = not has_l or lhs is None or lhs == {} or lhs == []
    empty_r = not has_r or rhs is None or rhs == {} or rhs == []
    if shape == "leaf" or (shape_l and shape_r and shape_l != shape_r) or (empty_l and empty_r):
        if not has_l:
            return {MEMBER: {}}, {}, {}
        if not has_r:
            return {}, {MEMBER: {}}, {}
        if lhs != rhs or (type(lhs) is not type(rhs) and not (_number(lhs) and _number(rhs))):
            return {}, {}, {MEMBER: {}}
        return {}, {}, {}
    added: Set = {}
    removed: Set = {}
    modified: Set = {}

    def put(pe: str, a: Set, r: Set, m: Set) -> None:
        if a:
            added[pe] = a
        if r:
            removed[pe] = r
        if m:
            modified[pe] = m

    if shape == "map":
        lmap = lhs if has_l and isinstance(lhs, dict) else {}
        rmap = rhs if has_r and isinstance(rhs, dict) else {}
        for k, lv in lmap.items():
            in_r = k in rmap
            put(fp.field(k), *_compare(t.field(k), lv, rmap.get(k), True,
                                       in_r or (has_r and _implicit(t, k))))
        for k, rv in rmap.items():
            if k not in lmap:
                put(fp.field(k), *_compare(t.field(k), None, rv, has_l and _implicit(t, k), True))
    else:
        litems = _items(t, lhs) if has_l and isinstance(lhs, list) else {}
        ritems = _items(t, rhs) if has_r and isinstance(rhs, list) else {}
        for pe, lv in litems.items():
            put(pe, *_compare(t.items, lv, ritems.get(pe), True, pe in ritems))
        for pe, rv in ritems.items():
            if pe not in litems:
                put(pe, *_compare(t.items, None, rv, False, True))
    # postItemHook: a map or list that appears or disappears as a whole is itself added or removed.
    if not has_l:
        added[MEMBER] = {}
    elif not has_r:
        removed[MEMBER] = {}
    return added, removed, modified


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


# ---- Merge -----------------------------------------------------------------------------------------------------


def merge(t: Type, lhs: Any, rhs: Any) -> Any:
    """TypedValue.Merge: rhs (the applied configuration) over lhs (the live object), by the schema."""
    return _merge(t, lhs, rhs, True, True)


def _merge(t: Type, lhs: Any, rhs: Any, has_l: bool, has_r: bool) -> Any:
    shape_l, shape_r = _shapes(t, lhs, rhs, has_l, has_r)
    empty_l = not has_l or lhs is None or lhs == {} or lhs == []
    empty_r = not has_r or rhs is None or rhs == {} or rhs == []
    if not has_l or not has_r or shape_l != shape_r or shape_r == "leaf" or (empty_l and empty_r):
        return rhs if has_r else lhs
    if lhs is None or rhs is None:
        return rhs
    if shape_r == "map":
        out: dict[str, Any] = {}
        for k, lv in lhs.items():
            out[k] = _merge(t.field(k), lv, rhs.get(k), True, k in rhs)
        for k, rv in rhs.items():
            if k not in lhs:
                out[k] = rv
        return out
    return _merge_list(t, lhs, rhs)


def _merge_list(t: Type, lhs: list[Any], rhs: list[Any]) -> list[Any]:
    """visitListItems of the merging walker: live items keep their places, shared items follow the configuration's
    order, new items go where the configuration puts them."""
    lpes = [_item_element(t, item, i) for i, item in enumerate(lhs)]
    rpes = [_item_element(t, item, i) for i, item in enumerate(rhs)]
    lobs: dict[str, Any] = {}
    for pe, item in zip(lpes, lhs, strict=True):
        lobs.setdefault(pe, item)
    robs: dict[str, Any] = {}
    for pe, item in zip(rpes, rhs, strict=True):
        robs.setdefault(pe, item)
    shared = [pe for pe in rpes if pe in lobs]
    shared_i = 0
    next_shared = shared[0] if shared else None
    merged: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    items = t.items

    def take(pe: str) -> None:
        lv, rv = lobs.get(pe, _ABSENT), robs.get(pe, _ABSENT)
        out.append(_merge(items, None if lv is _ABSENT else lv, None if rv is _ABSENT else rv,
                          lv is not _ABSENT, rv is not _ABSENT))

    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes):
            pe = lpes[li]
            if pe == rpes[ri]:
                merged.add(pe)
                take(pe)
                li += 1
                ri += 1
                shared_i += 1
                next_shared = shared[shared_i] if shared_i < len(shared) else None
                continue
            if pe in robs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in robs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            merged.add(pe)
            take(pe)
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_i += 1
                next_shared = shared[shared_i] if shared_i < len(shared) else None
    return out


# ---- RemoveItems -----------------------------------------------------------------------------------------------


def remove_items(t: Type, value: Any, s: Set) -> Any:
    """TypedValue.RemoveItems: the value without the members of s; a map or list left empty goes (_ABSENT)."""
    if not s:
        return value
    shape = _shape(t, value)
    if shape == "map":
        if not value:
            return value
        out: dict[str, Any] = {}
        for k, v in value.items():
            child = s.get(fp.field(k))
            if child is None:
                out[k] = v
            elif MEMBER in child:
                continue
            else:
                kept = remove_items(t.field(k), v, child)
                if kept is not _ABSENT:
                    out[k] = kept
        return out if out else _ABSENT
    if shape == "list":
        if not value:
            return value
        items: list[Any] = []
        for i, item in enumerate(value):
            child = s.get(_item_element(t, item, i))
            if child is None:
                items.append(item)
            elif MEMBER in child:
                continue
            else:
                kept = remove_items(t.items, item, child)
                if kept is not _ABSENT:
                    items.append(kept)
        return items if items else _ABSENT
    return value


def _remove(t: Type, obj: dict[str, Any], s: Set) -> dict[str, Any]:
    out = remove_items(t, obj, s)
    return {} if out is _ABSENT else out


# ---- the Updater -----------------------------------------------------------------------------------------------


def _ignored(info: KindInfo, subresource: str) -> tuple[str, ...]:
    """The strategies' reset fields (GetResetFields) that managedFields do not track: a kind with a status
    subresource keeps status out of its main resource's entries, and spec out of its status entries."""
    if "status" not in info.subresources:
        return ()
    return ("f:spec",) if subresource == "status" else ("f:status",)


def _without(s: Set, ignored: tuple[str, ...]) -> Set:
    """RecursiveDifference with whole top-level fields."""
    if not ignored or not any(k in s for k in ignored):
        return s
    return {k: v for k, v in s.items() if k not in ignored}


def _update(t: Type, old: dict[str, Any], new: dict[str, Any], managers: Managers, workflow: tuple[str, ...],
            force: bool, ignored: tuple[str, ...]) -> tuple[Managers, Comparison]:
    """Updater.update: other managers lose the fields that were removed; fields they own that this change adds or
    modifies are conflicts (an error unless forced; forced, they lose them)."""
    cmp = Comparison(*(_without(s, ignored) for s in _compare(t, old, new, True, True)))
    changed = fp.union(cmp.modified, cmp.added)
    out: Managers = {}
    conflicts: list[tuple[Entry, Set]] = []
    for key, entry in managers.items():
        if key == workflow:
            out[key] = entry
            continue
        conflict = fp.intersection(entry.fields, changed)
        if conflict:
            conflicts.append((entry, conflict))
        if cmp.removed:
            entry = replace(entry, fields=fp.difference(entry.fields, cmp.removed))
        out[key] = entry
    if conflicts and not force:
        raise _Conflicts(conflicts)
    for entry, conflict in conflicts:
        out[entry.key] = replace(out[entry.key], fields=fp.difference(out[entry.key].fields, conflict))
    return {k: e for k, e in out.items() if e.fields or k == workflow}, cmp


class _Conflicts(Exception):
    """merge.Conflicts: what the last-applied manager looks at before it becomes the 409."""

    def __init__(self, conflicts: list[tuple[Entry, Set]]) -> None:
        super().__init__("conflicts")
        self.conflicts = conflicts


def _conflict_error(conflicts: list[tuple[Entry, Set]]) -> Conflict:
    """internal.NewConflictError: one cause per field, the message grouped by manager."""
    found = sorted(((e.printed(), fp.path_string(p)) for e, s in conflicts for p in fp.members(s)),
                   key=lambda c: c[0])
    causes = [Cause("FieldManagerConflict", f"conflict with {who}", path) for who, path in found]
    if len(found) == 1:
        message = f"Apply failed with 1 conflict: conflict with {found[0][0]}: {found[0][1]}"
    else:
        lines: list[str] = []
        for who in sorted({w for w, _ in found}):
            lines.append(f"conflicts with {who}:")
            lines.extend(f"- {path}" for w, path in found if w == who)
        message = f"Apply failed with {len(found)} conflicts: " + "\n".join(lines)
    return new_apply_conflict(causes, message)


def _prune(t: Type, merged: dict[str, Any], managers: Managers, last: Set) -> dict[str, Any]:
    """Updater.prune: drop what the applier owned before and no longer applies, unless another manager owns it."""
    if not last:
        return merged
    last_e = _ensure_named_fields_are_members(t, last)
    pruned = _remove(t, merged, last_e)
    # addBackOwnedItems
    managed: Set = {}
    for entry in managers.values():
        managed = fp.union(managed, entry.fields)
    merged_set = _ensure_named_fields_are_members(t, to_field_set(t, merged))
    pruned_set = _ensure_named_fields_are_members(t, to_field_set(t, pruned))
    managed_e = _ensure_named_fields_are_members(t, managed)
    pruned = _remove(t, merged, fp.difference(merged_set, fp.union(pruned_set, managed_e)))
    # addBackDanglingItems
    pruned_set = _ensure_named_fields_are_members(t, to_field_set(t, pruned))
    return _remove(t, merged, fp.intersection(fp.difference(merged_set, pruned_set), last_e))


def _check_config(info: KindInfo, config: Any) -> None:
    if not isinstance(config, dict):
        raise BadRequest("error decoding patch: json: cannot unmarshal array into Go value of type "
                         "map[string]interface {}" if isinstance(config, list) else "error decoding patch")
    api_version, kind = config.get("apiVersion"), config.get("kind")
    if api_version != info.api_version or kind != info.kind:
        group, _, version = str(api_version or "").rpartition("/")
        raise BadRequest(f"invalid object type: {group}/{version}, Kind={kind or ''}")
    if (config.get("metadata") or {}).get("managedFields") is not None:
        raise BadRequest("metadata.managedFields must be nil")


def _typed_errors(t: Type, value: Any, path: str, out: list[str]) -> None:
    """What structured-merge-diff refuses when it makes the typed patch object: two list items with the same key,
    a number field that is not a number. (Other type errors are the REST face's decoding's to find.)"""
    if value is None:
        return
    shape = _shape(t, value)
    if shape == "map":
        for k, v in value.items():
            _typed_errors(t.field(k), v, f"{path}.{k}", out)
    elif shape == "list":
        seen: set[str] = set()
        for i, item in enumerate(value):
            pe = _item_element(t, item, i)
            if pe in seen:
                out.append(f"{path}: duplicate entries for key {fp.path_string((pe,))}")
            seen.add(pe)
            _typed_errors(t.items, item, path + fp.path_string((pe,)), out)
    elif t.definition.get("type") in ("integer", "number") and "$ref" not in t.schema and not _number(value):
        out.append(f"{path}: expected numeric (int or float), got {_go_type_name(value)}")


def _go_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "[]interface {}"


def apply(info: KindInfo, live: dict[str, Any] | None, config: dict[str, Any], manager: str, force: bool,
          now: str) -> dict[str, Any]:
    """Server-side apply of `config` by `manager` onto `live` (None to create): the new object with its
    managedFields, or Conflict (409, upstream's message and one FieldManagerConflict cause per field) when the
    configuration changes fields other managers own, unless `force` takes them over. `now` is the RFC 3339 time
    recorded for the manager when the object changes. Neither argument is changed."""
    _check_config(info, config)
    t = schema.root(info)
    problems: list[str] = []
    _typed_errors(t, config, "", problems)
    if problems:
        meta = config.get("metadata") or {}
        where = f"{meta.get('namespace', '')}/{meta.get('name', '')}; {info.api_version}, Kind={info.kind}"
        what = problems[0] if len(problems) == 1 else "\n".join(["errors:", *("  " + p for p in problems)])
        raise StatusError(f"failed to create typed patch object ({where}): {what}", reason="", code=500)
    managers = decode_managed_fields(live)
    live_doc = _without_managed_fields(live) if live is not None else {}
    if live is not None and not managers:
        # skipNonAppliedManager: an object no one tracked yet is first given to before-first-apply.
        managers = _record(t, info, {}, live_doc, managers, BEFORE_FIRST_APPLY, now, "")
    try:
        obj, managers = _apply(t, info, live_doc, managers, config, manager, force, now)
    except _Conflicts as e:
        # lastAppliedManager: kubectl's server-side apply may take over, without --force-conflicts, the fields
        # its client-side apply set and nobody changed since (kubectl apply, then kubectl apply --server-side).
        allowed = _allowed_from_last_applied(t, live_doc) if manager == KUBECTL else None
        if allowed is None:
            raise _conflict_error(e.conflicts) from None
        rest = [(entry, fp.difference(s, allowed)) for entry, s in e.conflicts]
        rest = [(entry, s) for entry, s in rest if s]
        if rest:
            raise _conflict_error(rest) from None
        obj, managers = _apply(t, info, live_doc, managers, config, manager, True, now)
    if manager == KUBECTL:
        obj = _update_last_applied(obj, config)
    return _with_managed_fields(obj, _cap(managers))


def _apply(t: Type, info: KindInfo, live_doc: dict[str, Any], managers: Managers, config: dict[str, Any],
           manager: str, force: bool, now: str) -> tuple[dict[str, Any], Managers]:
    """structuredMergeManager.Apply over Updater.Apply, with the strip and time steps of the managers around it."""
    key = (manager, APPLY, "", "")
    previous = managers.get(key)
    merged = merge(t, live_doc, config)
    ignored = _ignored(info, "")
    new_entry = Entry(manager, APPLY, info.api_version, _without(to_field_set(t, config), ignored),
                      previous.time if previous else None)
    managers = {**managers, key: new_entry}
    pruned = _prune(t, merged, managers, previous.fields if previous else {})
    managers, _ = _update(t, live_doc, pruned, managers, key, force, ignored)
    entry = managers[key]
    changed = pruned != live_doc
    managers[key] = replace(entry, fields=fp.strip(entry.fields, _STRIP), time=now if changed else entry.time)
    if not managers[key].fields:
        del managers[key]
    return pruned, managers


KUBECTL = "kubectl"
"""The field manager of `kubectl apply --server-side`: the only one the last-applied annotation is kept for."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _allowed_from_last_applied(t: Type, live: dict[str, Any]) -> Set | None:
    """allowedConflictsFromLastApplied: the fields of the last client-side applied configuration whose live value
    is still the one it applied; None without that annotation."""
    text = ((live.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict):
        return None
    return fp.difference(to_field_set(t, last), _compare(t, last, live, True, True)[2])


def _update_last_applied(obj: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """lastAppliedUpdater: where kubectl's client-side apply left its annotation, it becomes this configuration,
    as UnstructuredJSONScheme encodes it (keys sorted, HTML characters escaped, a newline at the end)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED not in annotations:
        return obj
    meta = dict(config.get("metadata") or {})
    kept = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if kept:
        meta["annotations"] = kept
    else:
        meta.pop("annotations", None)
    text = json.dumps({**config, "metadata": meta}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
    return {**obj, "metadata": {**obj["metadata"], "annotations": {**annotations, LAST_APPLIED: text}}}


MAX_UPDATE_MANAGERS = 10
ANCIENT_CHANGES = "ancient-changes"


def _cap(managers: Managers) -> Managers:
    """capManagersManager: past ten Update entries, the oldest are merged, per apiVersion, into one
    `ancient-changes` entry, which takes the time of the newest update merged into it."""
    updaters = [e for e in managers.values() if e.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managers
    updaters.sort(key=lambda e: (e.time or "", e.manager, e.api_version, e.subresource))
    out = dict(managers)
    first: dict[str, Entry] = {}
    length = len(updaters)
    for entry in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        if entry.api_version not in first:
            first[entry.api_version] = entry
            continue
        bucket = (ANCIENT_CHANGES, UPDATE, entry.api_version, "")
        if bucket not in out:
            out[bucket] = replace(out.pop(first[entry.api_version].key), manager=ANCIENT_CHANGES, subresource="")
        out[bucket] = replace(out[bucket], fields=fp.union(entry.fields, out[bucket].fields), time=entry.time)
        del out[entry.key]
        length -= 1
    return out


def _record(t: Type, info: KindInfo, old: dict[str, Any], new: dict[str, Any], managers: Managers, manager: str,
            now: str, subresource: str) -> Managers:
    """managedFieldsUpdater.Update over Updater.Update: the change's own fields under current-operation, then
    merged into the manager's Update entry, whose time is set only when the change took any field."""
    workflow = (CURRENT_OPERATION, UPDATE, info.api_version, subresource)
    managers, cmp = _update(t, old, new, managers, workflow, True, _ignored(info, subresource))
    managers.pop(workflow, None)
    own = fp.strip(fp.union(cmp.modified, cmp.added), _STRIP)
    key = (manager, UPDATE, info.api_version, subresource)
    if own:
        previous = managers.get(key)
        fields = fp.union(own, previous.fields) if previous else own
        managers[key] = Entry(manager, UPDATE, info.api_version, fields, now, subresource)
    return managers


def record_update(info: KindInfo, old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: str,
                  subresource: str = "") -> dict[str, Any]:
    """The managedFields of a create (old None), update or patch by `manager`: `new` with the fields the write
    added or changed recorded in the manager's Update entry, taken from other managers, and removed fields dropped
    from everyone's. managedFields sent in `new` replace the old ones (an empty list resets them); an existing
    object that has none stays untracked, as upstream. Neither argument is changed."""
    t = schema.root(info)
    sent = (new.get("metadata") or {}).get("managedFields")
    managers = decode_managed_fields(new) if sent is not None else decode_managed_fields(old)
    new_doc = _without_managed_fields(new)
    if old is not None and not managers:
        return new_doc
    old_doc = _without_managed_fields(old) if old is not None else {}
    managers = _record(t, info, old_doc, new_doc, managers, manager, now, subresource)
    return _with_managed_fields(new_doc, _cap(managers))


__all__ = ["Comparison", "Entry", "apply", "compare", "decode_managed_fields", "encode_managed_fields", "merge",
           "record_update", "remove_items", "to_field_set"]
