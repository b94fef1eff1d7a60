"""The node-level filter and score plugins (NodeName, NodeUnschedulable, TaintToleration, NodeAffinity,
NodePorts, ImageLocality) on plain objects, with cases and expected values taken from upstream's unit tests."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.pb import core_pb2
from scheduler.framework import UNRESOLVABLE, UNSCHEDULABLE, NodeInfo, Snapshot
from scheduler.plugins.image_locality import image_locality, normalized_image_name
from scheduler.plugins.node_affinity import ERR_REASON_CONFLICT, ERR_REASON_POD, node_affinity, pre_filter_node_names
from scheduler.plugins.node_name import node_name
from scheduler.plugins.node_ports import node_ports
from scheduler.plugins.node_unschedulable import node_unschedulable
from scheduler.plugins.taint_toleration import taint_toleration

pytestmark = pytest.mark.unit

MB = 1024 * 1024


def make_node(name: str = "node1", labels: dict[str, str] | None = None, **spec: Any) -> core_pb2.Node:
    status = spec.pop("status", {})
    return from_dict({"apiVersion": "v1", "kind": "Node",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "labels": labels or {}}, "spec": spec, "status": status})


def make_pod(name: str = "p", containers: list[dict[str, Any]] | None = None, **spec: Any) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": "default"},
                      "spec": {"containers": containers or [{"name": "c", "image": "x"}], **spec}})


def info(node: core_pb2.Node, *pods: core_pb2.Pod) -> NodeInfo:
    return NodeInfo.build(node, pods)


def snapshot_of(*nodes: NodeInfo) -> Snapshot:
    return Snapshot(list(nodes))


def scores(plugin: Any, pod: core_pb2.Pod, snap: Snapshot) -> dict[str, int]:
    raw = {n.name: plugin.score(pod, n, snap) for n in snap.nodes}
    return plugin.normalize(pod, raw, snap)  # type: ignore[no-any-return]


# --- NodeName (nodename/node_name_test.go TestNodeName) ---


def test_node_name_fits_when_unset_or_equal() -> None:
    n = info(make_node("foo"))
    # "no host specified" and "host matches"
    assert node_name.filter(make_pod(), n, snapshot_of(n)).ok
    assert node_name.filter(make_pod(nodeName="foo"), n, snapshot_of(n)).ok


def test_node_name_rejects_another_node_unresolvably() -> None:
    # "host doesn't match"
    n = info(make_node("foo"))
    st = node_name.filter(make_pod(nodeName="bar"), n, snapshot_of(n))
    assert (st.code, st.reasons, st.plugin) == (
        UNRESOLVABLE, ("node(s) didn't match the requested node name",), "NodeName")


# --- NodeUnschedulable (nodeunschedulable/node_unschedulable_test.go TestNodeUnschedulable) ---


def test_unschedulable_node_rejects_pod_without_toleration() -> None:
    # "Does not schedule pod to unschedulable node (node.Spec.Unschedulable==true)"
    n = info(make_node(unschedulable=True))
    st = node_unschedulable.filter(make_pod(), n, snapshot_of(n))
    assert (st.code, st.reasons) == (UNRESOLVABLE, ("node(s) were unschedulable",))


def test_unschedulable_node_admits_tolerating_pod_and_normal_node_admits_all() -> None:
    # "Schedule pod with toleration to unschedulable node (node.Spec.Unschedulable==true)"
    n = info(make_node(unschedulable=True))
    tolerating = make_pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                        "effect": "NoSchedule"}])
    assert node_unschedulable.filter(tolerating, n, snapshot_of(n)).ok
    # "Schedule pod to normal node"
    normal = info(make_node())
    assert node_unschedulable.filter(make_pod(), normal, snapshot_of(normal)).ok
    # A toleration for a different effect does not cover the NoSchedule check.
    wrong_effect = make_pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                          "effect": "NoExecute"}])
    assert not node_unschedulable.filter(wrong_effect, n, snapshot_of(n)).ok


# --- TaintToleration filter (tainttoleration/taint_toleration_test.go TestTaintTolerationFilter) ---

DEDICATED_USER1 = {"key": "dedicated", "value": "user1", "effect": "NoSchedule"}


def test_taint_without_toleration_is_unresolvable_with_upstream_reason() -> None:
    # "A pod having no tolerations can't be scheduled onto a node with nonempty taints"
    n = info(make_node(taints=[DEDICATED_USER1]))
    st = taint_toleration.filter(make_pod(), n, snapshot_of(n))
    assert (st.code, st.reasons, st.plugin) == (
        UNRESOLVABLE, ("node(s) had untolerated taint {dedicated: user1}",), "TaintToleration")


def test_taint_reason_names_first_untolerated_taint_and_prints_empty_value() -> None:
    # FindMatchingUntoleratedTaint walks the node's taints in order; `{%s: %s}` leaves a space for no value.
    n = info(make_node(taints=[{"key": "soft", "effect": "PreferNoSchedule"},
                               {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                               DEDICATED_USER1]))
    st = taint_toleration.filter(make_pod(), n, snapshot_of(n))
    assert st.reasons == ("node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }",)


def test_tolerated_taints_fit() -> None:
    n = info(make_node(taints=[DEDICATED_USER1]))
    snap = snapshot_of(n)
    # "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule"
    equal = make_pod(tolerations=[{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}])
    assert taint_toleration.filter(equal, n, snap).ok
    # "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints"
    exists = make_pod(tolerations=[{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}])
    assert taint_toleration.filter(exists, n, snap).ok
    # "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is
    # empty, and the effect of taint is NoSchedule. Pod can be scheduled onto the node"
    any_effect = make_pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "user1"}])
    assert taint_toleration.filter(any_effect, n, snap).ok


def test_mismatched_tolerations_do_not_fit() -> None:
    n = info(make_node(taints=[DEDICATED_USER1]))
    snap = snapshot_of(n)
    # "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule"
    user2 = make_pod(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}])
    assert taint_toleration.filter(user2, n, snap).code == UNRESOLVABLE
    # "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't
    # match, can't be scheduled onto the node"
    wrong_effect = make_pod(tolerations=[{"key": "dedicated", "value": "user1", "effect": "NoExecute"}])
    assert taint_toleration.filter(wrong_effect, n, snap).code == UNRESOLVABLE


def test_no_execute_filters_and_prefer_no_schedule_does_not() -> None:
    no_exec = info(make_node(taints=[{"key": "k", "value": "v", "effect": "NoExecute"}]))
    assert not taint_toleration.filter(make_pod(), no_exec, snapshot_of(no_exec)).ok
    # "The pod has no toleration, but the effect of taint on node is PreferNoSchedule. Pod can be scheduled
    # onto the node"
    prefer = info(make_node(taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]))
    assert taint_toleration.filter(make_pod(), prefer, snapshot_of(prefer)).ok


# --- TaintToleration score (TestTaintTolerationScore) ---


def test_more_intolerable_prefer_no_schedule_taints_score_lower() -> None:
    # "the more intolerable taints a node has, the lower score it gets.": 0 -> 100, 1 -> 50, 2 -> 0.
    pod = make_pod(tolerations=[{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}])
    snap = snapshot_of(
        info(make_node("nodeA")),
        info(make_node("nodeB", taints=[{"key": "cpu-type", "value": "arm64", "effect": "PreferNoSchedule"}])),
        info(make_node("nodeC", taints=[{"key": "cpu-type", "value": "arm64", "effect": "PreferNoSchedule"},
                                        {"key": "disk-type", "value": "ssd", "effect": "PreferNoSchedule"}])),
    )
    assert scores(taint_toleration, pod, snap) == {"nodeA": 100, "nodeB": 50, "nodeC": 0}


def test_tolerated_and_non_prefer_taints_do_not_lower_the_score() -> None:
    # "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many
    # tolerable taints a node has" and "only taints and tolerations that have effect PreferNoSchedule are
    # checked by prioritizer function"
    pod = make_pod(tolerations=[{"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"},
                                {"key": "disk-type", "operator": "Equal", "value": "ssd"}])
    snap = snapshot_of(
        info(make_node("nodeA")),
        # The NoSchedule toleration does not count for a PreferNoSchedule taint; the effect-less one does.
        info(make_node("nodeB", taints=[{"key": "disk-type", "value": "ssd", "effect": "PreferNoSchedule"},
                                        {"key": "cpu-type", "value": "arm64", "effect": "NoSchedule"}])),
        info(make_node("nodeC", taints=[{"key": "cpu-type", "value": "arm64", "effect": "PreferNoSchedule"}])),
    )
    assert scores(taint_toleration, pod, snap) == {"nodeA": 100, "nodeB": 100, "nodeC": 0}


def test_no_taints_anywhere_scores_all_100() -> None:
    # "Default behaviour No taints and tolerations, lands on node with no taints": reverse normalize of all 0s.
    snap = snapshot_of(info(make_node("a")), info(make_node("b")))
    assert scores(taint_toleration, make_pod(), snap) == {"a": 100, "b": 100}


# --- NodeAffinity filter (nodeaffinity/node_affinity_test.go TestNodeAffinity) ---


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, "values": list(values)}


def affinity_fits(pod: core_pb2.Pod, labels: dict[str, str], name: str = "node1") -> bool:
    n = info(make_node(name, labels))
    st = node_affinity.filter(pod, n, snapshot_of(n))
    if not st.ok:
        assert (st.code, st.reasons, st.plugin) == (UNRESOLVABLE, (ERR_REASON_POD,), "NodeAffinity")
    return st.ok


def test_node_selector_must_be_a_subset_of_node_labels() -> None:
    # "no selector", "same labels", "node labels are superset"
    assert affinity_fits(make_pod(), {})
    assert affinity_fits(make_pod(nodeSelector={"foo": "bar"}), {"foo": "bar"})
    assert affinity_fits(make_pod(nodeSelector={"foo": "bar"}), {"foo": "bar", "baz": "blah"})
    # "missing labels", "node labels are subset"
    assert not affinity_fits(make_pod(nodeSelector={"foo": "bar"}), {})
    assert not affinity_fits(make_pod(nodeSelector={"foo": "bar", "baz": "blah"}), {"foo": "bar"})


def test_match_expression_operators() -> None:
    # "Pod with matchExpressions using In operator that matches the existing node"
    assert affinity_fits(make_pod(affinity=required({"matchExpressions": [expr("foo", "In", "bar", "value2")]})),
                         {"foo": "bar"})
    # "Pod with matchExpressions using Gt operator that matches the existing node"
    gt = make_pod(affinity=required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]}))
    assert affinity_fits(gt, {"kernel-version": "0206"})
    assert not affinity_fits(gt, {"kernel-version": "0204"})
    assert not affinity_fits(make_pod(affinity=required({"matchExpressions": [expr("n", "Lt", "5")]})), {"n": "7"})
    # "Pod with matchExpressions using NotIn operator that matches the existing node"
    notin = make_pod(affinity=required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}))
    assert affinity_fits(notin, {"mem-type": "DDR3"})
    assert affinity_fits(notin, {})  # a missing key is "not in" any set
    assert not affinity_fits(notin, {"mem-type": "DDR"})
    # "Pod with matchExpressions using Exists operator that matches the existing node"
    assert affinity_fits(make_pod(affinity=required({"matchExpressions": [expr("GPU", "Exists")]})),
                         {"GPU": "NVIDIA-GRID-K1"})
    assert not affinity_fits(make_pod(affinity=required({"matchExpressions": [expr("GPU", "DoesNotExist")]})),
                             {"GPU": "NVIDIA-GRID-K1"})


def test_terms_are_ored_and_expressions_anded() -> None:
    two_exprs = {"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER")]}
    # "Pod with multiple matchExpressions ANDed that matches the existing node"
    assert affinity_fits(make_pod(affinity=required(two_exprs)), {"GPU": "NVIDIA-GRID-K1"})
    # "Pod with multiple matchExpressions ANDed that doesn't match the existing node"
    anded = {"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "In", "AMD", "INTER")]}
    assert not affinity_fits(make_pod(affinity=required(anded)), {"GPU": "NVIDIA-GRID-K1"})
    # "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto
    # the node"
    ored = required({"matchExpressions": [expr("foo", "In", "bar", "value2")]},
                    {"matchExpressions": [expr("diffkey", "In", "wrong", "value2")]})
    assert affinity_fits(make_pod(affinity=ored), {"foo": "bar"})


def test_empty_or_invalid_terms_match_nothing() -> None:
    # "Pod with an empty []NodeSelectorTerm in affinity, can't match the node's labels and won't schedule onto
    # the node"
    assert not affinity_fits(make_pod(affinity=required()), {"foo": "bar"})
    # "Pod with empty MatchExpressions is not a valid value will match no objects and won't schedule onto the
    # node"
    assert not affinity_fits(make_pod(affinity=required({"matchExpressions": []})), {"foo": "bar"})
    # "Pod with an invalid value in Affinity term won't be scheduled onto the node"
    invalid = required({"matchExpressions": [expr("foo", "NotIn", "invalid value: ___@#$%^")]})
    assert not affinity_fits(make_pod(affinity=invalid), {"foo": "bar"})
    # Gt takes exactly one integer (labels.NewRequirement rejects anything else).
    assert not affinity_fits(make_pod(affinity=required({"matchExpressions": [expr("n", "Gt", "x")]})), {"n": "1"})
    # "Pod with Affinity but nil NodeSelector will schedule onto a node"
    assert affinity_fits(make_pod(affinity={"nodeAffinity": {}}), {"foo": "bar"})


def test_node_selector_and_affinity_must_both_hold() -> None:
    aff = required({"matchExpressions": [expr("foo", "Exists")]})
    # "Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) both are
    # satisfied, will schedule onto the node"
    assert affinity_fits(make_pod(affinity=aff, nodeSelector={"foo": "bar"}), {"foo": "bar"})
    # "Pod with an Affinity matches node's labels but the PodSpec.NodeSelector(the old thing that we are
    # deprecating) is not satisfied, won't schedule onto the node"
    assert not affinity_fits(make_pod(affinity=aff, nodeSelector={"foo": "bar"}), {"foo": "barrrrrr"})


def test_match_fields_on_node_name() -> None:
    by_name = required({"matchFields": [expr("metadata.name", "In", "node1")]})
    # "Pod with matchFields using In operator that matches the existing node"
    assert affinity_fits(make_pod(affinity=by_name), {}, name="node1")
    # "Pod with matchFields using In operator that does not match the existing node"
    assert not affinity_fits(make_pod(affinity=by_name), {}, name="node2")
    # "Pod with two terms: matchFields does not match, but matchExpressions matches"
    two = required({"matchFields": [expr("metadata.name", "In", "node1")]},
                   {"matchExpressions": [expr("foo", "In", "bar")]})
    assert affinity_fits(make_pod(affinity=two), {"foo": "bar"}, name="node2")
    # "Pod with one term: matchFields does not match, but matchExpressions matches"
    one = required({"matchFields": [expr("metadata.name", "In", "node1")],
                    "matchExpressions": [expr("foo", "In", "bar")]})
    assert not affinity_fits(make_pod(affinity=one), {"foo": "bar"}, name="node2")
    # "Pod with one term: both matchFields and matchExpressions match"
    assert affinity_fits(make_pod(affinity=one), {"foo": "bar"}, name="node1")
    # NotIn on the name excludes just that node.
    not_in = required({"matchFields": [expr("metadata.name", "NotIn", "node1")]})
    assert not affinity_fits(make_pod(affinity=not_in), {}, name="node1")
    assert affinity_fits(make_pod(affinity=not_in), {}, name="node2")


def test_pre_filter_node_names_and_conflict() -> None:
    # TestNodeAffinity's wantPreFilterResult cases: matchFields metadata.name In pins the candidate nodes,
    # unioned over terms; disjoint requirements within a term leave none ("pod affinity terms conflict").
    pinned = make_pod(affinity=required({"matchFields": [expr("metadata.name", "In", "node1")]},
                                        {"matchFields": [expr("metadata.name", "In", "node2")]}))
    assert pre_filter_node_names(pinned)[0] == {"node1", "node2"}
    conflict = make_pod(affinity=required({"matchFields": [expr("metadata.name", "In", "node1"),
                                                           expr("metadata.name", "In", "node2")]}))
    names, st = pre_filter_node_names(conflict)
    assert names == set() and (st.code, st.reasons) == (UNRESOLVABLE, (ERR_REASON_CONFLICT,))
    free = make_pod(affinity=required({"matchFields": [expr("metadata.name", "In", "node1")]},
                                      {"matchExpressions": [expr("foo", "Exists")]}))
    names, st = pre_filter_node_names(free)
    assert names is None and st.ok


# --- NodeAffinity score (TestNodeAffinityPriority) ---


def preferred(*terms: tuple[int, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": w, "preference": {"matchExpressions": exprs}} for w, exprs in terms]}}


def test_preferred_weights_are_summed_and_normalized() -> None:
    # "all nodes matches the preferred scheduling requirements of pod but with different priorities":
    # node1 2, node5 2+4+5=11, node2 4 -> 18, 100, 36.
    pod = make_pod(affinity=preferred(
        (2, [expr("foo", "In", "bar")]),
        (4, [expr("key", "In", "value")]),
        (5, [expr("foo", "In", "bar"), expr("key", "In", "value"), expr("az", "In", "az1")]),
    ))
    snap = snapshot_of(info(make_node("node1", {"foo": "bar"})),
                       info(make_node("node5", {"foo": "bar", "key": "value", "az": "az1"})),
                       info(make_node("node2", {"key": "value"})))
    assert scores(node_affinity, pod, snap) == {"node1": 18, "node5": 100, "node2": 36}


def test_no_preferred_match_scores_zero() -> None:
    # "all nodes are same priority as NodeAffinity is nil" and "no node matches preferred scheduling
    # requirements in NodeAffinity of pod so all nodes' priority is zero"
    snap = snapshot_of(info(make_node("node1", {"foo": "bar"})), info(make_node("node2", {"key": "value"})))
    assert scores(node_affinity, make_pod(), snap) == {"node1": 0, "node2": 0}
    unmatched = make_pod(affinity=preferred((2, [expr("foo", "In", "nope")])))
    assert scores(node_affinity, unmatched, snap) == {"node1": 0, "node2": 0}
    # "only node1 matches the preferred scheduling requirements of pod"
    only1 = make_pod(affinity=preferred((2, [expr("foo", "In", "bar")]), (0, [expr("key", "Exists")])))
    assert scores(node_affinity, only1, snap) == {"node1": 100, "node2": 0}  # weight 0 is skipped


# --- NodePorts (nodeports/node_ports_test.go TestNodePorts) ---


def port_pod(*specs: str) -> core_pb2.Pod:
    """Ports as upstream's newPod writes them: "PROTOCOL/hostIP/hostPort"."""
    ports = []
    for s in specs:
        proto, ip, port = s.split("/")
        ports.append({"containerPort": int(port), "hostPort": int(port), "hostIP": ip, "protocol": proto})
    return make_pod(containers=[{"name": "c", "image": "x", "ports": ports}])


