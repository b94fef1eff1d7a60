"""PodTopologySpread (pkg/scheduler/framework/plugins/podtopologyspread, v1.32): DoNotSchedule constraints as a
filter on skew, ScheduleAnyway constraints as a score favouring domains with fewer matching pods."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, cast

from kubemu.api import labels
from kubemu.pb import core_pb2
from scheduler.framework import MAX_NODE_SCORE, OK, NodeInfo, Snapshot, Status, remember, shared_key, unschedulable
from scheduler.plugins.selector_util import (
    MaybeSelector,
    RequiredNodeAffinity,
    is_terminating,
    label_selector,
    required_node_affinity,
)

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"

DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
LABEL_HOSTNAME = "kubernetes.io/hostname"
_MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class SpreadConstraint:
    """topologySpreadConstraint: the parsed form. The node inclusion policies are upstream's defaults
    (nodeAffinityPolicy Honor, nodeTaintsPolicy Ignore): kubemu's API has no fields to change them."""

    max_skew: int
    topology_key: str
    selector: MaybeSelector
    min_domains: int
    selector_key: str = ""
    """The selector as text, made once: the per-node match counts are kept under it."""


def _merge_match_label_keys(pod: core_pb2.Pod, c: core_pb2.TopologySpreadConstraint,
                            selector: MaybeSelector) -> MaybeSelector:
    """matchLabelKeys (beta, on in v1.32): the pod's values for those keys are ANDed into the selector.
    mergeLabelSetWithSelector returns a nothing-selector unchanged."""
    match = {k: pod.metadata.labels[k] for k in c.match_label_keys if k in pod.metadata.labels}
    if not match or selector is None:
        return selector
    return labels.from_map(match).add(*selector.requirements)


_PARSED: dict[tuple[str, tuple[bytes, ...], tuple[tuple[str, str], ...]], tuple[SpreadConstraint, ...]] = {}
PARSED_LIMIT = 1024
"""Parsed constraint lists kept by spread_constraints; past it they start over."""


def spread_constraints(pod: core_pb2.Pod, action: str) -> tuple[SpreadConstraint, ...]:
    """filterTopologySpreadConstraints: the pod's constraints for one whenUnsatisfiable action. The
    cluster-level default constraints (system defaulting) are not applied in kubemu. Parsed once per
    (action, constraints, the pod's values for their matchLabelKeys): every pod of a workload, scheduled in
    turn, gets the same parsed tuple (selectors and all) instead of parsing its selectors again each cycle."""
    spec = pod.spec.topology_spread_constraints
    if not spec:
        return ()
    pod_labels = pod.metadata.labels
    key = (action, tuple(c.SerializeToString(deterministic=True) for c in spec),
           tuple((k, pod_labels[k]) for c in spec for k in c.match_label_keys if k in pod_labels))
    found = _PARSED.get(key)
    if found is None:
        parsed = tuple(_parse(pod, c) for c in spec if c.when_unsatisfiable == action)
        found = remember(_PARSED, key, parsed, PARSED_LIMIT)
    return found


def _parse(pod: core_pb2.Pod, c: core_pb2.TopologySpreadConstraint) -> SpreadConstraint:
    selector = label_selector(c.HasField("label_selector"), c.label_selector)
    selector = _merge_match_label_keys(pod, c, selector)
    min_domains = c.min_domains if c.HasField("min_domains") else 1
    return SpreadConstraint(c.max_skew, c.topology_key, selector, min_domains,
                            str(selector) if selector is not None else "")


def count_pods_match_selector(pods: Iterable[core_pb2.Pod], selector: MaybeSelector, namespace: str) -> int:
    """countPodsMatchSelector: terminating pods and other namespaces do not count, nor does anything under an
    empty selector (selector.Empty() returns 0 upstream, although the incoming pod still self-matches)."""
    if selector is None or selector.empty:
        return 0
    return sum(
        1 for p in pods
        if not is_terminating(p) and p.metadata.namespace == namespace and selector.matches(p.metadata.labels)
    )


def count_on_node(info: NodeInfo, c: SpreadConstraint, namespace: str) -> int:
    """count_pods_match_selector for the constraint's selector over a node's pods, remembered on the NodeInfo
    (under the selector's text) until its pods change."""
    if c.selector is None or c.selector.empty:
        return 0
    key = (c.selector_key, namespace)
    found = info.match_counts.get(key)
    if found is None:
        found = info.match_counts[key] = count_pods_match_selector(info.pods, c.selector, namespace)
    return found


