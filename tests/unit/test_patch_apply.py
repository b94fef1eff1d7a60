"""Server-side apply and managedFields against kube-apiserver's own answers (tests/unit/patch_oracle.py says how
they were recorded): the applied object, every managedFields entry (fieldsV1 included), conflict messages and
causes, and the Update entries of creates and patches; then field sets on their own, and the cost of a write."""

from __future__ import annotations

import cProfile
import pstats
from typing import Any

import pytest
from hypothesis import given, settings

from kubemu.api import errors
from kubemu.api.patch import apply, fieldpath, record_update
from kubemu.api.patch.apply import compare, to_field_set
from kubemu.api.patch.schema import root
from tests.unit import patch_oracle
from tests.unit.patch_documents import pods

pytestmark = pytest.mark.unit

NO_TIME = "1970-01-01T00:00:00Z"
SERVER_SET = ("namespace", "uid", "creationTimestamp")


def _time_of(answer: dict[str, Any], manager: str) -> str:
    """The time the server recorded for the manager: our functions are given the same `now`."""
    for entry in patch_oracle.managed_fields(answer):
        if entry["manager"] == manager:
            return str(entry.get("time", NO_TIME))
    return NO_TIME


def _entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return patch_oracle.managed_fields(obj)


def _without_meta(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _causes_sorted(status: dict[str, Any]) -> dict[str, Any]:
    """Upstream lists the causes of conflicts with several managers in Go's map order, which is random."""
    details = status.get("details")
    if not details or "causes" not in details:
        return status
    causes = sorted(details["causes"], key=lambda c: (c.get("field", ""), c.get("message", "")))
    return {**status, "details": {**details, "causes": causes}}


def _container_left_without_image(out: dict[str, Any]) -> None:
    """The owner stops applying container "app" and its image, but another manager still owns the container's env
    and name: the item stays, without its image; the server's validation then refuses it (422: image Required)."""
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app", "side"]
    assert "image" not in containers[0] and containers[0]["env"] == [{"name": "X", "value": "1"}]


REFUSED_BY_VALIDATION = {("ssa-lists", 6): _container_left_without_image}
"""Applies whose result the server's validation refused: the apply itself is checked by what it must have made."""


@pytest.mark.parametrize(("case", "index", "kind", "step"), list(patch_oracle.steps("apply")),
                         ids=lambda v: str(v) if isinstance(v, str | int) else "")
def test_an_apply_gives_what_kube_apiserver_gives(case: str, index: int, kind: str, step: dict[str, Any]) -> None:
    info = patch_oracle.INFO[kind]
    answer = step["answer"]
    now = _time_of(answer, step["manager"]) if step["status"] < 300 else NO_TIME
    try:
        out = apply(info, step["before"], step["body"], step["manager"], step["force"], now)
    except errors.StatusError as e:
        assert (e.code, _causes_sorted(e.to_status_dict())) == (step["status"], _causes_sorted(answer))
        return
    if (case, index) in REFUSED_BY_VALIDATION:
        REFUSED_BY_VALIDATION[case, index](out)
        return
    assert step["status"] < 300, answer
    assert _entries(out) == _entries(answer)
    if step["before"] is None:  # a create: the server fills in who and when
        answer = {**answer, "metadata": {k: v for k, v in answer["metadata"].items() if k not in SERVER_SET}}
    if kind == "ConfigMap":  # no defaults: the object is exactly the server's
        assert patch_oracle.as_typed(kind, out) == patch_oracle.as_typed(kind, answer)
    else:  # the server defaults what the configuration adds: ours is the server's without those defaults
        assert patch_oracle.subset(_without_meta(patch_oracle.as_typed(kind, out)),
                                   _without_meta(patch_oracle.as_typed(kind, answer)))


def _before_admission(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """A created pod as the field manager saw it: the peer's admission plugins (ServiceAccount, Priority,
    DefaultTolerationSeconds) change it afterwards, and their changes are no one's."""
    if kind != "Pod":
        return obj
    spec = {k: v for k, v in obj["spec"].items() if k not in (
        "serviceAccount", "serviceAccountName", "tolerations", "priority", "preemptionPolicy")}
    spec["volumes"] = [v for v in spec["volumes"] if not v["name"].startswith("kube-api-access-")]
    spec["containers"] = [{k: v for k, v in c.items() if k != "volumeMounts"} for c in spec["containers"]]
    return {**obj, "spec": spec}


WRITES = list(patch_oracle.steps("create", "merge", "strategic", "json", "merge-status"))


@pytest.mark.parametrize(("case", "index", "kind", "step"), WRITES,
                         ids=lambda v: str(v) if isinstance(v, str | int) else "")
def test_a_write_records_what_kube_apiserver_records(case: str, index: int, kind: str, step: dict[str, Any]) -> None:
    """The managedFields of a create or a patch, given the object the server made (the patch itself is tested in
    test_patch_json and test_patch_strategic)."""
    if step["status"] >= 300:
        return
    answer = step["answer"]
    manager = step["manager"] or "unknown"
    new = {**answer, "metadata": {k: v for k, v in answer["metadata"].items() if k != "managedFields"}}
    if step["op"] == "create":
        new = _before_admission(kind, new)
    subresource = "status" if step["op"].endswith("-status") else ""
    out = record_update(patch_oracle.INFO[kind], step["before"], new, manager, _time_of(answer, manager),
                        subresource)
    assert _entries(out) == _entries(answer)


DEPLOYMENT = patch_oracle.INFO["Deployment"]
CM = patch_oracle.INFO["ConfigMap"]


def _cm(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}


def test_apply_and_update_leave_their_inputs_alone() -> None:
    live = apply(CM, None, _cm(a="1"), "alice", False, "2026-01-01T00:00:00Z")
    snapshot = repr(live)
    config = _cm(a="2")
    with pytest.raises(errors.Conflict):
        apply(CM, live, config, "bob", False, "2026-01-01T00:00:01Z")
    forced = apply(CM, live, config, "bob", True, "2026-01-01T00:00:01Z")
    assert repr(live) == snapshot and config == _cm(a="2")
    assert forced["data"] == {"a": "2"} and [e["manager"] for e in _entries(forced)] == ["bob"]
    updated = record_update(CM, forced, {**forced, "data": {"a": "3"}}, "kubectl-edit", "2026-01-01T00:00:02Z")
    assert [(e["manager"], e["operation"]) for e in _entries(updated)] == [("kubectl-edit", "Update")]


def test_an_object_never_tracked_stays_untracked_on_update_and_starts_with_before_first_apply() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "uid": "u"}, "data": {"a": "1"}}
    assert "managedFields" not in record_update(CM, live, {**live, "data": {"a": "2"}}, "x", NO_TIME)["metadata"]
    out = apply(CM, live, _cm(b="2"), "alice", False, NO_TIME)
    assert {e["manager"] for e in _entries(out)} == {"alice", "before-first-apply"}


def test_more_than_ten_update_managers_fold_the_oldest_into_ancient_changes() -> None:
    obj = apply(CM, None, _cm(a="0"), "applier", False, "2026-01-01T00:00:00Z")
    for i in range(12):
        new = {**obj, "data": {**obj["data"], f"k{i}": str(i)}}
        obj = record_update(CM, obj, new, f"writer-{i:02}", f"2026-01-01T00:01:{i:02}Z")
    entries = _entries(obj)
    updates = [e for e in entries if e["operation"] == "Update"]
    assert len(updates) == 10 and [e["manager"] for e in entries if e["operation"] == "Apply"] == ["applier"]
    ancient = next(e for e in updates if e["manager"] == "ancient-changes")
    assert set(ancient["fieldsV1"]["f:data"]) == {"f:k0", "f:k1", "f:k2"}
    assert ancient["time"] == "2026-01-01T00:01:02Z"


def test_field_sets_round_trip_fields_v1_and_print_upstreams_paths() -> None:
    fields = {"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
              "f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}}},
                         "f:finalizers": {'v:"x"': {}}}}
    s = fieldpath.from_fields_v1(fields)
    assert fieldpath.to_fields_v1(s) == fields
    printed = [fieldpath.path_string(p) for p in fieldpath.members(s)]
    assert printed == ['.metadata.labels', '.metadata.labels.app', '.spec.containers[name="app"]',
                       '.spec.containers[name="app"].image', '.spec.finalizers[="x"]']
    assert fieldpath.difference(s, fieldpath.from_fields_v1(fields)) == {}
    assert fieldpath.union(s, {}) == s and fieldpath.intersection(s, s) == s


def _deployment(n: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"app": "d"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": f"c{i}", "image": "nginx", "env": [{"name": f"E{j}", "value": str(j)} for j in range(20)],
                 "ports": [{"containerPort": 80 + j, "protocol": "TCP"} for j in range(5)]}
                for i in range(n)]}}}}


def test_the_cost_of_apply_grows_with_the_object_not_faster() -> None:
    """apply and record_update run on every write of a managed object: ten times the object is about ten times the
    work (a quadratic walk would be a hundred). Work is counted as Python function calls (cProfile's total), which
    is the same on every run, rather than timed, which a shared machine makes noisy."""
    def cost(n: int) -> int:
        config = _deployment(n)
        live = apply(DEPLOYMENT, None, config, "a", False, NO_TIME)
        profile = cProfile.Profile()
        profile.enable()
        out = apply(DEPLOYMENT, live, config, "b", True, NO_TIME)
        record_update(DEPLOYMENT, out, out, "c", NO_TIME)
        profile.disable()
        return int(pstats.Stats(profile).total_calls)  # type: ignore[attr-defined]

    small, big = cost(4), cost(40)
    assert big < small * 30, (small, big)


def test_compare_and_field_sets_of_a_create() -> None:
    t = root(DEPLOYMENT)
    config = _deployment(1)
    s = to_field_set(t, config)
    assert fieldpath.to_fields_v1(s)["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c0"}'][
        "f:ports"]['k:{"containerPort":80,"protocol":"TCP"}'] == {".": {}, "f:containerPort": {}, "f:protocol": {}}
    cmp = compare(t, {}, config)
    assert not cmp.removed and not cmp.modified and "f:spec" in cmp.added


POD = patch_oracle.INFO["Pod"]


@settings(max_examples=100, deadline=None)
@given(pods(), pods())
def test_applying_a_configuration_again_changes_nothing(config: dict[str, Any], other: dict[str, Any]) -> None:
    created = apply(POD, None, config, "a", False, "2026-01-01T00:00:00Z")
    meta = {k: v for k, v in created["metadata"].items() if k != "managedFields"}
    assert {**created, "metadata": meta} == config  # from nothing, the object is the configuration
    assert apply(POD, created, config, "a", False, "2026-01-01T00:00:09Z") == created  # not even the time moves
    # Another manager forces its configuration; ours, forced back, gives our values back and is then stable.
    mixed = apply(POD, created, other, "b", True, "2026-01-01T00:00:01Z")
    back = apply(POD, mixed, config, "a", True, "2026-01-01T00:00:02Z")
    assert apply(POD, back, config, "a", False, "2026-01-01T00:00:03Z") == back
    images = {c["name"]: c["image"] for c in back["spec"]["containers"]}
    assert all(images[c["name"]] == c["image"] for c in config["spec"]["containers"])
    assert back["metadata"]["labels"].items() >= config["metadata"]["labels"].items()
