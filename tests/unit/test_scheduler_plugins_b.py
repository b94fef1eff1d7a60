"""NodeResourcesFit, NodeResourcesBalancedAllocation, InterPodAffinity and PodTopologySpread on plain objects,
with cases taken from upstream's plugin tests (named in the comments)."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.pb import core_pb2
from scheduler.framework import UNRESOLVABLE, UNSCHEDULABLE, NodeInfo, Snapshot
from scheduler.plugins.balanced_allocation import balanced_allocation
from scheduler.plugins.inter_pod_affinity import (
    ERR_REASON_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,
    ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,
    inter_pod_affinity,
)
from scheduler.plugins.node_resources_fit import node_resources_fit
from scheduler.plugins.pod_topology_spread import (
    ERR_REASON_CONSTRAINTS_NOT_MATCH,
    ERR_REASON_NODE_LABEL_NOT_MATCH,
    pod_topology_spread,
)

pytestmark = pytest.mark.unit


def node(name: str, labels: dict[str, str] | None = None, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
         extra: dict[str, str] | None = None) -> core_pb2.Node:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
        "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}},
    })


def pod(name: str, labels: dict[str, str] | None = None, namespace: str = "default",
        requests: dict[str, str] | None = None, init_requests: dict[str, str] | None = None,
        **spec: Any) -> core_pb2.Pod:
    body: dict[str, Any] = {"containers": [{"name": "c", "image": "x", "resources": {"requests": requests or {}}}],
                            **spec}
    if init_requests is not None:
        body["initContainers"] = [{"name": "i", "image": "x", "resources": {"requests": init_requests}}]
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": body,
    })


def term(labels: dict[str, str], key: str, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def snap(*infos: NodeInfo) -> Snapshot:
    return Snapshot(list(infos))


# --- NodeResourcesFit: filter (fit_test.go TestEnoughRequests / TestNotEnoughRequests / TestStorageRequests) ---


def test_fit_no_resources_requested_always_fits() -> None:
    # "no resources requested always fits"
    info = NodeInfo.build(node("n", cpu="10", memory="20"), [pod("a", requests={"cpu": "10", "memory": "20"})])
    assert node_resources_fit.filter(pod("p"), info, snap(info)).ok


def test_fit_too_many_resources_fails_with_every_reason() -> None:
    # "too many resources fails": both cpu and memory are reported, as plain Unschedulable.
    info = NodeInfo.build(node("n", cpu="10m", memory="20"), [pod("a", requests={"cpu": "10m", "memory": "20"})])
    st = node_resources_fit.filter(pod("p", requests={"cpu": "1m", "memory": "1"}), info, snap(info))
    assert st.code == UNSCHEDULABLE
    assert st.reasons == ("Insufficient cpu", "Insufficient memory")


def test_fit_equal_edge_case_fits_and_init_container_counts() -> None:
    # "equal edge case" fits; "too many resources fails due to init container cpu" does not.
    info = NodeInfo.build(node("n", cpu="10m", memory="20"), [pod("a", requests={"cpu": "5m", "memory": "5"})])
    assert node_resources_fit.filter(pod("p", requests={"cpu": "5m", "memory": "15"}), info, snap(info)).ok
    big_init = pod("p", requests={"cpu": "1m", "memory": "1"}, init_requests={"cpu": "6m", "memory": "1"})
    assert node_resources_fit.filter(big_init, info, snap(info)).reasons == ("Insufficient cpu",)


def test_fit_too_many_pods() -> None:
    # TestNotEnoughRequests "even without specified resources, predicate fails when there's no space for
    # additional pod"
    info = NodeInfo.build(node("n", pods="1"), [pod("a")])
    assert node_resources_fit.filter(pod("p"), info, snap(info)).reasons == ("Too many pods",)
    empty = NodeInfo.build(node("m", pods="1"))
    assert node_resources_fit.filter(pod("p"), empty, snap(empty)).ok


def test_fit_extended_resources() -> None:
    # "extended resource allocatable admits request" / "extended resource allocatable enforced" /
    # "extended resource unavailable" (a node without the resource).
    gpu_node = NodeInfo.build(node("g", extra={"nvidia.com/gpu": "2"}), [pod("a", requests={"nvidia.com/gpu": "1"})])
    plain = NodeInfo.build(node("n"))
    assert node_resources_fit.filter(pod("p", requests={"nvidia.com/gpu": "1"}), gpu_node, snap(gpu_node)).ok
    st = node_resources_fit.filter(pod("p", requests={"nvidia.com/gpu": "2"}), gpu_node, snap(gpu_node))
    assert st.reasons == ("Insufficient nvidia.com/gpu",)
    st = node_resources_fit.filter(pod("p", requests={"nvidia.com/gpu": "1"}), plain, snap(plain))
    assert st.reasons == ("Insufficient nvidia.com/gpu",)


def test_fit_ephemeral_storage() -> None:
    # TestStorageRequests "ephemeral local storage request exceeds allocatable" / "ephemeral local storage is
    # sufficient"
    info = NodeInfo.build(node("n", extra={"ephemeral-storage": "20"}))
    assert node_resources_fit.filter(pod("p", requests={"ephemeral-storage": "20"}), info, snap(info)).ok
    st = node_resources_fit.filter(pod("p", requests={"ephemeral-storage": "25"}), info, snap(info))
    assert st.reasons == ("Insufficient ephemeral-storage",)


# --- NodeResourcesFit: LeastAllocated score (least_allocated_test.go) ---


def test_least_allocated_score() -> None:
    # "nothing scheduled, resources requested, differently sized nodes": cpu (4000-3000)/4000=25, mem 50 -> 37;
    # cpu (6000-3000)/6000=50, mem 50 -> 50.
    small = NodeInfo.build(node("machine1", cpu="4", memory="10000"))
    large = NodeInfo.build(node("machine2", cpu="6", memory="10000"))
    p = pod("p", requests={"cpu": "3", "memory": "5000"})
    s = snap(small, large)
    assert node_resources_fit.score(p, small, s) == 37
    assert node_resources_fit.score(p, large, s) == 50
    # "nothing scheduled, nothing requested": the 100m/200Mi defaults are tiny next to the node -> 99..100.
    assert node_resources_fit.score(pod("q"), NodeInfo.build(node("big", cpu="1000", memory="1000Gi")), s) == 99


def test_least_allocated_counts_non_zero_requests_of_existing_pods() -> None:
    # Existing best-effort pods count as 100m/200Mi each (NonZeroRequested), so the emptier node scores higher.
    busy = NodeInfo.build(node("busy", cpu="1", memory="1Gi"), [pod("a"), pod("b")])
    idle = NodeInfo.build(node("idle", cpu="1", memory="1Gi"))
    s = snap(busy, idle)
    assert node_resources_fit.score(pod("p"), idle, s) > node_resources_fit.score(pod("p"), busy, s)


# --- NodeResourcesBalancedAllocation (balanced_allocation_test.go) ---


def test_balanced_allocation_score() -> None:
    # "nothing scheduled, resources requested, differently sized nodes": fractions 0.75/0.5 -> std 0.125 -> 87;
    # 0.5/0.5 -> 100.
    n1 = NodeInfo.build(node("machine1", cpu="4", memory="10000"))
    n2 = NodeInfo.build(node("machine2", cpu="6", memory="10000"))
    p = pod("p", requests={"cpu": "3", "memory": "5000"})
    s = snap(n1, n2)
    assert balanced_allocation.score(p, n1, s) == 87
    assert balanced_allocation.score(p, n2, s) == 100
    assert balanced_allocation.normalize(p, {"machine1": 87, "machine2": 100}, s) == {"machine1": 87, "machine2": 100}


def test_balanced_allocation_uses_actual_requests() -> None:
    # useRequested=true: a best-effort pod adds nothing, so an empty node is perfectly balanced (100), and a
    # node whose existing pod skews cpu scores lower.
    empty = NodeInfo.build(node("empty", cpu="4", memory="10000"))
    skewed = NodeInfo.build(node("skewed", cpu="4", memory="10000"), [pod("a", requests={"cpu": "2"})])
    s = snap(empty, skewed)
    assert balanced_allocation.score(pod("p"), empty, s) == 100
    assert balanced_allocation.score(pod("p"), skewed, s) == 75


# --- InterPodAffinity: filter (filtering_test.go) ---

ZONE = "zone"
HOST = "kubernetes.io/hostname"


def affinity(required: list[dict[str, Any]] | None = None, anti: list[dict[str, Any]] | None = None,
             preferred: list[dict[str, Any]] | None = None,
             preferred_anti: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required or [],
                        "preferredDuringSchedulingIgnoredDuringExecution": preferred or []},
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": anti or [],
                            "preferredDuringSchedulingIgnoredDuringExecution": preferred_anti or []},
    }


def test_pod_affinity_matches_existing_pod_in_domain() -> None:
    # TestRequiredAffinitySingleNode "satisfies with requiredDuringSchedulingIgnoredDuringExecution in
    # PodAffinity using In operator that matches the existing pod", and the node in another zone fails.
    a = NodeInfo.build(node("a", {ZONE: "z1"}), [pod("web", {"app": "web"})])
    b = NodeInfo.build(node("b", {ZONE: "z1"}))
    c = NodeInfo.build(node("c", {ZONE: "z2"}))
    s = snap(a, b, c)
    p = pod("p", affinity=affinity(required=[term({"app": "web"}, ZONE)]))
    assert inter_pod_affinity.filter(p, a, s).ok
    assert inter_pod_affinity.filter(p, b, s).ok
    st = inter_pod_affinity.filter(p, c, s)
    assert st.code == UNRESOLVABLE
    assert st.reasons == (ERR_REASON_AFFINITY_RULES_NOT_MATCH,)


def test_pod_affinity_other_namespace_does_not_match() -> None:
    # "Does not satisfy the PodAffinity with labelSelector because of diff Namespace"; listing the namespace
    # (or an empty namespaceSelector, meaning all namespaces) makes it match.
    a = NodeInfo.build(node("a", {ZONE: "z1"}), [pod("web", {"app": "web"}, namespace="other")])
    s = snap(a)
    p = pod("p", affinity=affinity(required=[term({"app": "web"}, ZONE)]), labels={"app": "db"})
    assert inter_pod_affinity.filter(p, a, s).reasons == (ERR_REASON_AFFINITY_RULES_NOT_MATCH,)
    listed = pod("p", affinity=affinity(required=[term({"app": "web"}, ZONE, namespaces=["other"])]))
    assert inter_pod_affinity.filter(listed, a, s).ok
    any_ns = pod("p", affinity=affinity(required=[term({"app": "web"}, ZONE, namespaceSelector={})]))
    assert inter_pod_affinity.filter(any_ns, a, s).ok


def test_pod_affinity_first_pod_of_self_affine_group() -> None:
    # TestRequiredAffinityMultipleNodes "The affinity rule is to schedule all of the pods of this collection to
    # the same zone. The first pod of the collection should not be blocked from being scheduled onto any node,
    # even there's no existing pod that matches the rule anywhere." Nodes without the key still fail.
    a = NodeInfo.build(node("a", {ZONE: "z1"}))
    bare = NodeInfo.build(node("bare"))
    s = snap(a, bare)
    own = pod("p", {"app": "web"}, affinity=affinity(required=[term({"app": "web"}, ZONE)]))
    assert inter_pod_affinity.filter(own, a, s).ok
    assert not inter_pod_affinity.filter(own, bare, s).ok
    # Not matching its own term: nothing to follow, so it fails.
    other = pod("q", {"app": "db"}, affinity=affinity(required=[term({"app": "web"}, ZONE)]))
    assert inter_pod_affinity.filter(other, a, s).reasons == (ERR_REASON_AFFINITY_RULES_NOT_MATCH,)


def test_pod_anti_affinity() -> None:
    # "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with
    # incoming pod" style: the incoming pod's own anti-affinity excludes the domain, as plain Unschedulable.
    a = NodeInfo.build(node("a", {HOST: "a"}), [pod("web", {"app": "web"})])
    b = NodeInfo.build(node("b", {HOST: "b"}))
    s = snap(a, b)
    p = pod("p", affinity=affinity(anti=[term({"app": "web"}, HOST)]))
    st = inter_pod_affinity.filter(p, a, s)
    assert st.code == UNSCHEDULABLE
    assert st.reasons == (ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH,)
    assert inter_pod_affinity.filter(p, b, s).ok


def test_existing_pods_anti_affinity() -> None:
    # "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints.
    # doesn't satisfy PodAntiAffinity symmetry with the existing pod"
    guard = pod("guard", affinity=affinity(anti=[term({"app": "web"}, ZONE)]))
    a = NodeInfo.build(node("a", {ZONE: "z1"}), [guard])
    b = NodeInfo.build(node("b", {ZONE: "z1"}))
    c = NodeInfo.build(node("c", {ZONE: "z2"}))
    s = snap(a, b, c)
    web = pod("p", {"app": "web"})
    for info in (a, b):
        st = inter_pod_affinity.filter(web, info, s)
        assert st.code == UNSCHEDULABLE
        assert st.reasons == (ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH,)
    assert inter_pod_affinity.filter(web, c, s).ok
    assert inter_pod_affinity.filter(pod("db", {"app": "db"}), a, s).ok


# --- InterPodAffinity: score (scoring_test.go TestPreferredAffinity) ---


def _normalized(plugin: Any, p: core_pb2.Pod, s: Snapshot) -> dict[str, int]:
    raw = {n.name: plugin.score(p, n, s) for n in s.nodes}
    return plugin.normalize(p, raw, s)  # type: ignore[no-any-return]


def test_preferred_affinity_score() -> None:
    # "Affinity: pod that matches topology key & pods in nodes will get high score comparing to others which
    # doesn't match either pods in nodes or in topology key"
    m1 = NodeInfo.build(node("machine1", {"region": "China"}), [pod("s", {"security": "S1"})])
    m2 = NodeInfo.build(node("machine2", {"region": "India"}), [pod("t", {"security": "S2"})])
    m3 = NodeInfo.build(node("machine3", {"az": "az1"}))
    s = snap(m1, m2, m3)
    p = pod("p", affinity=affinity(preferred=[{"weight": 5, "podAffinityTerm": term({"security": "S1"}, "region")}]))
    assert _normalized(inter_pod_affinity, p, s) == {"machine1": 100, "machine2": 0, "machine3": 0}


def test_preferred_anti_affinity_score() -> None:
    # "Anti Affinity: pod that does not match existing pods in node will get high score"
    m1 = NodeInfo.build(node("machine1", {"region": "China"}), [pod("s", {"security": "S1"})])
    m2 = NodeInfo.build(node("machine2", {"region": "India"}), [pod("t", {"security": "S2"})])
    s = snap(m1, m2)
    p = pod("p", affinity=affinity(
        preferred_anti=[{"weight": 5, "podAffinityTerm": term({"security": "S1"}, "region")}]))
    assert inter_pod_affinity.score(p, m1, s) == -5
    assert _normalized(inter_pod_affinity, p, s) == {"machine1": 0, "machine2": 100}


def test_existing_pods_terms_score_symmetrically() -> None:
    # "Affinity symmetry: considered only the preferredDuringSchedulingIgnoreDuringExecution in pod affinity
    # symmetry" and hard affinity symmetry (hardPodAffinityWeight 1).
    fan = pod("fan", affinity=affinity(preferred=[{"weight": 5, "podAffinityTerm": term({"app": "x"}, "region")}]))
    hard = pod("hard", affinity=affinity(required=[term({"app": "x"}, "region")]))
    m1 = NodeInfo.build(node("machine1", {"region": "China"}), [fan])
    m2 = NodeInfo.build(node("machine2", {"region": "India"}), [hard])
    m3 = NodeInfo.build(node("machine3", {"region": "Japan"}))
    s = snap(m1, m2, m3)
    p = pod("p", {"app": "x"})
    assert [inter_pod_affinity.score(p, n, s) for n in s.nodes] == [5, 1, 0]
    assert _normalized(inter_pod_affinity, p, s) == {"machine1": 100, "machine2": 20, "machine3": 0}


# --- PodTopologySpread: filter (filtering_test.go TestSingleConstraint / TestMultipleConstraints) ---


def spread(key: str, labels: dict[str, str], max_skew: int = 1, when: str = "DoNotSchedule",
           **extra: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": labels}, **extra}


def zones(counts: dict[str, int], labels: dict[str, str] | None = None) -> Snapshot:
    """One node per entry (named after it, zone = the name) with that many `foo` pods on it."""
    infos = []
    for name, n in counts.items():
        pods = [pod(f"{name}-{i}", labels if labels is not None else {"foo": ""}) for i in range(n)]
        infos.append(NodeInfo.build(node(name, {ZONE: name, HOST: name}), pods))
    return Snapshot(infos)


def test_spread_only_least_loaded_domain_fits() -> None:
    # TestSingleConstraint "pods spread across nodes as 2/1/0/3, only node-x fits" (maxSkew 1, hostname).
    s = zones({"node-a": 2, "node-b": 1, "node-x": 0, "node-y": 3})
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""})])
    results = {n.name: pod_topology_spread.filter(p, n, s) for n in s.nodes}
    assert [name for name, st in results.items() if st.ok] == ["node-x"]
    assert results["node-a"].code == UNSCHEDULABLE
    assert results["node-a"].reasons == (ERR_REASON_CONSTRAINTS_NOT_MATCH,)


def test_spread_all_fit_when_balanced_and_other_namespace_ignored() -> None:
    # "pods spread across zones as 3/3, all nodes fit" (maxSkew 1): the incoming pod may go to either zone;
    # pods of another namespace do not count (countPodsMatchSelector).
    s = zones({"zone1": 3, "zone2": 3})
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(ZONE, {"foo": ""})])
    assert all(pod_topology_spread.filter(p, n, s).ok for n in s.nodes)
    other = pod("p", {"foo": ""}, namespace="ns2", topologySpreadConstraints=[spread(ZONE, {"foo": ""})])
    assert all(pod_topology_spread.filter(other, n, zones({"zone1": 3, "zone2": 0})).ok for n in s.nodes)


def test_spread_missing_topology_label_is_unresolvable() -> None:
    # "pods spread across zones as 1/2 due to absence of label 'zone' on node-b"
    s = Snapshot([NodeInfo.build(node("node-a", {ZONE: "zone1"})), NodeInfo.build(node("node-b"))])
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(ZONE, {"foo": ""})])
    assert pod_topology_spread.filter(p, s.nodes[0], s).ok
    st = pod_topology_spread.filter(p, s.nodes[1], s)
    assert st.code == UNRESOLVABLE
    assert st.reasons == (ERR_REASON_NODE_LABEL_NOT_MATCH,)


def test_spread_min_domains() -> None:
    # "pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains < minDomains, then the third
    # node fits": with minDomains 4 the global minimum is 0, so only node-c (1 + 1 - 0 <= 2) fits.
    s = zones({"node-a": 2, "node-b": 2, "node-c": 1})
    c = spread(HOST, {"foo": ""}, max_skew=2, minDomains=4)
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[c])
    assert [n.name for n in s.nodes if pod_topology_spread.filter(p, n, s).ok] == ["node-c"]
    # Without minDomains the minimum is 1 and every node fits (2 + 1 - 1 <= 2).
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""}, max_skew=2)])
    assert all(pod_topology_spread.filter(p, n, s).ok for n in s.nodes)


def test_spread_match_label_keys_uses_each_pods_own_values() -> None:
    # matchLabelKeys: the incoming pod's value for each key is ANDed into the selector, so two pods of one spec
    # that differ only in that label's value count different pods. zone1 holds 2 foo pods of hash a, zone2 3 of
    # hash b: a pod of hash a fits zone2 only, one of hash b zone1 only, whichever is scheduled first.
    from scheduler.plugins.pod_topology_spread import DO_NOT_SCHEDULE, spread_constraints

    def existing(name: str, h: str) -> core_pb2.Pod:
        return pod(name, {"foo": "", "hash": h})

    s = Snapshot([NodeInfo.build(node("zone1", {ZONE: "zone1"}), [existing(f"a{i}", "a") for i in range(2)]),
                  NodeInfo.build(node("zone2", {ZONE: "zone2"}), [existing(f"b{i}", "b") for i in range(3)])])
    c = spread(ZONE, {"foo": ""}, matchLabelKeys=["hash"])
    a, a2, b = (pod(n, {"foo": "", "hash": h}, topologySpreadConstraints=[c])
                for n, h in (("pa", "a"), ("pa2", "a"), ("pb", "b")))
    for incoming, fits in ((b, "zone1"), (a, "zone2"), (b, "zone1")):
        s.invalidate()
        assert [n.name for n in s.nodes if pod_topology_spread.filter(incoming, n, s).ok] == [fits]
    # Parsed once per spec and values: the pods of hash a share one parse, the pod of hash b has its own.
    assert spread_constraints(a, DO_NOT_SCHEDULE) is spread_constraints(a2, DO_NOT_SCHEDULE)
    assert spread_constraints(a, DO_NOT_SCHEDULE) != spread_constraints(b, DO_NOT_SCHEDULE)


def test_spread_counts_only_nodes_matching_node_selector() -> None:
    # "pods spread across zones as 3/3, but pod has nodeSelector...": nodeAffinityPolicy Honor leaves the
    # other zone's pods out, so the selected zone alone is balanced.
    s = zones({"zone1": 3, "zone2": 0})
    p = pod("p", {"foo": ""}, nodeSelector={ZONE: "zone1"}, topologySpreadConstraints=[spread(ZONE, {"foo": ""})])
    assert pod_topology_spread.filter(p, s.nodes[0], s).ok


def test_spread_schedule_anyway_is_not_a_filter() -> None:
    s = zones({"a": 5, "b": 0})
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""}, when="ScheduleAnyway")])
    assert all(pod_topology_spread.filter(p, n, s).ok for n in s.nodes)


# --- PodTopologySpread: score (scoring_test.go TestPodTopologySpreadScore) ---


def test_spread_score_fewer_matching_pods_is_better() -> None:
    # "one constraint on node, all 4 nodes are candidates": 2/1/0/3 -> 20/60/100/0.
    s = zones({"node-a": 2, "node-b": 1, "node-c": 0, "node-d": 3})
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""}, when="ScheduleAnyway")])
    assert _normalized(pod_topology_spread, p, s) == {"node-a": 20, "node-b": 60, "node-c": 100, "node-d": 0}


def test_spread_score_no_existing_pods_and_missing_key() -> None:
    # "one constraint on node, no existing pods": all 100; a candidate lacking the key is ignored and gets 0.
    infos = [NodeInfo.build(node(n, {HOST: n})) for n in ("node-a", "node-b")]
    infos.append(NodeInfo.build(node("node-x")))
    s = Snapshot(infos)
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""}, when="ScheduleAnyway")])
    assert _normalized(pod_topology_spread, p, s) == {"node-a": 100, "node-b": 100, "node-x": 0}


def test_spread_score_without_soft_constraints_is_flat() -> None:
    s = zones({"a": 2, "b": 0})
    p = pod("p", {"foo": ""}, topologySpreadConstraints=[spread(HOST, {"foo": ""})])
    assert _normalized(pod_topology_spread, p, s) == {"a": 0, "b": 0}