def topology_values(info: NodeInfo, keys: tuple[str, ...], keys_text: str) -> tuple[str, ...] | None:
    """The node's label values for the keys, or None when it lacks one (nodeLabelsMatchSpreadConstraints), kept on
    the node info under the keys joined (`keys_text`): a changed Node gets a new node info."""
    memo = info.topology_values
    if keys_text in memo:
        return memo[keys_text]
    node_labels = info.node.metadata.labels
    found = tuple(node_labels[k] for k in keys) if all(k in node_labels for k in keys) else None
    if len(memo) >= 64:
        memo.clear()
    memo[keys_text] = found
    return found


class _DomainCodes:
    """A small int for each distinct tuple of topology values (0 for None: the node lacks a key), so a column of
    the candidates' domains is ints: looked up in a list, where a tuple would be hashed at every lookup. Codes
    are never reassigned; past LIMIT tuples they start over under a new `epoch`, which the columns' keys name,
    so no column ever mixes codes of two epochs."""

    LIMIT = 65536

    def __init__(self) -> None:
        self.epoch = 0
        self.codes: dict[tuple[str, ...] | None, int] = {None: 0}
        self.values: list[tuple[str, ...] | None] = [None]

    def code(self, values: tuple[str, ...] | None) -> int:
        found = self.codes.get(values)
        if found is None:
            found = self.codes[values] = len(self.values)
            self.values.append(values)
        return found

    def renew_if_full(self) -> None:
        """Start over past LIMIT (called before a cycle asks for its column, never while one is built)."""
        if len(self.values) >= self.LIMIT:
            self.epoch += 1
            self.codes = {None: 0}
            self.values = [None]


DOMAINS = _DomainCodes()


def _domain_code(info: NodeInfo, keys: tuple[str, ...], keys_text: str) -> int:
    return DOMAINS.code(topology_values(info, keys, keys_text))


def _share(info: NodeInfo, sig: str, constraints: Sequence[SpreadConstraint], affinity: RequiredNodeAffinity,
           namespace: str, skip_hostname: bool) -> tuple[tuple[int, str, int], ...]:
    """The node's part of the per-domain counts: (constraint index, domain, matching pods) per constraint, () for
    a node that does not count (a key missing, or the pod's required node affinity not matched). Kept on the
    node info under `sig` until its pods change."""
    share = info.spread_counts.get(sig)
    if share is None:
        keys = tuple(c.topology_key for c in constraints)
        values = topology_values(info, keys, shared_key("\0".join(keys)))
        share = ()
        if values is not None and affinity.matches_info(info):
            share = tuple((i, values[i], count_on_node(info, c, namespace)) for i, c in enumerate(constraints)
                          if not (skip_hostname and c.topology_key == LABEL_HOSTNAME))
        if len(info.spread_counts) >= 64:
            info.spread_counts.clear()
        info.spread_counts[sig] = share
    return share


class _DomainSums:
    """Per constraint, the matching pods per domain and how many nodes are in each domain (a domain leaves when
    its last node does), with each node's share as added, so a changed node is subtracted and added again."""

    def __init__(self, n: int) -> None:
        self.counts: list[dict[str, int]] = [{} for _ in range(n)]
        self.nodes: list[dict[str, int]] = [{} for _ in range(n)]
        self.shares: dict[str, tuple[tuple[int, str, int], ...]] = {}

    def add(self, name: str, share: tuple[tuple[int, str, int], ...]) -> None:
        self.shares[name] = share
        for i, value, n in share:
            per = self.counts[i]
            per[value] = per.get(value, 0) + n
            self.nodes[i][value] = self.nodes[i].get(value, 0) + 1

    def remove(self, name: str) -> None:
        for i, value, n in self.shares.pop(name, ()):
            left = self.nodes[i][value] - 1
            if left:
                self.nodes[i][value] = left
                self.counts[i][value] -= n
            else:
                del self.nodes[i][value], self.counts[i][value]

    def update(self, name: str, share: tuple[tuple[int, str, int], ...] | None) -> None:
        """The node's share replaced (None: the node is gone)."""
        self.remove(name)
        if share is not None:
            self.add(name, share)


