"""QoS class computation, with the cases of upstream pkg/apis/core/helper/qos/qos_test.go (TestComputePodQOS)."""

from __future__ import annotations

from typing import Any

import pytest

from kubemu.api.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, qos_class
from kubemu.api.serialization import from_dict

pytestmark = pytest.mark.unit


def _container(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> Any:
    c: dict[str, Any] = {"name": name, "image": "nginx"}
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    if res:
        c["resources"] = res
    return c


def _spec(*containers: Any, init: tuple[Any, ...] = ()) -> Any:
    pod = from_dict(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": list(containers), "initContainers": list(init)},
        }
    )
    return pod.spec


CPU_MEM = {"cpu": "100m", "memory": "100Mi"}


@pytest.mark.parametrize(
    ("containers", "expected"),
    [
        # qos_test.go: "best-effort-best-effort"
        ((_container("a"), _container("b")), BEST_EFFORT),
        # "best-effort" with only an extended resource: not cpu/memory, still BestEffort
        ((_container("a", {"nvidia.com/gpu": "2"}, {"nvidia.com/gpu": "2"}),), BEST_EFFORT),
        # "guaranteed"
        ((_container("a", CPU_MEM, CPU_MEM),), GUARANTEED),
        # "guaranteed-guaranteed"
        ((_container("a", CPU_MEM, CPU_MEM), _container("b", CPU_MEM, CPU_MEM)), GUARANTEED),
        # "best-effort-guaranteed" is Burstable
        ((_container("a"), _container("b", CPU_MEM, CPU_MEM)), BURSTABLE),
        # "burstable-cpu-guaranteed-memory"
        ((_container("a", CPU_MEM, {"memory": "100Mi"}),), BURSTABLE),
        # "burstable-no-limits"
        ((_container("a", CPU_MEM),), BURSTABLE),
        # "burstable-guaranteed" where requests < limits
        ((_container("a", {"cpu": "1", "memory": "100Mi"}, {"cpu": "2", "memory": "100Mi"}),), BURSTABLE),
        # "burstable-unbounded-but-requests-match-limits": limits only on cpu
        ((_container("a", {"cpu": "100m"}, {"cpu": "100m"}),), BURSTABLE),
        # zero amounts count as unset: "best-effort-zero-requests"
        ((_container("a", {"cpu": "0", "memory": "0"}),), BEST_EFFORT),
        # sums per resource: 100m+100m requests equal 200m of summed limits, but both containers need limits
        ((_container("a", CPU_MEM, CPU_MEM), _container("b", {"cpu": "100m"})), BURSTABLE),
        # equal quantities in different notation are equal
        ((_container("a", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1000m", "memory": "1073741824"}),), GUARANTEED),
    ],
)
def test_compute_pod_qos(containers: tuple[Any, ...], expected: str) -> None:
    assert qos_class(_spec(*containers)) == expected


def test_init_containers_count() -> None:
    # qos_test.go "burstable-init-container": a Guaranteed app container with a request-only init container.
    spec = _spec(_container("a", CPU_MEM, CPU_MEM), init=(_container("i", {"cpu": "100m"}),))
    assert qos_class(spec) == BURSTABLE
    spec = _spec(_container("a", CPU_MEM, CPU_MEM), init=(_container("i", CPU_MEM, CPU_MEM),))
    assert qos_class(spec) == GUARANTEED


def test_unparsable_quantity_is_ignored() -> None:
    assert qos_class(_spec(_container("a", {"cpu": "lots"}))) == BEST_EFFORT