@pytest.mark.parametrize(("want", "existing", "fits"), [
    (["UDP/127.0.0.1/8080"], ["UDP/127.0.0.1/9090"], True),  # "other port"
    (["UDP/127.0.0.1/8080"], ["UDP/127.0.0.1/8080"], False),  # "same udp port"
    (["TCP/127.0.0.1/8080"], ["TCP/127.0.0.1/8080"], False),  # "same tcp port"
    (["TCP/127.0.0.1/8080"], ["TCP/127.0.0.2/8080"], True),  # "different host ip"
    (["UDP/127.0.0.1/8080"], ["TCP/127.0.0.1/8080"], True),  # "different protocol"
    (["UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"], ["UDP/127.0.0.1/8080"], False),  # "second udp port conflict"
    (["TCP/0.0.0.0/8001"], ["TCP/127.0.0.1/8001"], False),  # "first tcp port conflict due to 0.0.0.0 hostIP"
    (["TCP/127.0.0.1/8001"], ["TCP/0.0.0.0/8001"], False),  # "second tcp port conflict to 0.0.0.0 hostIP"
    (["UDP/127.0.0.1/8001"], ["TCP/0.0.0.0/8001"], True),  # "second different protocol"
    (["UDP/127.0.0.1/8001"], ["TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"], False),  # "UDP hostPort conflict ..."
])
def test_node_ports(want: list[str], existing: list[str], fits: bool) -> None:
    n = info(make_node(), port_pod(*existing))
    st = node_ports.filter(port_pod(*want), n, snapshot_of(n))
    assert st.ok == fits
    if not fits:
        # Unschedulable, not Unresolvable: preempting the pod holding the port can free it.
        assert (st.code, st.reasons, st.plugin) == (
            UNSCHEDULABLE, ("node(s) didn't have free ports for the requested pod ports",), "NodePorts")