def _domain_counts(snapshot: Snapshot, constraints: Sequence[SpreadConstraint], affinity: RequiredNodeAffinity,
                   namespace: str, *, skip_hostname: bool) -> list[dict[str, int]]:
    """Per constraint, the pods matching its selector in each domain, over the nodes that have every
    constraint's key and pass the pod's required node affinity (nodeAffinityPolicy Honor); a domain whose
    nodes hold no matching pod is there with 0. Each node's share is kept on its node info until its pods
    change; over a cache's snapshot the sums themselves are kept in its change log and brought up to date from
    the nodes changed since, so a cycle touches the changed nodes, not every node."""
    # As text: a str caches its hash, a nested tuple is hashed again at every lookup.
    sig = repr((skip_hostname, [(c.topology_key, c.selector_key) for c in constraints], affinity.key, namespace))

    def update(sums: _DomainSums, name: str, info: NodeInfo | None) -> None:
        sums.update(name, None if info is None else _share(info, sig, constraints, affinity, namespace, skip_hostname))

    sums = snapshot.kept(sig, lambda: _DomainSums(len(constraints)), update)
    return [dict(per) for per in sums.counts]


class _CriticalPaths:
    """criticalPaths: the two smallest (value, count) entries, so [0] holds the global minimum."""

    def __init__(self) -> None:
        self.paths: list[tuple[str, int]] = [("", _MAX_INT32), ("", _MAX_INT32)]

    def update(self, value: str, num: int) -> None:
        p = self.paths
        i = 0 if value == p[0][0] else 1 if value == p[1][0] else -1
        if i >= 0:
            p[i] = (value, num)
            if p[0][1] > p[1][1]:
                p[0], p[1] = p[1], p[0]
        elif num < p[0][1]:
            p[1] = p[0]
            p[0] = (value, num)
        elif num < p[1][1]:
            p[1] = (value, num)

    @property
    def min_match(self) -> int:
        return self.paths[0][1]


@dataclass
class _FilterState:
    constraints: Sequence[SpreadConstraint]
    critical_paths: list[_CriticalPaths]
    value_to_match_num: list[dict[str, int]]

    def min_match_num(self, i: int) -> int:
        """minMatchNum: the global minimum, taken as 0 while there are fewer domains than minDomains."""
        if len(self.value_to_match_num[i]) < self.constraints[i].min_domains:
            return 0
        return self.critical_paths[i].min_match


@dataclass
class _ScoreState:
    constraints: Sequence[SpreadConstraint]
    counts: list[dict[str, int]]
    """Per constraint (hostname ones left empty): matching pods per domain."""


