"""The shared node-matching rules: tolerations against taints, nodeSelector and required node affinity."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api.nodematch import spec_matches_node, tolerates, untolerated_taint
from kubemu.api.serialization import from_dict
from kubemu.pb import core_pb2

pytestmark = pytest.mark.unit


def node(**labels: str) -> core_pb2.Node:
    return from_dict({"apiVersion": "v1", "kind": "Node",  # type: ignore[no-any-return]
                      "metadata": {"name": "n1", "labels": labels}})


def spec(**fields: Any) -> core_pb2.PodSpec:
    pod = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": fields})
    return pod.spec  # type: ignore[no-any-return]


@pytest.mark.parametrize(("toleration", "ok"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, True),
    ({"key": "k", "value": "v"}, True),                      # empty effect matches every effect
    ({"key": "k", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                          # empty key with Exists matches every taint
    ({"key": "k", "value": "other"}, False),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"value": "v"}, False),                                 # empty key needs Exists
])
def test_tolerates(toleration: dict[str, str], ok: bool) -> None:
    taint = core_pb2.Taint(key="k", value="v", effect="NoSchedule")
    tol = spec(tolerations=[toleration]).tolerations
    assert tolerates(tol, taint) is ok
    assert (untolerated_taint([taint], tol, ("NoSchedule",)) is None) is ok


def test_node_selector_and_required_affinity() -> None:
    assert spec_matches_node(spec(nodeSelector={"gpu": "true"}), node(gpu="true"))
    assert not spec_matches_node(spec(nodeSelector={"gpu": "true"}), node())
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
    ]}}}
    assert spec_matches_node(spec(affinity=affinity), node(zone="b"))  # terms are ORed: the name term holds
    only_zone = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]}}}
    assert spec_matches_node(spec(affinity=only_zone), node(cores="8"))
    assert not spec_matches_node(spec(affinity=only_zone), node(cores="2"))
    empty = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    assert not spec_matches_node(spec(affinity=empty), node())  # a required selector with no terms: nowhere