def test_node_ports_defaults_empty_ip_and_protocol() -> None:
    # Empty hostIP is 0.0.0.0 and empty protocol TCP (HostPortInfo.sanitize), so they clash with explicit ones.
    n = info(make_node(), port_pod("TCP/10.0.0.1/80"))
    bare = make_pod(containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}])
    assert not node_ports.filter(bare, n, snapshot_of(n)).ok
    # A container port without a hostPort takes nothing on the node.
    no_host = make_pod(containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80}]}])
    assert node_ports.filter(no_host, n, snapshot_of(n)).ok


# --- ImageLocality (imagelocality/image_locality_test.go TestImageLocalityPriority) ---


def image_node(name: str, images: list[tuple[list[str], int]]) -> NodeInfo:
    return info(make_node(name, status={"images": [{"names": names, "sizeBytes": size} for names, size in images]}))


NODE_40_300_2000 = [(["gcr.io/40:latest", "gcr.io/40:v1", "gcr.io/40:v1"], 40 * MB),
                    (["gcr.io/300:latest", "gcr.io/300:v1"], 300 * MB), (["gcr.io/2000:latest"], 2000 * MB)]
NODE_250_10 = [(["gcr.io/250:latest"], 250 * MB), (["gcr.io/10:latest", "gcr.io/10:v1"], 10 * MB)]
NODE_20_30_40 = [(["gcr.io/20:latest"], 20 * MB), (["gcr.io/30:latest"], 30 * MB), (["gcr.io/40:latest"], 40 * MB)]


