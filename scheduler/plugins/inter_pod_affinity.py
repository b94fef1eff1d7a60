"""InterPodAffinity (pkg/scheduler/framework/plugins/interpodaffinity, v1.32): required pod affinity and
anti-affinity (the incoming pod's and existing pods'), and preferred terms summed per topology domain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kubemu.pb import core_pb2
from scheduler.framework import MAX_NODE_SCORE, OK, NodeInfo, Snapshot, Status, has_pod_affinity, unschedulable
from scheduler.plugins.selector_util import (
    MaybeSelector,
    default_namespace_labels,
    label_selector,
    selector_matches,
)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"

HARD_POD_AFFINITY_WEIGHT = 1
"""InterPodAffinityArgs.hardPodAffinityWeight default: existing pods' required affinity terms count in scoring."""

NamespaceLabels = Callable[[str], Mapping[str, str]]
TopologyPair = tuple[str, str]


@dataclass(frozen=True)
class AffinityTerm:
    """framework.AffinityTerm: a PodAffinityTerm resolved against the pod that carries it."""

    namespaces: frozenset[str]
    selector: MaybeSelector
    topology_key: str
    namespace_selector: MaybeSelector

    def matches(self, pod: core_pb2.Pod, ns_labels: Mapping[str, str]) -> bool:
        """AffinityTerm.Matches: the pod is in one of the namespaces (listed or selected) and has the labels."""
        if pod.metadata.namespace in self.namespaces or selector_matches(self.namespace_selector, ns_labels):
            return selector_matches(self.selector, pod.metadata.labels)
        return False


@dataclass(frozen=True)
class WeightedAffinityTerm:
    term: AffinityTerm
    weight: int


def new_affinity_term(pod: core_pb2.Pod, term: core_pb2.PodAffinityTerm) -> AffinityTerm:
    """newAffinityTerm + getNamespacesFromPodAffinityTerm: no namespaces and no namespaceSelector means the
    carrying pod's own namespace. (The MatchLabelKeys/MismatchLabelKeys fields are not in kubemu's API.)"""
    if not term.namespaces and not term.HasField("namespace_selector"):
        namespaces = frozenset([pod.metadata.namespace])
    else:
        namespaces = frozenset(term.namespaces)
    return AffinityTerm(
        namespaces,
        label_selector(term.HasField("label_selector"), term.label_selector),
        term.topology_key,
        label_selector(term.HasField("namespace_selector"), term.namespace_selector),
    )


def _terms(pod: core_pb2.Pod, terms: Iterable[core_pb2.PodAffinityTerm]) -> list[AffinityTerm]:
    return [new_affinity_term(pod, t) for t in terms]


def _weighted(pod: core_pb2.Pod, terms: Iterable[core_pb2.WeightedPodAffinityTerm]) -> list[WeightedAffinityTerm]:
    return [WeightedAffinityTerm(new_affinity_term(pod, t.pod_affinity_term), t.weight) for t in terms]


def required_affinity_terms(pod: core_pb2.Pod) -> list[AffinityTerm]:
    return _terms(pod, pod.spec.affinity.pod_affinity.required_during_scheduling_ignored_during_execution)


def required_anti_affinity_terms(pod: core_pb2.Pod) -> list[AffinityTerm]:
    return _terms(pod, pod.spec.affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution)


def preferred_affinity_terms(pod: core_pb2.Pod) -> list[WeightedAffinityTerm]:
    return _weighted(pod, pod.spec.affinity.pod_affinity.preferred_during_scheduling_ignored_during_execution)


def preferred_anti_affinity_terms(pod: core_pb2.Pod) -> list[WeightedAffinityTerm]:
    return _weighted(pod, pod.spec.affinity.pod_anti_affinity.preferred_during_scheduling_ignored_during_execution)


@dataclass
class _FilterState:
    """preFilterState: per topology pair, how many existing pods match (or are matched by) the terms."""

    existing_anti_affinity_counts: dict[TopologyPair, int]
    affinity_counts: dict[TopologyPair, int]
    anti_affinity_counts: dict[TopologyPair, int]
    affinity_terms: list[AffinityTerm]
    anti_affinity_terms: list[AffinityTerm]


def _bump(counts: dict[TopologyPair, int], node: core_pb2.Node, key: str, value: int) -> None:
    if key in node.metadata.labels:
        pair = (key, node.metadata.labels[key])
        counts[pair] = counts.get(pair, 0) + value


class InterPodAffinity:
    """Filter and score. `namespace_labels` stands in for upstream's namespace lister when resolving
    namespaceSelectors: by default a namespace is assumed to carry only kubernetes.io/metadata.name."""

    name = NAME

    def __init__(self, namespace_labels: NamespaceLabels = default_namespace_labels) -> None:
        self.namespace_labels = namespace_labels

    # --- filter ---

    def _pre_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> _FilterState:
        """PreFilter: computed once per cycle (pod and snapshot), then read by every Filter call."""
        return snapshot.cycle_state(NAME + "/pre-filter", pod, lambda: self._calc_pre_filter(pod, snapshot))

    def _calc_pre_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> _FilterState:
        ns_labels = self.namespace_labels(pod.metadata.namespace)
        affinity_terms = required_affinity_terms(pod)
        anti_terms = required_anti_affinity_terms(pod)
        existing: dict[TopologyPair, int] = {}
        affinity: dict[TopologyPair, int] = {}
        anti: dict[TopologyPair, int] = {}
        # Only pods with affinity can have anti-affinity terms (NodeInfo.PodsWithAffinity upstream) unless the
        # incoming pod has terms of its own to match every pod against.
        everyone = bool(affinity_terms or anti_terms)
        for info in snapshot.nodes:
            for other in (info.pods if everyone else info.pods_with_affinity):
                self._count_existing(pod, ns_labels, info.node, other, affinity_terms, anti_terms,
                                     existing, affinity, anti)
        return _FilterState(existing, affinity, anti, affinity_terms, anti_terms)

    def _count_existing(self, pod: core_pb2.Pod, ns_labels: Mapping[str, str], node: core_pb2.Node,
                        other: core_pb2.Pod, affinity_terms: list[AffinityTerm], anti_terms: list[AffinityTerm],
                        existing: dict[TopologyPair, int], affinity: dict[TopologyPair, int],
                        anti: dict[TopologyPair, int]) -> None:
        # getExistingAntiAffinityCounts: existing pods' required anti-affinity terms that match the pod.
        for t in required_anti_affinity_terms(other):
            if t.matches(pod, ns_labels):
                _bump(existing, node, t.topology_key, 1)
        if not affinity_terms and not anti_terms:
            return
        # The incoming pod's namespaceSelector is resolved against the existing pod's namespace, which is
        # what upstream's merge of the selected namespaces into the term amounts to.
        other_ns = self.namespace_labels(other.metadata.namespace)
        # updateWithAffinityTerms: the existing pod must match ALL required affinity terms to count.
        if affinity_terms and all(t.matches(other, other_ns) for t in affinity_terms):
            for t in affinity_terms:
                _bump(affinity, node, t.topology_key, 1)
        for t in anti_terms:
            if t.matches(other, other_ns):
                _bump(anti, node, t.topology_key, 1)

    def _satisfy_pod_affinity(self, pod: core_pb2.Pod, state: _FilterState, node: core_pb2.Node) -> bool:
        pods_exist = True
        for t in state.affinity_terms:
            if t.topology_key not in node.metadata.labels:
                # All topology labels must exist on the node.
                return False
            if state.affinity_counts.get((t.topology_key, node.metadata.labels[t.topology_key]), 0) <= 0:
                pods_exist = False
        if not pods_exist:
            # The first pod of a group with affinity to itself: if no pod anywhere matches the terms and the
            # pod matches its own terms, it may go anywhere that has the topology labels.
            own_ns = self.namespace_labels(pod.metadata.namespace)
            return not state.affinity_counts and bool(state.affinity_terms) and all(
                t.matches(pod, own_ns) for t in state.affinity_terms
            )
        return True

    @staticmethod
    def _satisfy_pod_anti_affinity(state: _FilterState, node: core_pb2.Node) -> bool:
        if state.anti_affinity_counts:
            for t in state.anti_affinity_terms:
                if t.topology_key in node.metadata.labels:
                    pair = (t.topology_key, node.metadata.labels[t.topology_key])
                    if state.anti_affinity_counts.get(pair, 0) > 0:
                        return False
        return True

    @staticmethod
    def _satisfy_existing_pods_anti_affinity(state: _FilterState, node: core_pb2.Node) -> bool:
        if state.existing_anti_affinity_counts:
            for key, value in node.metadata.labels.items():
                if state.existing_anti_affinity_counts.get((key, value), 0) > 0:
                    return False
        return True

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreFilter's Skip: neither the pod nor any pod on a node has affinity or anti-affinity terms."""
        return not has_pod_affinity(pod) and not snapshot.any_pod_affinity

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        state = self._pre_filter(pod, snapshot)
        n = node.node
        # Affinity failures are unresolvable (evicting pods cannot create a matching pod); anti-affinity ones
        # may be fixed by preemption, hence plain Unschedulable.
        if not self._satisfy_pod_affinity(pod, state, n):
            return unschedulable(self.name, ERR_REASON_AFFINITY_RULES_NOT_MATCH, unresolvable=True)
        if not self._satisfy_pod_anti_affinity(state, n):
            return unschedulable(self.name, ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
        if not self._satisfy_existing_pods_anti_affinity(state, n):
            return unschedulable(self.name, ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
        return OK

    # --- score ---

    def skip(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreScore's Skip: the pod has no preferred (anti-)affinity terms and no node holds a pod with
        affinity terms of its own, so nothing can score."""
        if preferred_affinity_terms(pod) or preferred_anti_affinity_terms(pod):
            return False
        return not snapshot.any_pod_affinity

    def _topology_scores(self, pod: core_pb2.Pod, snapshot: Snapshot) -> dict[str, dict[str, int]]:
        """PreScore: computed once per cycle (pod and snapshot), then read by every Score call."""
        return snapshot.cycle_state(NAME + "/pre-score", pod, lambda: self._calc_topology_scores(pod, snapshot))

    def _calc_topology_scores(self, pod: core_pb2.Pod, snapshot: Snapshot) -> dict[str, dict[str, int]]:
        """topologyKey -> value -> summed weight, from every existing pod (processExistingPod)."""
        ns_labels = self.namespace_labels(pod.metadata.namespace)
        preferred = preferred_affinity_terms(pod)
        preferred_anti = preferred_anti_affinity_terms(pod)
        scores: dict[str, dict[str, int]] = {}

        def process(term: AffinityTerm, weight: int, target: core_pb2.Pod, target_ns: Mapping[str, str],
                    node: core_pb2.Node, multiplier: int) -> None:
            if term.matches(target, target_ns) and term.topology_key in node.metadata.labels:
                per_key = scores.setdefault(term.topology_key, {})
                value = node.metadata.labels[term.topology_key]
                per_key[value] = per_key.get(value, 0) + weight * multiplier

        def process_existing(node: core_pb2.Node, existing: core_pb2.Pod) -> None:
            existing_ns = self.namespace_labels(existing.metadata.namespace)
            # The incoming pod's preferred terms against the existing pod: affinity adds, anti-affinity subtracts.
            for w in preferred:
                process(w.term, w.weight, existing, existing_ns, node, 1)
            for w in preferred_anti:
                process(w.term, w.weight, existing, existing_ns, node, -1)
            # Symmetry: the existing pod's terms against the incoming pod (required affinity at hard weight 1).
            for t in required_affinity_terms(existing):
                process(t, HARD_POD_AFFINITY_WEIGHT, pod, ns_labels, node, 1)
            for w in preferred_affinity_terms(existing):
                process(w.term, w.weight, pod, ns_labels, node, 1)
            for w in preferred_anti_affinity_terms(existing):
                process(w.term, w.weight, pod, ns_labels, node, -1)

        # Without preferred terms of its own, only existing pods with affinity can add anything.
        everyone = bool(preferred or preferred_anti)
        for info in snapshot.nodes:
            node = info.node
            if not node.metadata.labels:
                continue
            for existing in (info.pods if everyone else info.pods_with_affinity):
                process_existing(node, existing)
        return scores

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """Score: the sum, over topology keys the node has, of its domain's weight (may be negative)."""
        total = 0
        labels = node.node.metadata.labels
        for key, values in self._topology_scores(pod, snapshot).items():
            if key in labels:
                total += values.get(labels[key], 0)
        return total

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        """NormalizeScore: min-max to 0..100 (truncated); all equal (or nothing to score) gives 0 each."""
        if not scores:
            return {}
        low, high = min(scores.values()), max(scores.values())
        diff = high - low
        out: dict[str, int] = {}
        for name, value in scores.items():
            out[name] = int(MAX_NODE_SCORE * ((value - low) / diff)) if diff > 0 else 0
        return out


inter_pod_affinity = InterPodAffinity()
