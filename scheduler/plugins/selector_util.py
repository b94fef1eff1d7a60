"""Selector helpers shared by the inter-pod affinity and topology spread plugins: label selectors that may be
nil (match nothing, as LabelSelectorAsSelector(nil) upstream) and a pod's required node affinity."""

from __future__ import annotations

from collections.abc import Mapping

from kubemu.api import labels
from kubemu.pb import core_pb2, meta_pb2

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""The label the apiserver puts on every namespace; the only namespace label a plugin without a namespace
lister can count on."""

Nothing = None
"""labels.Nothing(): how a nil LabelSelector converts. Represented as None next to real Selectors."""

MaybeSelector = labels.Selector | None


def label_selector(present: bool, ls: meta_pb2.LabelSelector) -> MaybeSelector:
    """metav1.LabelSelectorAsSelector: nil matches nothing, {} matches everything. An invalid selector (which
    validation keeps out of stored objects) is treated as matching nothing rather than failing the cycle."""
    if not present:
        return Nothing
    try:
        return labels.from_label_selector(ls)
    except labels.SelectorError:
        return Nothing


def selector_matches(sel: MaybeSelector, values: Mapping[str, str]) -> bool:
    return sel is not None and sel.matches(values)


def default_namespace_labels(namespace: str) -> dict[str, str]:
    """What a namespace's labels are assumed to be when no namespace lister is wired in."""
    return {NAMESPACE_NAME_LABEL: namespace}


def is_terminating(pod: core_pb2.Pod) -> bool:
    return pod.metadata.HasField("deletion_timestamp")


_NODE_SELECTOR_OPERATORS = {
    "In": labels.IN, "NotIn": labels.NOT_IN, "Exists": labels.EXISTS, "DoesNotExist": labels.DOES_NOT_EXIST,
    "Gt": labels.GREATER_THAN, "Lt": labels.LESS_THAN,
}


def _term_matches(term: core_pb2.NodeSelectorTerm, node: core_pb2.Node) -> bool:
    # component-helpers nodeSelectorTerm.match: an empty term or one that fails to parse matches nothing.
    if not term.match_expressions and not term.match_fields:
        return False
    node_labels = node.metadata.labels
    for expr in term.match_expressions:
        op = _NODE_SELECTOR_OPERATORS.get(expr.operator)
        if op is None:
            return False
        try:
            req = labels.new_requirement(expr.key, op, list(expr.values) or None)
        except labels.SelectorError:
            return False
        if not req.matches(node_labels):
            return False
    for field in term.match_fields:
        # Only metadata.name with In/NotIn and exactly one value is a valid field requirement.
        if field.key != "metadata.name" or field.operator not in ("In", "NotIn") or len(field.values) != 1:
            return False
        hit = node.metadata.name in field.values
        if hit != (field.operator == "In"):
            return False
    return True


def required_node_affinity_matches(pod: core_pb2.Pod, node: core_pb2.Node) -> bool:
    """nodeaffinity.GetRequiredNodeAffinity(pod).Match(node): the nodeSelector map and the required node
    affinity terms (ORed), both of which must hold."""
    node_labels = node.metadata.labels
    for key, value in pod.spec.node_selector.items():
        if node_labels.get(key) != value:
            return False
    affinity = pod.spec.affinity
    if affinity.HasField("node_affinity") and affinity.node_affinity.HasField(
        "required_during_scheduling_ignored_during_execution"
    ):
        terms = affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
        return any(_term_matches(t, node) for t in terms)
    return True