def image_pod(*images: str, init: tuple[str, ...] = ()) -> core_pb2.Pod:
    extra: dict[str, Any] = {}
    if init:
        extra["initContainers"] = [{"name": f"i{i}", "image": im} for i, im in enumerate(init)]
    return make_pod(containers=[{"name": f"c{i}", "image": im} for i, im in enumerate(images)], **extra)


def test_image_locality_prefers_larger_image_spread() -> None:
    # "two images spread on two nodes, prefer the larger image one": 100 * (250M/2 - 23M) / (1000M*2 - 23M) = 5
    snap = snapshot_of(image_node("node1", NODE_40_300_2000), image_node("node2", NODE_250_10))
    assert scores(image_locality, image_pod("gcr.io/40", "gcr.io/250"), snap) == {"node1": 0, "node2": 5}
    # "two images on one node, prefer this node": 100 * ((40M + 300M)/2 - 23M) / (1000M*2 - 23M) = 7
    assert scores(image_locality, image_pod("gcr.io/40", "gcr.io/300"), snap) == {"node1": 7, "node2": 0}


def test_image_locality_counts_init_containers_and_spread() -> None:
    # "include InitContainers: two images spread on two nodes, prefer the larger image one":
    # 100 * (300M * 1/2 - 23M) / (1000M*2 - 23M) = 6
    snap = snapshot_of(image_node("node1", NODE_40_300_2000), image_node("node2", NODE_20_30_40))
    assert scores(image_locality, image_pod("gcr.io/30", init=("gcr.io/300",)), snap) == {"node1": 6, "node2": 0}
    # "pod with multiple small images": gcr.io/30 is on both nodes, gcr.io/40 on node1 only, so node1 gets
    # 100 * (30M + 40M * 1/2 - 23M) / (1000M*2 - 23M) = 1 and node2 100 * (30M - 23M) / (1000M*2 - 23M) = 0.
    node_4000_30 = [(["gcr.io/4000:latest"], 2000 * MB), (["gcr.io/30:latest"], 30 * MB)]
    snap2 = snapshot_of(image_node("node1", NODE_20_30_40), image_node("node2", node_4000_30))
    assert scores(image_locality, image_pod("gcr.io/30", "gcr.io/40"), snap2) == {"node1": 1, "node2": 0}


