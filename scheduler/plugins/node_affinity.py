"""NodeAffinity (pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go and component-helpers
scheduling/corev1/nodeaffinity, v1.32): spec.nodeSelector and required node affinity filter, preferred scores."""

from __future__ import annotations

from kubemu.api.nodematch import (
    OBJECT_NAME_FIELD,
    Term,
    is_empty_term,
    node_fields,
    parse_term,
    required_terms,
)
from kubemu.pb import core_pb2
from scheduler.framework import (
    OK,
    NodeInfo,
    Snapshot,
    Status,
    default_normalize,
    default_normalize_values,
    unschedulable,
)
from scheduler.plugins.selector_util import required_node_affinity

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"


def pre_filter_node_names(pod: core_pb2.Pod) -> tuple[set[str] | None, Status]:
    """PreFilter's PreFilterResult: when every required term pins metadata.name with In, only those nodes
    (union over terms, intersection within a term) need filtering at all. (None, OK) means all nodes; an
    empty union is the Unresolvable `pod affinity terms conflict`."""
    terms = required_terms(pod)
    if not terms:
        return None, OK
    names: set[str] | None = None
    for t in terms:
        term_names: set[str] | None = None
        for r in t.match_fields:
            if r.key == OBJECT_NAME_FIELD and r.operator == "In":
                term_names = set(r.values) if term_names is None else term_names & set(r.values)
        if term_names is None:
            # A term without a name requirement admits any node, and terms are ORed.
            return None, OK
        names = term_names if names is None else names | term_names
    if not names:
        return set(), unschedulable(NAME, ERR_REASON_CONFLICT, unresolvable=True)
    return names, OK


def preferred_terms(pod: core_pb2.Pod) -> list[tuple[int, Term]]:
    """NewPreferredSchedulingTerms: (weight, term) for each preferred term, skipping weight 0 and empty terms.
    Upstream fails the whole cycle on a term that does not parse; API validation keeps such pods out, so here
    such a term just never matches."""
    spec = pod.spec
    if not spec.HasField("affinity") or not spec.affinity.HasField("node_affinity"):
        return []
    out = []
    for p in spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution:
        if p.weight == 0 or is_empty_term(p.preference):
            continue
        out.append((int(p.weight), parse_term(p.preference)))
    return out


class NodeAffinity:
    """Filter and score (weight 2 in the default profile, applied by the caller)."""

    name = NAME

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreFilter's Skip: no nodeSelector and no required node affinity."""
        return not pod.spec.node_selector and required_terms(pod) is None

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        if required_node_affinity(pod, snapshot).matches_info(node):
            return OK
        # Unresolvable: labels do not change by evicting pods, so preemption skips this node.
        return unschedulable(NAME, ERR_REASON_POD, unresolvable=True)

    def skip(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreScore's Skip: the pod has no preferred terms."""
        return not snapshot.cycle_state(NAME + "/pre-score", pod, lambda: preferred_terms(pod))

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """PreferredSchedulingTerms.Score: the sum of the weights of the preferred terms the node matches."""
        node_labels = node.node.metadata.labels
        fields = node_fields(node.node)
        terms = snapshot.cycle_state(NAME + "/pre-score", pod, lambda: preferred_terms(pod))
        return sum(w for w, term in terms if term.matches(node_labels, fields))

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        # DefaultNormalizeScore(MaxNodeScore, reverse=false): the best-matching node gets 100.
        return default_normalize(scores)

    def normalize_values(self, pod: core_pb2.Pod, values: list[int], snapshot: Snapshot) -> list[int]:
        return default_normalize_values(values)


node_affinity = NodeAffinity()
