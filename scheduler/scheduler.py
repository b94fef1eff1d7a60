"""The scheduling cycle: pop the highest-priority pending pod, filter every node through the plugins, score
the feasible ones, assume the pod on the best node and bind it through the apiserver; explain failures in
upstream's words, preempt lower-priority pods when that is the only way, and retry when the cluster changes."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from itertools import compress
from typing import TypeVar, cast

import structlog

from kubemu.api.serialization import set_time
from kubemu.client import errors
from kubemu.client.client import Binding, Client, retry_on_conflict
from kubemu.client.events import EventRecorder
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2
from scheduler import plugins
from scheduler.binder import Binder
from scheduler.cache import SchedulerCache, pod_key
from scheduler.framework import NodeInfo, Snapshot, Status, shared_key, spec_key, window
from scheduler.interface import FilterPlugin, ScorePlugin
from scheduler.queue import SchedulingQueue
from scheduler.runtime import Framework, ScoreEntry

log = structlog.get_logger()
V = TypeVar("V")

SCHEDULER_NAME = "default-scheduler"
EXPLAIN = "scheduler.kubemu.io/explain"
FILTER_RESULT = "scheduler.kubemu.io/filter-result"
SCORE_RESULT = "scheduler.kubemu.io/score-result"
SELECTED_NODE = "scheduler.kubemu.io/selected-node"


@dataclass
class Decision:
    node: str | None
    statuses: dict[str, Status]
    """Per node, the first failing filter (absent for feasible nodes)."""
    scored: list[str] = field(default_factory=list)
    """The feasible nodes scored, in filtering order."""
    breakdown: Callable[[], list[tuple[str, list[int]]]] | None = None
    """Each score plugin run, with its weighted score for each of `scored` (made when asked)."""
    processed: int = 0
    """How many nodes were run through the filters (where the next cycle's search starts, upstream)."""

    @cached_property
    def scores(self) -> dict[str, dict[str, int]]:
        """Per feasible node scored, each score plugin's weighted score and the total (made when asked: the
        explain annotation, tests)."""
        out: dict[str, dict[str, int]] = {name: {} for name in self.scored}
        for plugin, values in self.breakdown() if self.breakdown is not None else []:
            for name, value in zip(self.scored, values, strict=True):
                out[name][plugin] = value
        for per in out.values():
            per["total"] = sum(per.values())
        return out


MIN_FEASIBLE_NODES_TO_FIND = 100
"""minFeasibleNodesToFind: below this many nodes every node is filtered and scored."""
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
"""minFeasibleNodesPercentageToFind: the adaptive percentage's floor."""


LOCAL_RESULTS_PER_NODE = 64
"""Node-local answers kept per node (a filter status or a score per pod spec): enough for the workloads being
scheduled at once; past it the node starts over."""

BINDS_IN_FLIGHT = 256
"""Binding cycles running at once; the scheduling loop waits when this many are in flight. Upstream runs each
binding cycle in a goroutine of its own, with no limit; this bounds what a stalled apiserver can pile up."""
YIELD_EVERY = 0.02
"""With pods waiting, the scheduling loop lets the rest of the process run at least this often (seconds): the
binding cycles of the pods decided so far send their bindings while the next pods are decided, and the informers
deliver what changed meanwhile."""


def num_feasible_nodes_to_find(num_all_nodes: int, percentage_of_nodes_to_score: int = 0) -> int:
    """numFeasibleNodesToFind (pkg/scheduler/schedule_one.go): how many feasible nodes are enough. With
    percentageOfNodesToScore unset (0, the default) the percentage adapts, 50% minus 1% per 125 nodes, down
    to 5%; never fewer than 100 nodes."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    percentage = percentage_of_nodes_to_score
    if percentage == 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def fit_error(total: int, statuses: dict[str, Status]) -> str:
    """FitError.Error(): `0/N nodes are available: <count> <reason>, ...` with the entries sorted as strings."""
    counts: Counter[str] = Counter()
    for st in statuses.values():
        for reason in st.reasons:
            counts[reason] += 1
    parts = sorted(f"{n} {reason}" for reason, n in counts.items())
    return f"0/{total} nodes are available: {', '.join(parts)}."


FRAMEWORK = Framework(plugins.FILTERS, plugins.SCORES, plugins.NODE_LOCAL)
"""The default profile's framework, built (and its plugins checked) when the scheduler is imported."""


def run_filters(pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot,
                filters: Sequence[FilterPlugin] = FRAMEWORK.filter_plugins) -> Status:
    for plugin in filters:
        st = plugin.filter(pod, node, snapshot)
        if not st.ok:
            return st
    return Status()


def active_filters(pod: core_pb2.Pod, snapshot: Snapshot, framework: Framework = FRAMEWORK) -> list[FilterPlugin]:
    """The filters to run for this pod: those whose PreFilter would return Skip (they pass every node) left
    out, as upstream's framework does (RunPreFilterPlugins' SkipFilterPlugins)."""
    return [plugin for plugin, skip in framework.filters if skip is None or not skip(pod, snapshot)]


def active_scores(pod: core_pb2.Pod, snapshot: Snapshot, framework: Framework = FRAMEWORK) -> list[ScoreEntry]:
    """The score plugins to run for this pod: those whose PreScore would return Skip (they would score every
    node alike) left out (RunPreScorePlugins' SkipScorePlugins)."""
    return [entry for entry in framework.scores if entry.skip is None or not entry.skip(pod, snapshot)]


def decide(pod: core_pb2.Pod, snapshot: Snapshot, rng: random.Random, start: int = 0,
           framework: Framework = FRAMEWORK) -> Decision:
    """One scheduling decision over a snapshot: pure, so it is tested without a cluster. As upstream's
    findNodesThatPassFilters, the nodes are filtered from index `start` round, stopping once
    num_feasible_nodes_to_find nodes passed; only those are scored."""
    statuses: dict[str, Status] = {}
    feasible: list[NodeInfo] = []
    nodes = snapshot.nodes
    total = len(nodes)
    wanted = num_feasible_nodes_to_find(total)
    filters = active_filters(pod, snapshot, framework)
    node_local = framework.node_local
    # The leading node-local filters' answer for this pod spec is looked up on each node; the others run.
    k = 0
    while k < len(filters) and filters[k].name in node_local:
        k += 1
    local, rest = filters[:k], filters[k:]
    spec = spec_key(pod)
    filter_key = shared_key(spec + b"\0filter\0" + ",".join(f.name for f in local).encode())
    processed = 0
    span: tuple[int, int] | None = None
    """(start, end) when the candidates are the nodes from start to end (round the end): columns are sliced."""
    if not rest and snapshot.log is not None:
        # Only node-local filters: which nodes fail them is kept for this spec over the cache's snapshots.
        failed = _local_failures(pod, snapshot, local, filter_key)
        if not failed:  # every node passes: the nodes filtered are the next `wanted` from `start`
            processed = min(wanted, total)
            span = (start, start + processed)
            feasible = window(nodes, *span)
        else:
            for i in range(total):
                node = nodes[(start + i) % total]
                processed += 1
                found = failed.get(node.name)
                if found is None:
                    feasible.append(node)
                    if len(feasible) >= wanted:
                        break
                else:
                    statuses[node.name] = found
    else:
        for i in range(total):
            node = nodes[(start + i) % total]
            processed += 1
            st = _local_verdict(pod, node, snapshot, local, filter_key)
            if rest and st.ok:
                st = run_filters(pod, node, snapshot, rest)
            if st.ok:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            else:
                statuses[node.name] = st
    if not feasible:
        return Decision(None, statuses, processed=processed)
    names = window(snapshot.names, *span) if span and snapshot.names else [n.name for n in feasible]
    if len(feasible) == 1:
        return Decision(names[0], statuses, names, None, processed)
    active = active_scores(pod, snapshot, framework)  # PreScore's Skip: a plugin that adds nothing is not called
    # The node-local plugins' raw scores, kept per node; those already final (identity normalize) are also
    # summed there, weighted, so the totals start from that sum.
    local_entries = [entry for entry in active if entry.node_local]
    scorers = [entry.plugin for entry in local_entries]
    final_weights = [entry.weight if entry.final else 0 for entry in local_entries]
    scores_key = shared_key(spec + b"\0scores\0" + ",".join(entry.name for entry in local_entries).encode())
    row_of = partial(_local_row, scorers, final_weights, pod, snapshot, scores_key)
    rows_key = "local scores " + scores_key.hex()

    def sliced(what: str, value_of: Callable[[NodeInfo], V]) -> list[V] | None:
        """The candidates' values as a slice of a column kept over the cache's snapshots, or None."""
        if span is None:
            return None
        col = snapshot.column(what, value_of)
        return None if col is None else window(col, *span)

    # The same rows, in the nodes' order, kept over the cache's snapshots: the candidates are a slice. So are
    # the weighted sums that start the totals and the raw scores of a plugin still to be normalized.
    local_raw = sliced(rows_key, row_of)
    if local_raw is None:
        local_raw = _local_scores(scorers, final_weights, pod, feasible, snapshot, scores_key)
    totals = sliced(rows_key + " sum", partial(_row_entry, row_of, -1))
    if totals is None:
        totals = [r[-1] for r in local_raw]
    parts: list[tuple[str, Callable[[], list[int]]]] = []
    """Each plugin's weighted scores, in SCORES order (made only when asked)."""
    j = -1
    """The plugin's index in `scorers` (the node-local ones, in the same order)."""
    for entry in active:
        plugin, name, weight = entry.plugin, entry.name, entry.weight
        if entry.node_local:
            j += 1
            if entry.final:
                parts.append((name, partial(_weighted_column, local_raw, j, weight)))
                continue
            column = sliced(f"{rows_key} {j}", partial(_row_entry, row_of, j))
            if column is None:
                column = [r[j] for r in local_raw]
            if column.count(column[0]) == len(column):
                # Every candidate scored alike, so normalized alike: the same amount added to every total
                # leaves the choice as it is.
                parts.append((name, partial(_weighted_normalized, entry, pod, column, names, snapshot, weight)))
                continue
            normalized = _normalize(entry, pod, column, names, snapshot)
        elif (together := entry.together) is not None:
            # A short table and an index into it per candidate (the nodes of one domain score alike).
            codes, table = together.coded_normalized_scores(pod, feasible, snapshot)
            weighted = _weighted(table, weight)
            totals = [a + weighted[c] for a, c in zip(totals, codes, strict=True)]
            parts.append((name, partial(_decoded, codes, weighted)))
            continue
        else:
            normalized = _normalize(entry, pod, [plugin.score(pod, n, snapshot) for n in feasible], names, snapshot)
        totals = [a + b * weight for a, b in zip(totals, normalized, strict=True)]
        parts.append((name, partial(_weighted, normalized, weight)))

    def breakdown() -> list[tuple[str, list[int]]]:
        return [(name, values()) for name, values in parts]

    best = max(totals)
    # Ties are broken at random (seedable) among the best in the order the nodes were filtered, as upstream's
    # selectHost does with reservoir sampling (uniform over the ties: one draw does the same).
    choice = rng.choice(list(compress(names, map(best.__eq__, totals))))
    return Decision(choice, statuses, names, breakdown, processed)


def _weighted_column(rows: list[tuple[int, ...]], j: int, weight: int) -> list[int]:
    return [r[j] * weight for r in rows]


def _row_entry(row_of: Callable[[NodeInfo], tuple[int, ...]], j: int, node: NodeInfo) -> int:
    return row_of(node)[j]


def _decoded(codes: Sequence[int], table: list[int]) -> list[int]:
    return [table[c] for c in codes]


def _weighted(values: list[int], weight: int) -> list[int]:
    return [v * weight for v in values]


def _weighted_normalized(entry: ScoreEntry, pod: core_pb2.Pod, values: list[int], names: list[str],
                         snapshot: Snapshot, weight: int) -> list[int]:
    return _weighted(_normalize(entry, pod, values, names, snapshot), weight)


def _normalize(entry: ScoreEntry, pod: core_pb2.Pod, values: list[int], names: list[str],
               snapshot: Snapshot) -> list[int]:
    """A plugin's normalized scores in the candidates' order: over the list when it normalizes scores alone."""
    if entry.final:
        return values
    if entry.normalize_values is not None:
        return entry.normalize_values(pod, values, snapshot)
    normalized = entry.plugin.normalize(pod, dict(zip(names, values, strict=True)), snapshot)
    return [normalized[name] for name in names]


def _local_verdict(pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot, local: list[FilterPlugin],
                   key: bytes) -> Status:
    """The node-local filters' verdict on the node, looked up on it (NodeInfo.local_results) or computed there."""
    memo = node.local_results
    st = cast(Status | None, memo.get(key))
    if st is None:
        st = run_filters(pod, node, snapshot, local)
        if len(memo) >= LOCAL_RESULTS_PER_NODE:
            memo.clear()
        memo[key] = st
    return st


def _local_failures(pod: core_pb2.Pod, snapshot: Snapshot, local: list[FilterPlugin], key: bytes
                    ) -> dict[str, Status]:
    """The nodes that fail the node-local filters, with their status: over a cache's snapshot kept per pod spec
    and brought up to date from the nodes changed since (Snapshot.kept)."""

    def update(failed: dict[str, Status], name: str, info: NodeInfo | None) -> None:
        verdict = _local_verdict(pod, info, snapshot, local, key) if info is not None else None
        if verdict is None or verdict.ok:
            failed.pop(name, None)
        else:
            failed[name] = verdict

    return snapshot.kept("local filter failures " + key.hex(), dict, update)


def _local_scores(local: list[ScorePlugin], final_weights: list[int], pod: core_pb2.Pod, feasible: list[NodeInfo],
                  snapshot: Snapshot, key: bytes) -> list[tuple[int, ...]]:
    """For each node, the node-local score plugins' raw scores followed by the weighted sum of those whose
    normalize is the identity: looked up on the node (NodeInfo.local_results, under one key) or computed there."""
    out: list[tuple[int, ...]] = []
    for n in feasible:
        value = n.local_results.get(key)
        out.append(_local_row(local, final_weights, pod, snapshot, key, n) if value is None else value)  # type: ignore[arg-type]
    return out


def _local_row(local: list[ScorePlugin], final_weights: list[int], pod: core_pb2.Pod, snapshot: Snapshot,
               key: bytes, node: NodeInfo) -> tuple[int, ...]:
    """One node's row of _local_scores, kept on the node. `final_weights`: each plugin's weight when its scores
    are final as scored (identity normalize), else 0 (left out of the sum)."""
    memo = node.local_results
    value = memo.get(key)
    if value is None:
        raw = [plugin.score(pod, node, snapshot) for plugin in local]
        value = (*raw, sum(r * w for r, w in zip(raw, final_weights, strict=True)))
        if len(memo) >= LOCAL_RESULTS_PER_NODE:
            memo.clear()
        memo[key] = value
    return value  # type: ignore[return-value]


def preemption_candidates(pod: core_pb2.Pod, snapshot: Snapshot, statuses: dict[str, Status],
                          framework: Framework = FRAMEWORK) -> tuple[str | None, list[core_pb2.Pod], str]:
    """Basic preemption (DefaultPreemption): on nodes where only resources or similar stand in the way, remove
    lower-priority pods until the pod fits, put back as many as possible (highest priority first), and pick
    the node whose victims matter least. Returns (node, victims, message for the fit error)."""
    prio = _priority(pod)
    reasons: Counter[str] = Counter()
    best: tuple[tuple[int, int, int], str, list[core_pb2.Pod]] | None = None
    for node in snapshot.nodes:
        st = statuses.get(node.name)
        if st is None:
            continue
        if st.code == "UnschedulableAndUnresolvable":
            reasons["Preemption is not helpful for scheduling"] += 1
            continue
        lower = [p for p in node.pods if _priority(p) < prio]
        if not lower:
            reasons["No preemption victims found for incoming pod"] += 1
            continue
        keep = [p for p in node.pods if p not in lower]
        trial = NodeInfo.build(node.node, keep)
        trial_snapshot = Snapshot([trial if n.name == node.name else n for n in snapshot.nodes])
        if not run_filters(pod, trial, trial_snapshot, framework.filter_plugins).ok:
            reasons["No preemption victims found for incoming pod"] += 1
            continue
        victims = []
        for p in sorted(lower, key=lambda p: -_priority(p)):
            trial.add_pod(p)
            trial_snapshot.invalidate()  # the plugins' per-cycle state counted the node without `p`
            if not run_filters(pod, trial, trial_snapshot, framework.filter_plugins).ok:
                trial.remove_pod(p)
                trial_snapshot.invalidate()
                victims.append(p)
        prios = [_priority(p) for p in victims]
        rank = (max(prios, default=0), sum(prios), len(victims))
        if best is None or rank < best[0]:
            best = (rank, node.name, victims)
    total = len(snapshot.nodes)
    parts = sorted(f"{n} {r}" for r, n in reasons.items())
    message = f"preemption: 0/{total} nodes are available: {', '.join(parts)}." if parts else ""
    if best is None:
        return None, [], message
    return best[1], best[2], message


def _priority(pod: core_pb2.Pod) -> int:
    return pod.spec.priority if pod.spec.HasField("priority") else 0


def with_nominated(snapshot: Snapshot, pod: core_pb2.Pod,
                   nominated: dict[str, tuple[str, core_pb2.Pod]]) -> Snapshot:
    """The snapshot as `pod` must see it: pods of equal or higher priority that preempted for a node are counted
    there already, so a lower-priority pod cannot take the room they made (RunFilterPluginsWithNominatedPods)."""
    extra: dict[str, list[core_pb2.Pod]] = {}
    for key, (node, other) in nominated.items():
        if key != pod_key(pod) and _priority(other) >= _priority(pod) and node in snapshot.by_name:
            extra.setdefault(node, []).append(other)
    if not extra:
        return snapshot
    nodes = []
    for info in snapshot.nodes:
        if info.name in extra:
            info = NodeInfo.build(info.node, [*info.pods, *extra[info.name]])
        nodes.append(info)
    return Snapshot(nodes)


class Scheduler:
    def __init__(self, client: Client, *, seed: int | None = None, time_scale: float = 1.0,
                 clock: Callable[[], float] = time.time, framework: Framework = FRAMEWORK) -> None:
        self.client = client
        self.framework = framework
        """The profile's plugins, collected per extension point."""
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(time_scale=time_scale)
        self.rng = random.Random(seed)
        self.clock = clock
        self.recorder = EventRecorder(client, SCHEDULER_NAME, clock=clock)
        self.pods: Informer[core_pb2.Pod] = Informer(client.pods)
        self.nodes: Informer[core_pb2.Node] = Informer(client.nodes)
        self.pods.add_handler(self._pod_added, lambda old, new: self._pod_added(new), self._pod_deleted)
        self.nodes.add_handler(self._node_changed, lambda old, new: self._node_changed(new), self._node_deleted)
        self.bound = 0
        self.binding: set[str] = set()
        """Pods assumed and being bound (upstream's binding cycle, which runs beside the next scheduling cycle)."""
        self.bind_slots = asyncio.Semaphore(BINDS_IN_FLIGHT)
        self.bind_tasks: set[asyncio.Task[None]] = set()
        self.binder = Binder(client.pods)
        self.next_start_node_index = 0
        """nextStartNodeIndex: where the next cycle's filtering starts, so the nodes share the scoring."""
        self.nominated: dict[str, tuple[str, core_pb2.Pod]] = {}
        """Pods that preempted for a node, by key: (node, pod)."""
        self.log = log.bind(component="scheduler")

    # -- events from the informers ----------------------------------------------------------------

    @staticmethod
    def _ours(pod: core_pb2.Pod) -> bool:
        return (not pod.spec.node_name and (pod.spec.scheduler_name or SCHEDULER_NAME) == SCHEDULER_NAME
                and not pod.metadata.HasField("deletion_timestamp")
                and pod.status.phase not in ("Succeeded", "Failed"))

    def _pod_added(self, pod: core_pb2.Pod) -> None:
        if pod.spec.node_name:
            was_placed = pod_key(pod) in self.cache.pod_node
            self.cache.update_pod(pod)
            self.queue.remove(pod)
            if was_placed and pod_key(pod) not in self.cache.pod_node:
                self.queue.cluster_changed()  # it finished: its resources are free again
        elif self._ours(pod):
            if pod_key(pod) not in self.cache.assumed:
                # An assumed pod's update (the explain annotations, say) is not a reason to schedule it again
                # (upstream's updatePodInSchedulingQueue): its binding is in flight or just made.
                self.queue.add(pod)
        else:
            self.queue.remove(pod)

    def _pod_deleted(self, pod: core_pb2.Pod) -> None:
        self.nominated.pop(pod_key(pod), None)
        self.cache.remove_pod(pod)
        self.queue.remove(pod)
        self.queue.cluster_changed()

    def _node_changed(self, node: core_pb2.Node) -> None:
        self.cache.set_node(node)
        self.queue.cluster_changed()

    def _node_deleted(self, node: core_pb2.Node) -> None:
        self.cache.remove_node(node.metadata.name)

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self) -> None:
        self.nodes.start()
        self.pods.start()
        await self.nodes.wait_synced()
        await self.pods.wait_synced()
        self.log.info("scheduler.synced", nodes=len(self.cache.nodes), pending=len(self.queue))
        loop = asyncio.get_running_loop()
        yielded = loop.time()
        while True:
            if loop.time() - yielded >= YIELD_EVERY:
                await asyncio.sleep(0)
                yielded = loop.time()
            pod = await self.queue.pop()
            current = self.pods.store.get(pod_key(pod))
            key = pod_key(pod)
            if current is None or not self._ours(current) or key in self.binding or key in self.cache.assumed:
                # skipPodSchedule: an assumed pod is bound or being bound; the watch has not shown it bound yet.
                continue
            await self.schedule_one(current)

    async def schedule_one(self, pod: core_pb2.Pod) -> None:
        snapshot = with_nominated(self.cache.snapshot(), pod, self.nominated)
        decision = decide(pod, snapshot, self.rng, self.next_start_node_index, self.framework)
        if snapshot.nodes:
            self.next_start_node_index = (self.next_start_node_index + decision.processed) % len(snapshot.nodes)
        if pod.metadata.annotations.get(EXPLAIN) == "true":
            await self._explain(pod, snapshot, decision)
        if decision.node is None:
            await self._failed(pod, snapshot, decision)
            return
        self.cache.assume(pod, decision.node)
        # The binding cycle runs on its own, as upstream's goroutine does: the next pod is scheduled against the
        # cache, where this one is assumed on its node, while the bind call is in flight.
        key = pod_key(pod)
        self.binding.add(key)
        await self.bind_slots.acquire()
        task = asyncio.create_task(self._bind(pod, decision.node, len(decision.scored), len(snapshot.nodes)))
        self.bind_tasks.add(task)
        task.add_done_callback(self.bind_tasks.discard)

    async def _bind(self, pod: core_pb2.Pod, node: str, feasible: int, nodes: int) -> None:
        key = pod_key(pod)
        try:
            try:
                await self.binder.bind(Binding(pod.metadata.name, node, pod.metadata.namespace, pod.metadata.uid))
            except (errors.Conflict, errors.NotFound) as e:
                # Bound or deleted meanwhile (another scheduler, a user): forget our assumption; the watch tells.
                self.cache.forget(pod)
                self.log.info("pod.bind_conflict", pod=key, node=node, error=str(e))
                return
            except errors.ApiError as e:
                self.cache.forget(pod)
                self.queue.unschedulable(pod)
                self.log.warning("pod.bind_failed", pod=key, node=node, error=str(e))
                return
            self.bound += 1
            self.nominated.pop(key, None)
            self.queue.done(pod)
            self.log.info("pod.scheduled", pod=key, node=node, feasible=feasible, nodes=nodes)
            await self.recorder.event(pod, "Normal", "Scheduled", f"Successfully assigned {key} to {node}")
        finally:
            self.binding.discard(key)
            self.bind_slots.release()

    async def _failed(self, pod: core_pb2.Pod, snapshot: Snapshot, decision: Decision) -> None:
        message = fit_error(len(snapshot.nodes), decision.statuses)
        policy = pod.spec.preemption_policy if pod.spec.HasField("preemption_policy") else "PreemptLowerPriority"
        nominated = ""
        waiting_for = self._victims_terminating(pod, snapshot)
        if waiting_for:
            # It already preempted: its victims are terminating. Wait for them instead of choosing more.
            nominated = waiting_for
        elif policy != "Never" and snapshot.nodes:
            node, victims, pmsg = preemption_candidates(pod, snapshot, decision.statuses, self.framework)
            if node is not None:
                for v in victims:
                    await self._preempt(pod, v, node)
                nominated = node
                self.nominated[pod_key(pod)] = (node, pod)
                self.log.info("pod.preempting", pod=pod_key(pod), node=node,
                              victims=[pod_key(v) for v in victims])
            elif pmsg:
                message = f"{message} {pmsg}"
        elif not snapshot.nodes:
            message = "no nodes available to schedule pods"
        self.queue.unschedulable(pod)
        self.log.info("pod.unschedulable", pod=pod_key(pod), message=message)
        await self._set_unschedulable(pod, message, nominated)
        await self.recorder.event(pod, "Warning", "FailedScheduling", message)

    async def _preempt(self, preemptor: core_pb2.Pod, victim: core_pb2.Pod, node: str) -> None:
        """DefaultPreemption's PreemptPod: the victim gets the DisruptionTarget condition, then is deleted (with its
        grace period: the kubelet stops it), and an Event says who took its place."""
        message = f"{preemptor.spec.scheduler_name or SCHEDULER_NAME}: preempting to accommodate a higher priority pod"

        async def mark() -> None:
            cur = await self.client.pods.get(victim.metadata.name, victim.metadata.namespace)
            if cur.metadata.uid != victim.metadata.uid:
                return
            cond = next((c for c in cur.status.conditions if c.type == "DisruptionTarget"), None)
            if cond is None:
                cond = cur.status.conditions.add(type="DisruptionTarget")
            if (cond.status, cond.reason, cond.message) == ("True", "PreemptionByScheduler", message):
                return
            if cond.status != "True":
                set_time(cond.last_transition_time, float(int(self.clock())))
            cond.status, cond.reason, cond.message = "True", "PreemptionByScheduler", message
            await self.client.pods.update_status(cur)

        try:
            await retry_on_conflict(mark)
            await self.client.pods.delete(victim.metadata.name, victim.metadata.namespace, uid=victim.metadata.uid)
        except (errors.NotFound, errors.Conflict):
            return  # gone, or replaced by another pod of that name, meanwhile
        await self.recorder.event(victim, "Normal", "Preempted",
                                  f"Preempted by pod {preemptor.metadata.uid} on node {node}")

    def _victims_terminating(self, pod: core_pb2.Pod, snapshot: Snapshot) -> str:
        entry = self.nominated.get(pod_key(pod))
        if entry is None or entry[0] not in snapshot.by_name:
            return ""
        node = snapshot.by_name[entry[0]]
        going = [p for p in node.pods if p.metadata.HasField("deletion_timestamp") and _priority(p) < _priority(pod)]
        return entry[0] if going else ""

    async def _set_unschedulable(self, pod: core_pb2.Pod, message: str, nominated: str) -> None:
        async def write() -> None:
            cur = await self.client.pods.get(pod.metadata.name, pod.metadata.namespace)
            if cur.spec.node_name or cur.metadata.uid != pod.metadata.uid:
                return
            cond = next((c for c in cur.status.conditions if c.type == "PodScheduled"), None)
            if cond is None:
                cond = cur.status.conditions.add(type="PodScheduled")
            if cond.status != "False":
                set_time(cond.last_transition_time, float(int(self.clock())))
            cond.status, cond.reason, cond.message = "False", "Unschedulable", message
            if nominated:
                cur.status.nominated_node_name = nominated
            await self.client.pods.update_status(cur)

        try:
            await retry_on_conflict(write)
        except errors.NotFound:
            pass

    async def _explain(self, pod: core_pb2.Pod, snapshot: Snapshot, decision: Decision) -> None:
        """What kube-scheduler-simulator shows: each plugin's verdict and score per node, on the pod."""
        filters: dict[str, dict[str, str]] = {}
        for node in snapshot.nodes:
            verdicts: dict[str, str] = {}
            for plugin in self.framework.filter_plugins:
                st = plugin.filter(pod, node, snapshot)
                verdicts[plugin.name] = "passed" if st.ok else "; ".join(st.reasons)
                if not st.ok:
                    break
            filters[node.name] = verdicts

        async def write() -> None:
            cur = await self.client.pods.get(pod.metadata.name, pod.metadata.namespace)
            cur.metadata.annotations[FILTER_RESULT] = json.dumps(filters, sort_keys=True)
            cur.metadata.annotations[SCORE_RESULT] = json.dumps(decision.scores, sort_keys=True)
            if decision.node:
                cur.metadata.annotations[SELECTED_NODE] = decision.node
            await self.client.pods.update(cur)

        try:
            await retry_on_conflict(write)
        except errors.ApiError as e:
            self.log.info("pod.explain_failed", pod=pod_key(pod), error=str(e))

