"""JSON merge patch (RFC 7386) over Kubernetes JSON documents, as kube-apiserver applies it (evanphx/json-patch's
MergePatch): objects merge key by key, null deletes, anything else (lists included) replaces."""

from __future__ import annotations

import copy
from typing import Any

from kubemu.api.patch import errors


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


def _merge(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
        elif isinstance(value, dict):
            current = doc.get(key)
            doc[key] = _merge(current, value) if isinstance(current, dict) else _prune_nulls(value)
        else:
            doc[key] = copy.deepcopy(value)
    return doc


def merge_patch(doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The document with the merge patch applied; `doc` is not changed. A patch that is not a JSON object is a 400,
    with the words of upstream's decoding."""
    if not isinstance(patch, dict):
        raise errors.bad_request("error decoding patch: json: cannot unmarshal "
                                 f"{errors.json_kind(patch)} into Go value of type map[string]interface {{}}")
    return _merge(copy.deepcopy(doc), patch)