class PodTopologySpread:
    """Filter (DoNotSchedule) and score (ScheduleAnyway)."""

    name = NAME
    helpers: ClassVar[frozenset[str]] = frozenset({"raw_scores"})
    """Public, but no hook: the raw scores behind normalized_scores, for tests to check them against."""

    # --- filter ---

    @staticmethod
    def _pre_filter(pod: core_pb2.Pod, snapshot: Snapshot) -> _FilterState:
        """PreFilter: computed once per cycle (pod and snapshot), then read by every Filter call."""
        return snapshot.cycle_state(NAME + "/pre-filter", pod,
                                    lambda: PodTopologySpread._calc_pre_filter(pod, snapshot))

    @staticmethod
    def _calc_pre_filter(pod: core_pb2.Pod, snapshot: Snapshot) -> _FilterState:
        """calPreFilterState: matching pods per domain, over nodes that have every constraint's key and pass
        the pod's nodeSelector / required node affinity (nodeAffinityPolicy Honor)."""
        constraints = spread_constraints(pod, DO_NOT_SCHEDULE)
        counts: list[dict[str, int]] = [{} for _ in constraints]
        if constraints:
            counts = _domain_counts(snapshot, constraints, required_node_affinity(pod, snapshot),
                                    pod.metadata.namespace, skip_hostname=False)
        paths = []
        for per_value in counts:
            cp = _CriticalPaths()
            for value, num in per_value.items():
                cp.update(value, num)
            paths.append(cp)
        return _FilterState(constraints, paths, counts)

    def skip_filter(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreFilter's Skip: the pod has no DoNotSchedule constraints."""
        return not self._pre_filter(pod, snapshot).constraints

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        state = self._pre_filter(pod, snapshot)
        node_labels = node.node.metadata.labels
        for i, c in enumerate(state.constraints):
            if c.topology_key not in node_labels:
                # No domain at all: preemption cannot help.
                return unschedulable(self.name, ERR_REASON_NODE_LABEL_NOT_MATCH, unresolvable=True)
            # 'existing matching num' + 'if self-match (1 or 0)' - 'global minimum' <= 'maxSkew'
            self_match = 1 if c.selector is not None and c.selector.matches(pod.metadata.labels) else 0
            match_num = state.value_to_match_num[i].get(node_labels[c.topology_key], 0)
            if match_num + self_match - state.min_match_num(i) > c.max_skew:
                # Evicting matching pods could lower the skew, so this one is left to preemption.
                return unschedulable(self.name, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return OK

    # --- score ---

    @staticmethod
    def _pre_score(pod: core_pb2.Pod, snapshot: Snapshot) -> _ScoreState:
        """PreScore's counting, once per cycle: the ScheduleAnyway constraints (selectors parsed once) and the
        matching pods per domain over the nodes that pass the pod's required node affinity and have every
        key. Upstream counts only the domains of candidate nodes; counting every domain and looking up only
        the candidates' gives the same numbers whatever the candidates are."""

        def calc() -> _ScoreState:
            constraints = spread_constraints(pod, SCHEDULE_ANYWAY)
            counts: list[dict[str, int]] = [{} for _ in constraints]
            if constraints and any(c.topology_key != LABEL_HOSTNAME for c in constraints):
                # Per-node (hostname) counts are taken in Score.
                counts = _domain_counts(snapshot, constraints, required_node_affinity(pod, snapshot),
                                        pod.metadata.namespace, skip_hostname=True)
            return _ScoreState(constraints, counts)

        return snapshot.cycle_state(NAME + "/pre-score", pod, calc)

    @staticmethod
    def raw_scores(pod: core_pb2.Pod, filtered: Sequence[NodeInfo], snapshot: Snapshot) -> list[int | None] | None:
        """PreScore + Score for the nodes that passed filtering, in their order: None for ignored nodes (missing
        a key), otherwise round(sum of count * log(domains + 2) + maxSkew - 1) over the ScheduleAnyway
        constraints. None when the pod has no such constraints (upstream's Skip)."""
        scored = PodTopologySpread._scores(pod, filtered, snapshot)
        if scored is None:
            return None
        codes, by_code, per_node = scored
        return per_node if per_node is not None else [by_code.get(c) for c in codes]

    @staticmethod
    def _scores(pod: core_pb2.Pod, filtered: Sequence[NodeInfo], snapshot: Snapshot
                ) -> tuple[Sequence[int], dict[int, int], list[int | None] | None] | None:
        """The raw scores as (each node's domain code (DOMAINS: its values for the keys, 0 for a node the pod's
        own constraints ignore), the score of each code but 0, None), or, with a per-node (hostname)
        constraint, ([], {}, the score of each node). Without a per-node constraint nodes with the same values
        score the same, so a score is worked out once per domain rather than once per node (420 candidates of
        1,000 nodes in 10 zones: 10 sums), and when the candidates are a run of the snapshot's nodes their codes
        are a slice of a kept column."""
        state = PodTopologySpread._pre_score(pod, snapshot)
        constraints = state.constraints
        if not constraints or not snapshot.nodes:
            return None
        keys = tuple(c.topology_key for c in constraints)
        keys_text = shared_key("\0".join(keys))
        per_host = any(k == LABEL_HOSTNAME for k in keys)

        def score_for(info: NodeInfo | None, v: tuple[str, ...]) -> int:
            score = 0.0
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    assert info is not None
                    cnt = count_on_node(info, c, pod.metadata.namespace)
                else:
                    cnt = state.counts[i].get(v[i], 0)
                # scoreForCount: maxSkew - 1 waters down differences between domains.
                score += cnt * weights[i] + (c.max_skew - 1)
            # Go's math.Round rounds halves away from zero (Python's round() would go to even); never negative.
            whole = math.floor(score)
            return whole + 1 if score - whole >= 0.5 else whole

        if per_host:
            values = snapshot.column_for(filtered, "topology values " + keys_text,
                                         partial(topology_values, keys=keys, keys_text=keys_text))
            if values is None:
                values = _candidate_values(filtered, keys, keys_text)
            distinct = set(values)
            distinct.discard(None)
            weights = _normalizing_weights(constraints, distinct, len(values) - values.count(None))
            return [], {}, [None if v is None else score_for(info, v) for info, v in zip(filtered, values, strict=True)]
        DOMAINS.renew_if_full()
        codes = snapshot.column_for(filtered, f"topology domains {DOMAINS.epoch} {keys_text}",
                                    partial(_domain_code, keys=keys, keys_text=keys_text))
        if codes is None:
            codes = [DOMAINS.code(v) for v in _candidate_values(filtered, keys, keys_text)]
        in_use = set(codes)
        in_use.discard(0)
        weights = _normalizing_weights(constraints, {DOMAINS.values[c] for c in in_use}, 0)
        return codes, {c: score_for(None, cast(tuple[str, ...], DOMAINS.values[c])) for c in in_use}, None

    def skip(self, pod: core_pb2.Pod, snapshot: Snapshot) -> bool:
        """PreScore's Skip: the pod has no ScheduleAnyway constraints."""
        return not PodTopologySpread._pre_score(pod, snapshot).constraints

    scores_in_normalize = True

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """0: a node's raw score depends on which other nodes passed filtering (the topology weights count
        their domains), so `normalize`, which is given the candidates, scores them all at once
        (`raw_scores`). Scoring each node here against every snapshot node would cost a pass over the
        whole cluster per pod for numbers normalize throws away."""
        return 0

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        """NormalizeScore over the candidates named by `scores` (see normalized_scores)."""
        names = [name for name in scores if name in snapshot.by_name]
        normalized = dict(zip(names, self.normalized_scores(pod, [snapshot.by_name[n] for n in names], snapshot),
                              strict=True))
        return {name: normalized.get(name, 0) for name in scores}

    def normalized_scores(self, pod: core_pb2.Pod, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
        """NormalizeScore: fewer matching pods is better, 100 * (max + min - s) / max; ignored nodes get 0."""
        codes, table = self.coded_normalized_scores(pod, nodes, snapshot)
        return [table[c] for c in codes]

    def coded_normalized_scores(self, pod: core_pb2.Pod, nodes: Sequence[NodeInfo], snapshot: Snapshot
                                ) -> tuple[Sequence[int], list[int]]:
        """normalized_scores as (a code per node, the normalized score of each code): the nodes of one domain
        score alike, so whoever sums them takes one entry of a short list per node."""
        scored = self._scores(pod, nodes, snapshot)
        if scored is None:
            # Skip: the plugin does not score this pod, which adds nothing to any node.
            return [0] * len(nodes), [0]
        codes, by_code, per_node = scored
        if per_node is not None:
            valid = [v for v in per_node if v is not None]
            low, high = min(valid, default=0), max(valid, default=0)
            return range(len(nodes)), [0 if v is None else _normalized(v, low, high) for v in per_node]
        # The minimum and maximum over the nodes are those over the domains: normalized once each.
        low, high = min(by_code.values(), default=0), max(by_code.values(), default=0)
        table = [0] * (max(by_code, default=0) + 1)  # code 0 (ignored nodes) and codes of no candidate: 0
        for c, score in by_code.items():
            table[c] = _normalized(score, low, high)
        return codes, table


def _candidate_values(nodes: Sequence[NodeInfo], keys: tuple[str, ...], keys_text: str
                      ) -> list[tuple[str, ...] | None]:
    """Each node's values for the keys (topology_values), looked up where every node has them already."""
    try:
        return [info.topology_values[keys_text] for info in nodes]
    except KeyError:  # a node info that has not looked these keys up yet (a new or changed Node)
        return [topology_values(info, keys, keys_text) for info in nodes]


def _normalizing_weights(constraints: Sequence[SpreadConstraint], domains: Iterable[tuple[str, ...] | None],
                         nodes_scored: int) -> list[float]:
    """topologyNormalizingWeight per constraint, log(size + 2), size being its domains among the candidates
    (the nodes scored for a hostname constraint): small topologies are not watered down by big ones."""
    tuples = [v for v in domains if v is not None]
    return [math.log((nodes_scored if c.topology_key == LABEL_HOSTNAME else len({v[i] for v in tuples})) + 2)
            for i, c in enumerate(constraints)]


def _normalized(score: int, low: int, high: int) -> int:
    return MAX_NODE_SCORE if high == 0 else MAX_NODE_SCORE * (high + low - score) // high


pod_topology_spread = PodTopologySpread()
