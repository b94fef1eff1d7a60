"""Whether a pod may run on a node by its labels and taints: nodeSelector, required node affinity terms and
taint tolerations, shared by the scheduler, the DaemonSet controller and the taint manager (component-helpers
scheduling/corev1 upstream)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kubemu.api import labels
from kubemu.pb import core_pb2

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
class Term:
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


def is_empty_term(term: core_pb2.NodeSelectorTerm) -> bool:
    return not term.match_expressions and not term.match_fields


def parse_term(term: core_pb2.NodeSelectorTerm) -> Term:
    """newNodeSelectorTerm. Callers drop empty terms first: a nil or empty term selects no objects."""
    match_labels = None
    match_fields = None
    if term.match_expressions:
        match_labels = _expressions_as_selector(term.match_expressions)
        if match_labels is None:
            return Term(valid=False)
    if term.match_fields:
        match_fields = _expressions_as_field_selector(term.match_fields)
        if match_fields is None:
            return Term(valid=False)
    return Term(True, match_labels, match_fields)


def node_fields(node: core_pb2.Node) -> dict[str, str]:
    """extractNodeFields: metadata.name is the only field a term can select on."""
    return {OBJECT_NAME_FIELD: node.metadata.name} if node.metadata.name else {}


def required_terms(pod: core_pb2.Pod) -> list[core_pb2.NodeSelectorTerm] | None:
    """requiredDuringSchedulingIgnoredDuringExecution's terms, or None when it is absent (no constraint).
    A present selector with no terms matches no node."""
    return _spec_required_terms(pod.spec)


def _spec_required_terms(spec: core_pb2.PodSpec) -> list[core_pb2.NodeSelectorTerm] | None:
    if not spec.HasField("affinity") or not spec.affinity.HasField("node_affinity"):
        return None
    na = spec.affinity.node_affinity
    if not na.HasField("required_during_scheduling_ignored_during_execution"):
        return None
    return list(na.required_during_scheduling_ignored_during_execution.node_selector_terms)


def spec_matches_node(spec: core_pb2.PodSpec, node: core_pb2.Node) -> bool:
    """GetRequiredNodeAffinity(pod).Match(node): every nodeSelector entry (exact label match), and then any
    one of the required terms (ORed; each term's expressions and fields ANDed)."""
    node_labels = node.metadata.labels
    if spec.node_selector and not labels.from_map(spec.node_selector).matches(node_labels):
        return False
    terms = _spec_required_terms(spec)
    if terms is None:
        return True
    fields = node_fields(node)
    return any(parse_term(t).matches(node_labels, fields) for t in terms if not is_empty_term(t))


def required_node_affinity_matches(pod: core_pb2.Pod, node: core_pb2.Node) -> bool:
    return spec_matches_node(pod.spec, node)


def tolerates(tolerations: Iterable[core_pb2.Toleration], taint: core_pb2.Taint) -> bool:
    """v1.Toleration.ToleratesTaint over a list: an empty effect matches all effects; an empty key with Exists
    matches all keys."""
    for t in tolerations:
        if t.effect and t.effect != taint.effect:
            continue
        if t.key and t.key != taint.key:
            continue
        if not t.key and t.operator != "Exists":
            continue
        if t.operator == "Exists" or (t.operator in ("", "Equal") and t.value == taint.value):
            return True
    return False


def untolerated_taint(taints: Iterable[core_pb2.Taint], tolerations: Sequence[core_pb2.Toleration],
                      effects: Iterable[str]) -> core_pb2.Taint | None:
    """FindMatchingUntoleratedTaint: the first taint with one of `effects` that no toleration tolerates."""
    wanted = set(effects)
    return next((t for t in taints if t.effect in wanted and not tolerates(tolerations, t)), None)
