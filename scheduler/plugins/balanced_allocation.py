"""NodeResourcesBalancedAllocation (pkg/scheduler/framework/plugins/noderesources/balanced_allocation.go,
v1.32): favour nodes whose cpu and memory would be used in equal shares once the pod is placed."""

from __future__ import annotations

import math

from kubemu.pb import core_pb2
from scheduler.framework import MAX_NODE_SCORE, NodeInfo, Snapshot, pod_requests

NAME = "NodeResourcesBalancedAllocation"


def balanced_resource_score(requested: list[int], allocatable: list[int]) -> int:
    """balancedResourceScorer: (1 - standard deviation of the used fractions) * 100, truncated as Go's
    int64() conversion does. Resources the node lacks are left out."""
    fractions = [min(r / a, 1.0) for r, a in zip(requested, allocatable, strict=True) if a != 0]
    std = 0.0
    if len(fractions) == 2:
        # Upstream's shortcut for two resources: |f1 - f2| / 2 is their population standard deviation.
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class BalancedAllocation:
    """Score only. Unlike NodeResourcesFit's LeastAllocated, this plugin is built with useRequested=true,
    so it uses the actual requests of the node's pods and of the incoming pod (no 100m/200Mi defaults)."""

    name = NAME
    normalize_is_identity = True

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        pod_req = snapshot.cycle_state(NAME + "/pre-score", pod, lambda: pod_requests(pod))
        requested = [node.requested.milli_cpu + pod_req.milli_cpu, node.requested.memory + pod_req.memory]
        allocatable = [node.allocatable.milli_cpu, node.allocatable.memory]
        return balanced_resource_score(requested, allocatable)

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        # BalancedAllocation.ScoreExtensions() is nil: scores are already 0..100.
        return dict(scores)


balanced_allocation = BalancedAllocation()
