"""Strategic merge patch, applied as upstream's apimachinery pkg/util/strategicpatch/patch.go applies it
(StrategicMergeMapPatch: mergeMap with MergeParallelList and IgnoreUnmatchedNulls), with the patch metadata read
from the API schema: lists merged by `x-kubernetes-patch-merge-key` where `x-kubernetes-patch-strategy` says
`merge`, `$patch` directives, `$setElementOrder/`, `$deleteFromPrimitiveList/`, `$retainKeys`, null deletes.

The functions follow upstream's, name for name, so that a difference can be found by reading both side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubemu.api.kinds import KindInfo
from kubemu.api.patch import errors, schema
from kubemu.api.patch.schema import Type

DIRECTIVE = "$patch"
REPLACE = "replace"
MERGE = "merge"
DELETE = "delete"
RETAIN_KEYS = "$retainKeys"
RETAIN_KEYS_STRATEGY = "retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# mergepatch's sentinel errors: upstream's patch handler answers each with its own status.
ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_PATCH_FORMAT_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_PATCH_FORMAT_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_PATCH_CONTENT_NOT_MATCH_RETAIN_KEYS = "patch content doesn't match retainKeys list"
_BAD_REQUEST = {ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST, ERR_BAD_PATCH_FORMAT_RETAIN_KEYS,
                ERR_BAD_PATCH_FORMAT_SET_ELEMENT_ORDER}
_UNPROCESSABLE = {ERR_NO_LIST_OF_LISTS, ERR_PATCH_CONTENT_NOT_MATCH_RETAIN_KEYS}


class PatchError(Exception):
    """A Go error inside the merge; `interpret` turns it into the Status upstream answers."""


def interpret(e: PatchError) -> Exception:
    """interpretStrategicMergePatchError: the sentinels are 400 or 422, anything else a 500 with the message."""
    message = str(e)
    if message in _BAD_REQUEST:
        return errors.bad_request(message)
    if message in _UNPROCESSABLE:
        return errors.unprocessable(message)
    return errors.internal(message)


def strategic_merge_patch(info: KindInfo, doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The document with the strategic merge patch applied, by the kind's schema; neither argument is changed."""
    if not isinstance(patch, dict):
        raise errors.bad_request(f"json: cannot unmarshal {errors.json_kind(patch)} into Go value of type "
                                 "map[string]interface {}")
    return strategic_merge_map(schema.root(info), doc, patch)


def strategic_merge_map(t: Type, doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """StrategicMergeMapPatch over a schema Type (any struct, not only a kind's root)."""
    try:
        return _merge_map(_copy(doc), _copy(patch), t)
    except PatchError as e:
        raise interpret(e) from None


# ---- helpers ---------------------------------------------------------------------------------------------------


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value



def _kind(value: Any) -> str:
    """reflect.Kind of a decoded JSON value, as the merge compares them."""
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    return "nil"


def _key(value: Any) -> Any:
    """A hashable stand-in for a scalar that is equal where Go's interface == is (1 and 1.0, not 1 and true)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, dict | list):
        return ("x", id(value))  # Go would panic comparing these; identity keeps us from matching them
    return ("s", value)


def _eq(a: Any, b: Any) -> bool:
    return bool(_key(a) == _key(b))


def _no_merge_key(m: dict[str, Any], key: str) -> PatchError:
    return PatchError(f"map: {errors.go_format(m)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> PatchError:
    return PatchError(f"expected a {expected}, but received a {errors.go_type(actual)}")


def _bad_patch_type(directive: Any, m: dict[str, Any]) -> PatchError:
    return PatchError(f"unknown patch type: {errors.go_format(directive)} in map: {errors.go_format(m)}")


def _retain_keys_strategy(t: Type) -> str:
    """extractRetainKeysPatchStrategy: the strategy left once retainKeys is taken out."""
    strategies = t.patch_strategies
    if len(strategies) == 0:
        return ""
    if len(strategies) == 1:
        return "" if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
    if len(strategies) == 2 and RETAIN_KEYS_STRATEGY in strategies:
        return strategies[1] if strategies[0] == RETAIN_KEYS_STRATEGY else strategies[0]
    raise PatchError(f"unexpected patch strategy: [{' '.join(strategies)}]")


def _slice_element_kind(*slices: list[Any]) -> str:
    """sliceElementType: the one kind of every element of the slices."""
    prev: str | None = None
    for s in slices:
        for v in s:
            kind = _kind(v)
            if prev is None:
                prev = kind
                if kind == "slice":
                    raise PatchError(ERR_NO_LIST_OF_LISTS)
            elif prev != kind:
                raise PatchError("list element types are not identical: "
                                 + errors.go_format([list(x) for x in slices]))
    if prev is None:
        raise PatchError("no elements in any of the given slices")
    return prev


# ---- mergeMap --------------------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], t: Type) -> dict[str, Any]:
    if DIRECTIVE in patch:
        return _handle_directive_in_merge_map(patch[DIRECTIVE], patch)
    if original is None:
        original = {}
    _apply_retain_keys_directive(original, patch)
    _merge_patch_into_original(original, patch, t)

    for k, patch_v in list(patch.items()):
        is_delete_list = False
        if k.startswith(DELETE_FROM_PRIMITIVE_LIST):
            k = _extract_key(k, DELETE_FROM_PRIMITIVE_LIST)
            is_delete_list = True
        if patch_v is None:
            original.pop(k, None)
            continue  # IgnoreUnmatchedNulls
        if k not in original:
            original[k] = patch_v
            continue
        original_kind, patch_kind = _kind(original[k]), _kind(patch_v)
        if original_kind != patch_kind:
            original[k] = patch_v
            continue
        field = t.field(k)
        strategy = _retain_keys_strategy(field)
        if original_kind == "map":
            original[k] = patch_v if strategy == REPLACE else _merge_map(original[k], patch_v, field)
        elif original_kind == "slice":
            original[k] = _merge_slice_handler(original[k], patch_v, field, strategy, field.patch_merge_key,
                                               is_delete_list)
        else:
            original[k] = patch_v
    return original


def _handle_directive_in_merge_map(directive: Any, patch: dict[str, Any]) -> dict[str, Any]:
    if directive == REPLACE:
        del patch[DIRECTIVE]
        return patch
    if directive == DELETE:
        return {}
    raise _bad_patch_type(directive, patch)


def _extract_key(s: str, prefix: str) -> str:
    parts = s.split("/", 1)
    if len(parts) <= 1 or parts[0] != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise PatchError(ERR_BAD_PATCH_FORMAT_PRIMITIVE_LIST)
        if prefix == SET_ELEMENT_ORDER:
            raise PatchError(ERR_BAD_PATCH_FORMAT_SET_ELEMENT_ORDER)
        raise PatchError(f"fail to find unknown prefix {prefix!r} in {s}\n")
    return parts[1]


def _apply_retain_keys_directive(original: dict[str, Any], patch: dict[str, Any]) -> None:
    """applyRetainKeysDirective: clear the keys of original the directive does not list."""
    if RETAIN_KEYS not in patch:
        return
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list):
        raise PatchError(ERR_BAD_PATCH_FORMAT_RETAIN_KEYS)
    keep = {_key(v) for v in retain}
    for k, v in patch.items():
        if v is None or k.startswith(DELETE_FROM_PRIMITIVE_LIST) or k.startswith(SET_ELEMENT_ORDER):
            continue
        if _key(k) not in keep:
            raise PatchError(ERR_BAD_PATCH_FORMAT_RETAIN_KEYS)
    for k in list(original):
        if _key(k) not in keep:
            del original[k]


def _merge_patch_into_original(original: dict[str, Any], patch: dict[str, Any], t: Type) -> None:
    """mergePatchIntoOriginal: each `$setElementOrder/<list>` with its list, merged and put in that order."""
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        original_key = _extract_key(key, SET_ELEMENT_ORDER)
        found_original, found_patch = original_key in original, original_key in patch
        original_value: list[Any] = []
        patch_value: list[Any] = []
        if found_original:
            if not isinstance(original[original_key], list):
                raise _bad_arg_type("[]interface {}", original[original_key])
            original_value = original[original_key]
        if found_patch:
            if not isinstance(patch[original_key], list):
                raise _bad_arg_type("[]interface {}", patch[original_key])
            patch_value = patch[original_key]
        field = t.field(original_key)
        strategy = _retain_keys_strategy(field)
        merge_key = field.patch_merge_key
        _validate_patch_with_set_order_list(patch_value, order, merge_key)

        if found_original and not found_patch:
            merged = original_value
        elif not found_original and found_patch:
            merged = patch_value
        elif found_original and found_patch:
            merged = _merge_slice_handler(_copy(original_value), patch_value, field, strategy, merge_key, False)
        else:
            continue
        if not merge_key:
            patch_items, server_only = _partition_primitives(merged, order)
        else:
            patch_items, server_only = _partition_maps(merged, order, merge_key)
        kind = _slice_element_kind(original_value, patch_value)
        original[original_key] = _normalize_element_order(patch_items, server_only, order, original_value,
                                                          merge_key, kind)
        patch.pop(original_key, None)


def _validate_patch_with_set_order_list(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    if not order or not patch_list:
        return
    non_delete = _extract_to_delete_items(patch_list)[0] if merge_key else patch_list
    pi = si = 0
    while pi < len(non_delete) and si < len(order):
        item = non_delete[pi]
        if isinstance(item, dict) and DIRECTIVE in item:
            pi += 1
            continue
        if _merge_key_value_equal(item, order[si], merge_key):
            pi += 1
        si += 1
    if pi < len(non_delete) and si >= len(order):
        raise PatchError(f"The order in patch list:\n{errors.go_format(patch_list)}\n doesn't match "
                         f"{SET_ELEMENT_ORDER} list:\n{errors.go_format(order)}\n")


def _merge_key_value_equal(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _eq(left, right)
    if not isinstance(left, dict):
        raise _bad_arg_type("map[string]interface {}", left)
    if not isinstance(right, dict):
        raise _bad_arg_type("map[string]interface {}", right)
    if merge_key not in left:
        raise _no_merge_key(left, merge_key)
    if merge_key not in right:
        raise _no_merge_key(right, merge_key)
    return _eq(left[merge_key], right[merge_key])


def _extract_to_delete_items(items: list[Any]) -> tuple[list[Any], list[Any]]:
    keep: list[Any] = []
    delete: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        (delete if v.get(DIRECTIVE) == DELETE else keep).append(v)
    return keep, delete


def _partition_primitives(items: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    present = {_key(v) for v in by}
    patch = [v for v in items if _key(v) in present]
    server_only = [v for v in items if _key(v) not in present]
    return patch, server_only


def _partition_maps(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    present = {_key(v.get(merge_key)) for v in by if isinstance(v, dict) and merge_key in v}
    patch: list[Any] = []
    server_only: list[Any] = []
    for v in items:
        if not isinstance(v, dict):
            raise _bad_arg_type("map[string]interface {}", v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (patch if _key(v[merge_key]) in present else server_only).append(v)
    return patch, server_only


# ---- merging lists ---------------------------------------------------------------------------------------------


def _merge_slice_handler(original: Any, patch: Any, field: Type, strategy: str, merge_key: str,
                         is_delete_list: bool) -> list[Any]:
    if not isinstance(original, list):
        raise _bad_arg_type("[]interface {}", original)
    if not isinstance(patch, list):
        raise _bad_arg_type("[]interface {}", patch)
    if strategy == MERGE:
        return _merge_slice(original, patch, field.items, merge_key, is_delete_list)
    return patch


def _merge_slice(original: list[Any], patch: list[Any], elem: Type, merge_key: str,
                 is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kind = _slice_element_kind(original, patch)
    if kind != "map":
        if is_delete_list:
            return _delete_from_slice(original, patch)
        merged = _deduplicate_scalars(original + patch)
    else:
        if not merge_key:
            raise PatchError("cannot merge lists without merge key for type struct")
        original, patch = _merge_slice_with_special_elements(original, patch, merge_key)
        merged = _merge_slice_without_special_elements(original, patch, merge_key, elem)
    if not merge_key:
        patch_items, server_only = _partition_primitives(merged, patch)
    else:
        patch_items, server_only = _partition_maps(merged, patch, merge_key)
    return _normalize_element_order(patch_items, server_only, patch, original, merge_key, kind)


def _merge_slice_with_special_elements(original: list[Any], patch: list[Any],
                                       merge_key: str) -> tuple[list[Any], list[Any]]:
    without: list[Any] = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            without.append(v)
            continue
        directive = v[DIRECTIVE]
        if directive == DELETE:
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
            original = [o for o in original if not (isinstance(o, dict) and merge_key in o
                                                    and _eq(o[merge_key], v[merge_key]))]
        elif directive == REPLACE:
            replace = True
        elif directive == MERGE:
            raise PatchError("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, v)
    if replace:
        return without, []
    return original, without


def _merge_slice_without_special_elements(original: list[Any], patch: list[Any], merge_key: str,
                                          elem: Type) -> list[Any]:
    # Go appends to a new slice header: the caller's `original` keeps its length (and is the server order later),
    # while merged items are written through to the shared elements.
    original = list(original)
    for v in patch:
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        for i, o in enumerate(original):
            if not isinstance(o, dict):
                raise PatchError(f"value for key {i} is not a map.")
            if merge_key in o and _eq(o[merge_key], v[merge_key]):
                original[i] = _merge_map(o, v, elem)
                break
        else:
            original.append(v)
    return original


def _delete_from_slice(current: list[Any], to_delete: list[Any]) -> list[Any]:
    gone = {_key(v) for v in to_delete}
    return [v for v in current if _key(v) not in gone]


def _deduplicate_scalars(s: list[Any]) -> list[Any]:
    """deduplicateScalars, its swapping included: the order it leaves is what normalizeElementOrder then sorts."""
    s = list(s)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if _eq(s[i], s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


# ---- order -----------------------------------------------------------------------------------------------------


def _value_fn(merge_key: str, kind: str) -> Callable[[Any], Any]:
    if kind == "map":
        return lambda item: _key(item.get(merge_key)) if isinstance(item, dict) else _key(None)
    return _key


def _positions(items: list[Any], fn: Callable[[Any], Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for i, v in enumerate(items):
        out.setdefault(fn(v), i)
    return out


def _normalize_slice_order(to_sort: list[Any], order: list[Any], merge_key: str, kind: str) -> list[Any]:
    to_delete: list[Any] = []
    if kind == "map":
        for lst in (to_sort, order):
            for item in lst:
                if not isinstance(item, dict):
                    raise _bad_arg_type("map[string]interface {}", item)
                if merge_key not in item:
                    raise _no_merge_key(item, merge_key)
        to_sort, to_delete = _extract_to_delete_items(to_sort)
    fn = _value_fn(merge_key, kind)
    where = _positions(order, fn)
    indexes = [where.get(fn(v), -1) for v in to_sort]
    if -1 not in indexes:
        ranked = sorted(range(len(to_sort)), key=lambda i: indexes[i])
    else:
        ranked = _go_insertion_sort(indexes)
    return [to_sort[i] for i in ranked] + to_delete


def _go_insertion_sort(indexes: list[int]) -> list[int]:
    """sort.SliceStable with normalizeSliceOrder's less (true whenever either item is not in the order), which is
    not a strict order: Go's insertion sort is what gives its answer, so do what it does."""
    ranked = list(range(len(indexes)))

    def less(a: int, b: int) -> bool:
        ia, ib = indexes[a], indexes[b]
        return not (ia >= 0 and ib >= 0) or ia < ib

    for i in range(1, len(ranked)):
        j = i
        while j > 0 and less(ranked[j], ranked[j - 1]):
            ranked[j], ranked[j - 1] = ranked[j - 1], ranked[j]
            j -= 1
    return ranked


def _normalize_element_order(patch: list[Any], server_only: list[Any], patch_order: list[Any],
                             server_order: list[Any], merge_key: str, kind: str) -> list[Any]:
    patch = _normalize_slice_order(patch, patch_order, merge_key, kind)
    server_only = _normalize_slice_order(server_only, server_order, merge_key, kind)
    return _merge_sorted_slice(server_only, patch, server_order, merge_key, kind)


def _merge_sorted_slice(left: list[Any], right: list[Any], server_order: list[Any], merge_key: str,
                        kind: str) -> list[Any]:
    fn = _value_fn(merge_key, kind)
    where = _positions(server_order, fn)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = where.get(fn(left[i]), -1), where.get(fn(right[j]), -1)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


__all__ = ["PatchError", "strategic_merge_map", "strategic_merge_patch"]

