"""JSON patch and JSON merge patch against kube-apiserver's own answers (tests/unit/patch_oracle.py says how they
were recorded), and the cases the oracle does not cover."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api import errors
from kubemu.api.patch import json_patch, merge_patch
from tests.unit import patch_oracle

pytestmark = pytest.mark.unit

SERVER_VALIDATION = {("json-ops", 9)}
"""Steps the server refused in validation, after the patch applied (a ConfigMap key with a slash): the patch
itself is right, validating the result is not the patch's business."""


def _run(op: str, before: dict[str, Any], body: Any) -> tuple[int, dict[str, Any]]:
    try:
        out = json_patch(before, body) if op == "json" else merge_patch(before, body)
    except errors.StatusError as e:
        return e.code, e.to_status_dict()
    return 200, out


@pytest.mark.parametrize(("case", "index", "kind", "step"),
                         [s for s in patch_oracle.steps("json", "merge") if s[0] in (
                             "json-ops", "json-lists", "merge", "merge-lists")],
                         ids=lambda v: str(v) if isinstance(v, str | int) else "")
def test_a_patch_gives_what_kube_apiserver_gives(case: str, index: int, kind: str, step: dict[str, Any]) -> None:
    if (case, index) in SERVER_VALIDATION:
        pytest.skip("refused by the server's validation of the result, not by the patch")
    code, out = _run(step["op"], step["before"], step["body"])
    assert code == step["status"] if step["status"] >= 300 else code == 200, out
    if step["status"] >= 300:
        assert out == step["answer"]
    else:
        assert patch_oracle.as_typed(kind, out) == patch_oracle.as_typed(kind, step["answer"])


def test_json_patch_leaves_its_input_alone_and_is_all_or_nothing() -> None:
    doc = {"data": {"a": "1"}}
    with pytest.raises(errors.Invalid):
        json_patch(doc, [{"op": "add", "path": "/data/b", "value": "2"}, {"op": "remove", "path": "/nope"}])
    assert doc == {"data": {"a": "1"}}
    assert json_patch(doc, [{"op": "add", "path": "/data/b", "value": "2"}]) == {"data": {"a": "1", "b": "2"}}
    assert doc == {"data": {"a": "1"}}


def test_json_patch_edges_as_upstream_reads_them() -> None:
    doc: dict[str, Any] = {"a": [1, 2], "m": {}}
    # An add without a value adds null; a path without its leading slash drops its first segment (findObject).
    assert json_patch(doc, [{"op": "add", "path": "/m/k"}]) == {"a": [1, 2], "m": {"k": None}}
    assert json_patch(doc, [{"op": "add", "path": "ignored/k", "value": 1}])["k"] == 1
    # Negative indexes count from the end of the list as it will be (json-patch v4 SupportNegativeIndices).
    assert json_patch(doc, [{"op": "add", "path": "/a/-1", "value": 9}])["a"] == [1, 2, 9]
    assert json_patch(doc, [{"op": "add", "path": "/a/-3", "value": 9}])["a"] == [9, 1, 2]
    assert json_patch(doc, [{"op": "test", "path": "/m/missing", "value": None}]) == doc
    with pytest.raises(errors.Invalid) as e:
        json_patch(doc, [{"op": "replace", "path": "/a/5", "value": 0}])
    assert e.value.to_status_dict()["details"] == {}


def test_more_than_ten_thousand_operations_is_a_413() -> None:
    with pytest.raises(errors.RequestEntityTooLarge) as e:
        json_patch({}, [{"op": "test", "path": "/a", "value": None}] * 10001)
    assert e.value.code == 413
    assert e.value.message == ("Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
                               "got 10001")


def test_merge_patch_prunes_nulls_in_new_objects_and_replaces_lists() -> None:
    doc = {"a": {"b": 1}, "l": [1, 2]}
    patch = {"a": {"b": None, "c": 2}, "n": {"x": None, "y": {"z": None}}, "l": [3]}
    assert merge_patch(doc, patch) == {"a": {"c": 2}, "n": {"y": {}}, "l": [3]}
    assert doc == {"a": {"b": 1}, "l": [1, 2]}
