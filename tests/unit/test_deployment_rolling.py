"""The deployment controller's rolling step over replica sets as its cache shows them, without a cluster: a
status that still counts pods a scale-down is removing must not let it scale down past maxUnavailable."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.deployment import DeploymentController
from kubemu.api.serialization import from_dict
from kubemu.pb import apps_pb2

pytestmark = pytest.mark.unit


class _ReplicaSets:
    def __init__(self, sets: dict[str, apps_pb2.ReplicaSet]) -> None:
        self.sets = sets
        self.scaled: list[tuple[str, int]] = []

    async def get(self, name: str, namespace: str) -> apps_pb2.ReplicaSet:
        out = apps_pb2.ReplicaSet()
        out.CopyFrom(self.sets[name])
        return out

    async def update(self, rs: apps_pb2.ReplicaSet) -> apps_pb2.ReplicaSet:
        self.scaled.append((rs.metadata.name, rs.spec.replicas))
        self.sets[rs.metadata.name].CopyFrom(rs)
        return rs


class _Recorder:
    async def event(self, *args: Any) -> None:
        pass


def _rs(name: str, created: int, replicas: int, available: int) -> apps_pb2.ReplicaSet:
    rs: apps_pb2.ReplicaSet = from_dict({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": f"2026-01-01T00:00:0{created}Z"},
        "spec": {"replicas": replicas}, "status": {"replicas": available, "availableReplicas": available}})
    return rs


def _deployment() -> apps_pb2.Deployment:
    d: apps_pb2.Deployment = from_dict({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 4, "strategy": {"type": "RollingUpdate",
                                             "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}}})
    return d


async def _step(old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> list[tuple[str, int]]:
    sets = _ReplicaSets({old.metadata.name: old, new.metadata.name: new})
    ctrl = DeploymentController.__new__(DeploymentController)
    ctrl.client = type("C", (), {"replica_sets": sets})()  # type: ignore[assignment]
    ctrl.recorder = _Recorder()  # type: ignore[assignment]
    await ctrl._rolling(_deployment(), new, [old], 4)
    return sets.scaled


async def test_a_status_still_counting_removed_pods_does_not_scale_down_twice() -> None:
    # Old scaled 4 -> 3 a moment ago, its status still says 4 available; one new pod of 2 is available.
    # Available for real: 3 old + 1 new = 4, so one more old pod may go (3 stay available), not two.
    assert await _step(_rs("old", 1, replicas=3, available=4), _rs("new", 2, replicas=2, available=1)) == [
        ("old", 2)]


async def test_an_up_to_date_status_scales_down_by_the_surplus() -> None:
    assert await _step(_rs("old", 1, replicas=3, available=3), _rs("new", 2, replicas=2, available=2)) == [
        ("old", 1)]
    # No new pod available yet: nothing may go (3 old available is the minimum).
    assert await _step(_rs("old", 1, replicas=3, available=3), _rs("new", 2, replicas=2, available=0)) == []
