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
