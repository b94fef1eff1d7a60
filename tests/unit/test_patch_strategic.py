"""Strategic merge patch against kube-apiserver's own answers (tests/unit/patch_oracle.py says how they were
recorded), and its properties: a patch made of a document's own fields changes nothing, and without lists it is
the JSON merge patch."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubemu.api import errors
from kubemu.api.patch import merge_patch, strategic_merge_patch
from tests.unit import patch_oracle
from tests.unit.patch_documents import names, pods, scalars

pytestmark = pytest.mark.unit

TYPED_DECODE = {("smp-primitive", 5), ("smp-primitive", 6)}
"""Directives upstream's merge turns into a value of the wrong type (a `$deleteFromPrimitiveList/` that is not a
list, or names a map): decoding into the typed object then drops it. That decoding is the REST face's, not ours."""

DEPLOYMENT = patch_oracle.INFO["Deployment"]
POD = patch_oracle.INFO["Pod"]


@pytest.mark.parametrize(("case", "index", "kind", "step"), list(patch_oracle.steps("strategic")),
                         ids=lambda v: str(v) if isinstance(v, str | int) else "")
def test_a_patch_gives_what_kube_apiserver_gives(case: str, index: int, kind: str, step: dict[str, Any]) -> None:
    if (case, index) in TYPED_DECODE:
        pytest.skip("the typed decoding after the merge decides this one")
    try:
        out = strategic_merge_patch(patch_oracle.INFO[kind], step["before"], step["body"])
    except errors.StatusError as e:
        assert (e.code, e.to_status_dict()) == (step["status"], step["answer"])
        return
    assert step["status"] < 300, step["answer"]
    assert patch_oracle.as_typed(kind, out) == patch_oracle.as_typed(kind, step["answer"])


def test_finalizers_are_a_union_in_upstreams_order() -> None:
    doc = {"metadata": {"finalizers": ["a", "b", "c"]}}
    out = strategic_merge_patch(POD, doc, {"metadata": {"finalizers": ["d", "a"]}})
    assert out["metadata"]["finalizers"] == ["d", "a", "b", "c"]
    assert doc["metadata"]["finalizers"] == ["a", "b", "c"]


def test_a_list_without_merge_strategy_is_replaced_and_null_deletes() -> None:
    doc = {"spec": {"containers": [{"name": "a", "args": ["x"], "image": "i"}]}}
    out = strategic_merge_patch(POD, doc, {"spec": {"containers": [{"name": "a", "args": ["y"], "image": None}]}})
    assert out == {"spec": {"containers": [{"name": "a", "args": ["y"]}]}}


# ---- properties --------------------------------------------------------------------------------------------

def _part_of(draw: st.DrawFn, value: Any, list_keys: tuple[str, ...] = ()) -> Any:
    """Some of a document's own fields: maps keep a subset of keys; lists are kept whole (a list without merge
    strategy is replaced, so a part of it would not be the document's own value)."""
    if isinstance(value, dict):
        keys = [k for k in value if k in list_keys or draw(st.booleans())]
        return {k: _part_of(draw, value[k]) for k in keys}
    return value


@settings(max_examples=200, deadline=None)
@given(st.data(), pods())
def test_patching_a_document_with_its_own_fields_changes_nothing(data: st.DataObject, pod: dict[str, Any]) -> None:
    part = _part_of(data.draw, pod, ("spec",))
    assert strategic_merge_patch(POD, pod, part) == pod
    assert strategic_merge_patch(POD, pod, pod) == pod


json_values = st.recursive(scalars, lambda inner: st.dictionaries(names, inner, max_size=3), max_leaves=8)
patch_values = st.recursive(st.one_of(scalars, st.none()),
                            lambda inner: st.dictionaries(names, inner, max_size=3), max_leaves=8)


def _no_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _no_nulls(v) for k, v in value.items() if v is not None}
    return value


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(names, json_values, max_size=3), st.dictionaries(names, patch_values, max_size=3))
def test_without_lists_strategic_merge_is_json_merge(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    """Under an annotation map (a map of strings to anything the schema does not type), so that no schema field
    changes the rules. Nulls inside a new object are kept by strategic merge (upstream keeps them until the typed
    decoding drops them) and pruned by merge patch: the documents are compared without nulls."""
    doc_obj = {"metadata": {"name": "x"}, "spec": {"overhead": doc}}
    patch_obj = {"spec": {"overhead": patch}}
    assert _no_nulls(strategic_merge_patch(POD, doc_obj, patch_obj)) == _no_nulls(merge_patch(doc_obj, patch_obj))
