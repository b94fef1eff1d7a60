"""The simulated memory model read from `sim.kubemu.io/memory`: per container or bare, start plus growth, and
the fallbacks (the container's request, else 10Mi)."""

from __future__ import annotations

import pytest

from kubelet.pod_worker import memory_model

MI = 1024 * 1024


@pytest.mark.parametrize(("annotation", "container", "requested", "expected"), [
    ("app=50Mi+10Mi/s", "app", "", (50 * MI, 10 * MI)),
    ("app=50Mi+10Mi/s, side=5Mi", "side", "", (5 * MI, 0)),
    ("20Mi", "any", "64Mi", (20 * MI, 0)),  # bare value: every container
    ("20Mi,app=1Gi", "app", "", (1024 * MI, 0)),  # a named one wins over the bare one
    ("+1Mi/s", "app", "", (0, MI)),  # growth only
    ("other=5Mi", "app", "64Mi", (64 * MI, 0)),  # not this container: its request
    ("", "app", "", (10 * MI, 0)),  # no annotation, no request
    ("app=50Mi+10Mi", "app", "", (50 * MI, 0)),  # a rate without /s is not a rate
])
def test_memory_model(annotation: str, container: str, requested: str, expected: tuple[int, int]) -> None:
    assert memory_model(annotation, container, requested) == expected


def test_a_bad_quantity_raises_every_time() -> None:
    for _ in range(2):  # not remembered as an answer
        with pytest.raises(ValueError):
            memory_model("app=lots", "app", "")