def test_image_locality_clamps_at_max_threshold() -> None:
    # "if exceed limit, use limit": a 2000MB image on one node of one saturates 1000MB * 2 containers -> 100.
    snap = snapshot_of(image_node("node1", [(["gcr.io/4000:latest"], 4000 * MB)]))
    assert scores(image_locality, image_pod("gcr.io/4000", "gcr.io/10"), snap) == {"node1": 100}


def test_normalized_image_name() -> None:
    # TestNormalizedImageName
    assert normalized_image_name("root") == "root:latest"
    assert normalized_image_name("gcr.io:5000/root") == "gcr.io:5000/root:latest"
    assert normalized_image_name("root:tag") == "root:tag"
    assert normalized_image_name("root@sha256:abc") == "root@sha256:abc"


def test_image_locality_skips_pods_whose_images_no_node_holds() -> None:
    # Every node would score 0 for such a pod, so PreScore-style Skip changes no total.
    snap = snapshot_of(image_node("node1", NODE_40_300_2000), image_node("node2", NODE_250_10))
    assert image_locality.skip(image_pod("gcr.io/nowhere"), snap)
    assert scores(image_locality, image_pod("gcr.io/nowhere"), snap) == {"node1": 0, "node2": 0}
    assert not image_locality.skip(image_pod("gcr.io/nowhere", "gcr.io/250"), snap)
    assert not image_locality.skip(image_pod("gcr.io/nowhere", init=("gcr.io/40",)), snap)
