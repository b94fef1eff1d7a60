"""Fault and workload specs, and the seeded schedule: the same seed gives the same schedule."""

from __future__ import annotations

import pytest

from kubemu.chaos.faults import SpecError, parse_duration, parse_fault, parse_workload, schedule

pytestmark = pytest.mark.unit


def test_durations() -> None:
    assert parse_duration("20s", "x") == 20
    assert parse_duration("1m30s", "x") == 90
    assert parse_duration("500ms", "x") == 0.5
    with pytest.raises(SpecError, match='x: invalid duration "20"'):
        parse_duration("20", "x")


def test_fault_specs() -> None:
    f = parse_fault("pause-kubelet:every=30s,for=15s")
    assert (f.fault, f.every, f.duration, f.start, f.role) == ("pause-kubelet", 30, 15, 30, "kubelet")
    f = parse_fault("kill-leader:scheduler,every=60s")
    assert (f.role, f.duration) == ("scheduler", 2.0)
    assert parse_fault("kill-kubelet:every=20s,start=1s").start == 1
    for text, message in [
        ("kill-leader:every=60s", "kill-leader needs the component"),
        ("kill-leader:etcd,every=60s", 'kill-leader takes one of scheduler, controllers, not "etcd"'),
        ("kill-kubelet", "every= is required"),
        ("kill-kubelet:every=0s", "every must be more than 0"),
        ("kill-kubelet:every=5s,often=1", 'unknown parameter "often"'),
        ("nuke:every=5s", 'unknown fault "nuke"'),
    ]:
        with pytest.raises(SpecError, match=message):
            parse_fault(text)


def test_workload_specs() -> None:
    assert parse_workload("deployment:web:replicas=12").replicas == 12
    j = parse_workload("job:batch:completions=20")
    assert (j.completions, j.parallelism) == (20, 4)
    for text, message in [
        ("deployment", "expected deployment:NAME"),
        ("statefulset:db", "expected deployment:NAME"),
        ("deployment:web:replicas=0", "replicas must be a whole number of at least 1"),
        ("job:batch:replicas=3", 'unknown parameter "replicas=3"'),
    ]:
        with pytest.raises(SpecError, match=message):
            parse_workload(text)


def test_schedule_is_a_function_of_the_seed() -> None:
    specs = [parse_fault("kill-kubelet:every=20s"), parse_fault("pause-kubelet:every=30s,for=15s")]
    a, b, c = schedule(specs, 120, 7), schedule(specs, 120, 7), schedule(specs, 120, 8)
    assert [(s.at, s.spec.fault, s.pick) for s in a] == [(s.at, s.spec.fault, s.pick) for s in b]
    assert [(s.at, s.pick) for s in a] != [(s.at, s.pick) for s in c]
    assert len([s for s in a if s.spec.fault == "kill-kubelet"]) == 5  # at 20, 40, 60, 80, 100 (jittered)
    assert all(0 <= s.at <= 120 for s in a) and a == sorted(a, key=lambda s: s.at)
