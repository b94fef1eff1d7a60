"""TaintToleration (pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go, v1.32): NoSchedule
and NoExecute taints keep out pods that do not tolerate them; PreferNoSchedule taints only lower the score."""

from __future__ import annotations

from collections.abc import Sequence

from kubemu.pb import core_pb2
from scheduler.framework import (
    OK,
    NodeInfo,
    Snapshot,
    Status,
    default_normalize,
    default_normalize_values,
    tolerates,
    unschedulable,
)

NAME = "TaintToleration"
NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"


def err_reason(taint: core_pb2.Taint) -> str:
    """`fmt.Sprintf("node(s) had untolerated taint {%s: %s}", taint.Key, taint.Value)`: a taint without a
    value prints as `{key: }`."""
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


def find_untolerated_taint(
    taints: Sequence[core_pb2.Taint], tolerations: Sequence[core_pb2.Toleration]
) -> core_pb2.Taint | None:
    """v1helper.FindMatchingUntoleratedTaint with DoNotScheduleTaintsFilterFunc: the first NoSchedule or
    NoExecute taint, in the node's order, that no toleration covers. That one taint is what the reason names."""
    for taint in taints:
        if taint.effect not in (NO_SCHEDULE, NO_EXECUTE):
            continue
        if not tolerates(tolerations, taint):
            return taint
    return None


def count_intolerable_prefer_no_schedule(
    taints: Sequence[core_pb2.Taint], tolerations: Sequence[core_pb2.Toleration]
) -> int:
    """PreScore's getAllTolerationPreferNoSchedule, then countIntolerableTaintsPreferNoSchedule."""
    # Only tolerations that can cover a PreferNoSchedule taint count; an empty effect means every effect.
    prefer = [t for t in tolerations if not t.effect or t.effect == PREFER_NO_SCHEDULE]
    return sum(1 for taint in taints if taint.effect == PREFER_NO_SCHEDULE and not tolerates(prefer, taint))


class TaintToleration:
    """Filter and score (weight 3 in the default profile, applied by the caller)."""

    name = NAME

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        taint = find_untolerated_taint(node.node.spec.taints, pod.spec.tolerations)
        if taint is None:
            return OK
        # Unresolvable: removing pods never removes a taint, so preemption cannot help.
        return unschedulable(NAME, err_reason(taint), unresolvable=True)

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """The number of PreferNoSchedule taints the pod does not tolerate: more is worse."""
        taints = node.node.spec.taints
        if not taints:
            return 0  # most nodes: nothing to count
        return count_intolerable_prefer_no_schedule(taints, pod.spec.tolerations)

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        # DefaultNormalizeScore(MaxNodeScore, reverse=true): the node with the most intolerable taints gets 0,
        # nodes without any get 100 (all 100 when no node has one).
        return default_normalize(scores, reverse=True)

    def normalize_values(self, pod: core_pb2.Pod, values: list[int], snapshot: Snapshot) -> list[int]:
        return default_normalize_values(values, reverse=True)


taint_toleration = TaintToleration()
