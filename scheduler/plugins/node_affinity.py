"""NodeAffinity (pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go and component-helpers
scheduling/corev1/nodeaffinity, v1.32): spec.nodeSelector and required node affinity filter, preferred scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubemu.api import labels
from kubemu.pb import core_pb2
from scheduler.framework import OK, NodeInfo, Snapshot, Status, default_normalize, unschedulable

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
OBJECT_NAME_FIELD = "metadata.name"

_OPERATORS = {
    "In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS, "DoesNotExist": labels.DOES_NOT_EXIST,
    "Gt": labels.GREATER_THAN, "Lt": labels.LESS_THAN,
}


@dataclass(frozen=True)
class _FieldRequirement:
    """fields.OneTermEqualSelector / OneTermNotEqualSelector."""

    key: str
    value: str
    equal: bool

    def matches(self, node_fields: Mapping[str, str]) -> bool:
        # fields.Set.Get gives "" for a missing field, so an unknown key compares as the empty string.
        return (node_fields.get(self.key, "") == self.value) == self.equal


@dataclass(frozen=True)
class _Term:
    """A parsed nodeSelectorTerm. `valid` False is a term with parse errors: it matches nothing."""

    valid: bool
    match_labels: labels.Selector | None = None
    match_fields: tuple[_FieldRequirement, ...] | None = None

    def matches(self, node_labels: Mapping[str, str], node_fields: Mapping[str, str]) -> bool:
        if not self.valid:
            return False
        if self.match_labels is not None and not self.match_labels.matches(node_labels):
            return False
        # Upstream skips field requirements for a node without fields (no name), hence the len() check.
        return not (
            self.match_fields is not None and node_fields and not all(r.matches(node_fields) for r in self.match_fields)
        )


def _expressions_as_selector(exprs: Sequence[core_pb2.NodeSelectorRequirement]) -> labels.Selector | None:
    """nodeSelectorRequirementsAsSelector; None on any parse error (unknown operator, Gt with a non-integer,
    In without values, invalid key or value), which upstream collects as the term's parse errors."""
    reqs: list[labels.Requirement] = []
    for expr in exprs:
        op = _OPERATORS.get(expr.operator)
        if op is None:
            return None
        try:
            reqs.append(labels.new_requirement(expr.key, op, list(expr.values) or None))
        except labels.SelectorError:
            return None
    return labels.Selector().add(*reqs)


def _expressions_as_field_selector(
    exprs: Sequence[core_pb2.NodeSelectorRequirement],
) -> tuple[_FieldRequirement, ...] | None:
    """nodeSelectorRequirementsAsFieldSelector: In/NotIn with exactly one value each, ANDed; None on errors."""
    reqs: list[_FieldRequirement] = []
    for expr in exprs:
        if expr.operator not in ("In", "NotIn") or len(expr.values) != 1:
            return None
        reqs.append(_FieldRequirement(expr.key, expr.values[0], expr.operator == "In"))
    return tuple(reqs)


def _is_empty_term(term: core_pb2.NodeSelectorTerm) -> bool:
    return not term.match_expressions and not term.match_fields


def parse_term(term: core_pb2.NodeSelectorTerm) -> _Term:
    """newNodeSelectorTerm. Callers drop empty terms first: a nil or empty term selects no objects."""
    match_labels = None
    match_fields = None
    if term.match_expressions:
        match_labels = _expressions_as_selector(term.match_expressions)
        if match_labels is None:
            return _Term(valid=False)
    if term.match_fields:
        match_fields = _expressions_as_field_selector(term.match_fields)
        if match_fields is None:
            return _Term(valid=False)
    return _Term(True, match_labels, match_fields)


def node_fields(node: core_pb2.Node) -> dict[str, str]:
    """extractNodeFields: metadata.name is the only field a term can select on."""
    return {OBJECT_NAME_FIELD: node.metadata.name} if node.metadata.name else {}


def _required_terms(pod: core_pb2.Pod) -> list[core_pb2.NodeSelectorTerm] | None:
    """requiredDuringSchedulingIgnoredDuringExecution's terms, or None when it is absent (no constraint).
    A present selector with no terms matches no node."""
    spec = pod.spec
    if not spec.HasField("affinity") or not spec.affinity.HasField("node_affinity"):
        return None
    na = spec.affinity.node_affinity
    if not na.HasField("required_during_scheduling_ignored_during_execution"):
        return None
    return list(na.required_during_scheduling_ignored_during_execution.node_selector_terms)


def required_node_affinity_matches(pod: core_pb2.Pod, node: core_pb2.Node) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): every nodeSelector entry (exact label match), and then any
    one of the required terms (ORed; each term's expressions and fields ANDed)."""
    node_labels = node.metadata.labels
    if pod.spec.node_selector and not labels.from_map(pod.spec.node_selector).matches(node_labels):
        return False
    terms = _required_terms(pod)
    if terms is None:
        return True
    fields = node_fields(node)
    return any(parse_term(t).matches(node_labels, fields) for t in terms if not _is_empty_term(t))


def pre_filter_node_names(pod: core_pb2.Pod) -> tuple[set[str] | None, Status]:
    """PreFilter's PreFilterResult: when every required term pins metadata.name with In, only those nodes
    (union over terms, intersection within a term) need filtering at all. (None, OK) means all nodes; an
    empty union is the Unresolvable `pod affinity terms conflict`."""
    terms = _required_terms(pod)
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


def preferred_terms(pod: core_pb2.Pod) -> list[tuple[int, _Term]]:
    """NewPreferredSchedulingTerms: (weight, term) for each preferred term, skipping weight 0 and empty terms.
    Upstream fails the whole cycle on a term that does not parse; API validation keeps such pods out, so here
    such a term just never matches."""
    spec = pod.spec
    if not spec.HasField("affinity") or not spec.affinity.HasField("node_affinity"):
        return []
    out = []
    for p in spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution:
        if p.weight == 0 or _is_empty_term(p.preference):
            continue
        out.append((int(p.weight), parse_term(p.preference)))
    return out


class NodeAffinity:
    """Filter and score (weight 2 in the default profile, applied by the caller)."""

    name = NAME

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        if required_node_affinity_matches(pod, node.node):
            return OK
        # Unresolvable: labels do not change by evicting pods, so preemption skips this node.
        return unschedulable(NAME, ERR_REASON_POD, unresolvable=True)

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """PreferredSchedulingTerms.Score: the sum of the weights of the preferred terms the node matches."""
        node_labels = node.node.metadata.labels
        fields = node_fields(node.node)
        return sum(w for w, term in preferred_terms(pod) if term.matches(node_labels, fields))

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        # DefaultNormalizeScore(MaxNodeScore, reverse=false): the best-matching node gets 100.
        return default_normalize(scores)


node_affinity = NodeAffinity()
