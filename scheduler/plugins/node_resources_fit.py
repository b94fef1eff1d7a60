"""NodeResourcesFit (pkg/scheduler/framework/plugins/noderesources/fit.go, v1.32): filter nodes whose free
allocatable cannot hold the pod's requests, and score with the default LeastAllocated strategy (cpu, memory)."""

from __future__ import annotations

from kubemu.pb import core_pb2
from scheduler.framework import (
    MAX_NODE_SCORE,
    OK,
    NodeInfo,
    Resources,
    Snapshot,
    Status,
    pod_requests,
    unschedulable,
)

NAME = "NodeResourcesFit"
EPHEMERAL_STORAGE = "ephemeral-storage"
TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
INSUFFICIENT_EPHEMERAL_STORAGE = "Insufficient ephemeral-storage"

DEFAULT_RESOURCE_WEIGHTS = (("cpu", 1), ("memory", 1))
"""The default ScoringStrategy (apis/config/v1/default_plugins.go): LeastAllocated, cpu and memory weight 1."""


def insufficient(name: str) -> str:
    """fitsRequest's reason for any resource: `fmt.Sprintf("Insufficient %v", rName)`."""
    return f"Insufficient {name}"


def is_scalar_resource_name(name: str) -> bool:
    """schedutil.IsScalarResourceName: extended (domain-prefixed, not kubernetes.io), hugepages-*,
    kubernetes.io/-prefixed native and attachable-volumes-* resources. framework.Resource drops any other
    name, so a request for e.g. `foo` is never checked."""
    return (
        "/" in name
        or name.startswith("hugepages-")
        or name.startswith("attachable-volumes-")
    )


def insufficient_resources(pod: core_pb2.Pod, node: NodeInfo, req: Resources | None = None) -> list[str]:
    """fitsRequest: every reason the pod does not fit, in upstream's order (pods, cpu, memory,
    ephemeral-storage, then scalar resources; Go walks those in map order, sorted here to be stable).
    `req`: the pod's requests when already computed (PreFilter's state)."""
    if req is None:
        req = pod_requests(pod)
    alloc, used = node.allocatable, node.requested
    reasons: list[str] = []
    # `requested.pods` counts the pods already on the node (NodeInfo.add_pod sets 1 each).
    if len(node.pods) + 1 > alloc.pods:
        reasons.append(TOO_MANY_PODS)
    storage = req.scalar.get(EPHEMERAL_STORAGE, 0)
    scalars = {k: v for k, v in req.scalar.items() if k != EPHEMERAL_STORAGE and is_scalar_resource_name(k)}
    if req.milli_cpu == 0 and req.memory == 0 and storage == 0 and not scalars:
        return reasons
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append(INSUFFICIENT_CPU)
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        reasons.append(INSUFFICIENT_MEMORY)
    if storage > 0 and storage > alloc.scalar.get(EPHEMERAL_STORAGE, 0) - used.scalar.get(EPHEMERAL_STORAGE, 0):
        reasons.append(INSUFFICIENT_EPHEMERAL_STORAGE)
    for name in sorted(scalars):
        quantity = scalars[name]
        if quantity == 0:
            continue
        # A node that does not advertise the resource has 0 allocatable, so any request is insufficient.
        if quantity > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(insufficient(name))
    return reasons


def least_requested_score(requested: int, capacity: int) -> int:
    """leastRequestedScore: the free share of capacity, 0..100, 0 once over-committed."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def _amount(r: Resources, name: str) -> int:
    if name == "cpu":
        return r.milli_cpu
    if name == "memory":
        return r.memory
    return r.scalar.get(name, 0)


class NodeResourcesFit:
    """Filter: pods/cpu/memory/ephemeral-storage/extended resources fit. Score: LeastAllocated."""

    name = NAME
    normalize_is_identity = True

    def filter(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> Status:
        req = snapshot.cycle_state(NAME + "/pre-filter", pod, lambda: pod_requests(pod))
        reasons = insufficient_resources(pod, node, req)
        if reasons:
            # Fit.Filter keeps all failure reasons, as plain Unschedulable: preemption may free them.
            return unschedulable(self.name, *reasons)
        return OK

    def score(self, pod: core_pb2.Pod, node: NodeInfo, snapshot: Snapshot) -> int:
        """resourceAllocationScorer.score with leastResourceScorer: non-zero requests (missing cpu/memory
        requests count as 100m/200Mi, useRequested=false) of the node plus the pod, weighted average."""
        pod_req = snapshot.cycle_state(NAME + "/pre-score", pod, lambda: pod_requests(pod, non_zero=True))
        node_score = weight_sum = 0
        for resource, weight in DEFAULT_RESOURCE_WEIGHTS:
            allocatable = _amount(node.allocatable, resource)
            if allocatable == 0:
                # calculateResourceAllocatableRequest's (0, 0): the resource is left out of the average.
                continue
            requested = _amount(node.non_zero_requested, resource) + _amount(pod_req, resource)
            node_score += least_requested_score(requested, allocatable) * weight
            weight_sum += weight
        if weight_sum == 0:
            return 0
        return node_score // weight_sum

    def normalize(self, pod: core_pb2.Pod, scores: dict[str, int], snapshot: Snapshot) -> dict[str, int]:
        # Fit.ScoreExtensions() is nil: scores are already 0..100.
        return dict(scores)


node_resources_fit = NodeResourcesFit()
