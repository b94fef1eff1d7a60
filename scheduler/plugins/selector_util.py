"""Selector helpers shared by the inter-pod affinity and topology spread plugins: label selectors that may be
nil (match nothing, as LabelSelectorAsSelector(nil) upstream) and a pod's required node affinity."""

from __future__ import annotations

from collections.abc import Mapping

from kubemu.api import labels
from kubemu.api.nodematch import Term, is_empty_term, node_fields, parse_term, required_terms
from kubemu.pb import core_pb2, meta_pb2
from scheduler.framework import NodeInfo, Snapshot

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


class RequiredNodeAffinity:
    """GetRequiredNodeAffinity: the pod's nodeSelector and required node affinity terms parsed once, matched
    as kubemu.api.nodematch.required_node_affinity_matches does."""

    def __init__(self, pod: core_pb2.Pod) -> None:
        spec = pod.spec
        self._selector = labels.from_map(spec.node_selector) if spec.node_selector else None
        terms = required_terms(pod)
        self._terms: list[Term] | None = (
            None if terms is None else [parse_term(t) for t in terms if not is_empty_term(t)])
        self.key = repr((sorted(spec.node_selector.items()),
                         None if terms is None else [t.SerializeToString(deterministic=True) for t in terms]))
        """What the answer depends on besides the node: pods with the same key match the same nodes. Text,
        whose hash Python keeps, as it is looked up once per node."""

    def matches_info(self, info: NodeInfo) -> bool:
        """`matches` for a node info, remembered on it: a changed Node gets a new NodeInfo, and the pods of a
        workload share their node selector and affinity, so most cycles answer from the memo."""
        if self._selector is None and self._terms is None:
            return True
        memo = info.affinity_matches
        found = memo.get(self.key)
        if found is None:
            if len(memo) >= 64:
                memo.clear()
            found = memo[self.key] = self.matches(info.node)
        return found

    def matches(self, node: core_pb2.Node) -> bool:
        node_labels = node.metadata.labels
        if self._selector is not None and not self._selector.matches(node_labels):
            return False
        if self._terms is None:
            return True
        fields = node_fields(node)
        return any(t.matches(node_labels, fields) for t in self._terms)


def required_node_affinity(pod: core_pb2.Pod, snapshot: Snapshot) -> RequiredNodeAffinity:
    """The pod's RequiredNodeAffinity, parsed once per cycle."""
    return snapshot.cycle_state("RequiredNodeAffinity", pod, lambda: RequiredNodeAffinity(pod))
