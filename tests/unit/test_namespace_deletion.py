"""The namespace controller's deletion conditions (status_condition_utils.go upstream) and the PriorityClass rules,
as pure functions."""

from __future__ import annotations

import pytest

from apiserver.apis.scheduling.priorityclass import validate_priority_class, validate_priority_class_update
from controllers.namespace import _Conditions
from kubemu.api.serialization import from_dict, time_value
from kubemu.pb import core_pb2, scheduling_pb2

pytestmark = pytest.mark.unit


def conditions(ns: core_pb2.Namespace) -> dict[str, tuple[str, str, str, float]]:
    return {c.type: (c.status, c.reason, c.message, time_value(c.last_transition_time)) for c in ns.status.conditions}


def test_a_pass_without_trouble_sets_the_five_good_conditions_once() -> None:
    ns = core_pb2.Namespace()
    assert _Conditions().apply(ns, 100.0)
    assert [c.type for c in ns.status.conditions] == [
        "NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining"]
    assert all(c.status == "False" for c in ns.status.conditions)
    assert conditions(ns)["NamespaceFinalizersRemaining"] == (
        "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished", 100.0)
    assert not _Conditions().apply(ns, 200.0)  # nothing changed: nothing to write


def test_remaining_content_and_failures_are_counted_sorted_and_timed_by_status() -> None:
    ns = core_pb2.Namespace()
    _Conditions().apply(ns, 100.0)
    c = _Conditions()
    c.content_totals({"pods.": 2, "configmaps.": 1}, {"example.com/b": 1, "example.com/a": 2})
    c.content_errors += ["unexpected items still remain in namespace: x for gvr: /v1, Resource=pods", "a failure"]
    assert c.apply(ns, 200.0)
    got = conditions(ns)
    assert got["NamespaceContentRemaining"] == (
        "True", "SomeResourcesRemain",
        "Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances", 200.0)
    assert got["NamespaceFinalizersRemaining"] == (
        "True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/a in 2 "
        "resource instances, example.com/b in 1 resource instances", 200.0)
    assert got["NamespaceDeletionContentFailure"] == (
        "True", "ContentDeletionFailed", "Failed to delete all resource types, 2 remaining: a failure, unexpected "
        "items still remain in namespace: x for gvr: /v1, Resource=pods", 200.0)
    assert got["NamespaceDeletionDiscoveryFailure"][3] == 100.0  # unchanged status keeps its transition time


def pc(name: str, value: int, **more: object) -> scheduling_pb2.PriorityClass:
    return from_dict({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",  # type: ignore[no-any-return]
                      "metadata": {"name": name}, "value": value, **more})


def messages(errs: list[object]) -> list[str]:
    return [str(e) for e in errs]


def test_priority_class_validation_says_what_upstream_says() -> None:
    assert messages(validate_priority_class(pc("big", 1000000001))) == [
        "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"]
    assert messages(validate_priority_class(pc("system-node-critical", 5))) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: value of system-node-critical PriorityClass must be 2000001000"]
    assert messages(validate_priority_class(pc("system-cluster-critical", 2000000000, globalDefault=True))) == [
        "metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. "
        "error: globalDefault of system-cluster-critical PriorityClass must be false"]
    assert messages(validate_priority_class(pc("x", 1, preemptionPolicy="Sometimes"))) == [
        'preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"']
    assert validate_priority_class(pc("system-node-critical", 2000001000)) == []
    old, new = pc("x", 1, preemptionPolicy="Never"), pc("x", 2, preemptionPolicy="PreemptLowerPriority")
    assert messages(validate_priority_class_update(new, old)) == [
        "value: Forbidden: may not be changed in an update.",
        'preemptionPolicy: Invalid value: "PreemptLowerPriority": field is immutable']
