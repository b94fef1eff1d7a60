"""A pod's QoS class (BestEffort, Burstable, Guaranteed) from its containers' cpu and memory, as upstream.

Source: pkg/apis/core/helper/qos/qos.go ComputePodQOS (v1.32); the apiserver and the kubelet both use it.
"""

from __future__ import annotations

from kubemu.api.quantity import Quantity, QuantityError, parse_quantity
from kubemu.pb import core_pb2

BEST_EFFORT = "BestEffort"
BURSTABLE = "Burstable"
GUARANTEED = "Guaranteed"

# Only these count: extended resources and ephemeral-storage do not make a pod Burstable.
_QOS_RESOURCES = ("cpu", "memory")


def _positive(raw: str) -> Quantity | None:
    try:
        q = parse_quantity(raw)
    except QuantityError:
        return None  # validation rejects the pod; an unparsable amount must not crash the kubelet
    return q if q.milli_value() > 0 else None


def qos_class(pod_spec: core_pb2.PodSpec) -> str:
    """ComputePodQOS: requests and limits are summed per resource over containers and init containers.

    Guaranteed needs every container to set positive cpu and memory limits and the summed requests to
    equal the summed limits; zero amounts count as unset.
    """
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in (*pod_spec.containers, *pod_spec.init_containers):
        for name, raw in container.resources.requests.items():
            q = _positive(raw) if name in _QOS_RESOURCES else None
            if q is not None:
                requests[name] = requests[name] + q if name in requests else q
        found: set[str] = set()
        for name, raw in container.resources.limits.items():
            q = _positive(raw) if name in _QOS_RESOURCES else None
            if q is not None:
                found.add(name)
                limits[name] = limits[name] + q if name in limits else q
        if not found.issuperset(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed:
        for name, req in requests.items():
            if name not in limits or limits[name] != req:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE
