"""Controller expectations against upstream's pkg/controller/controller_utils_test.go (TestControllerExpectations,
TestUIDExpectations): satisfied, observed, expired, deleted."""

from __future__ import annotations

import pytest

from controllers.expectations import ControllerExpectations, UIDTrackingExpectations

pytestmark = pytest.mark.unit

TTL = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


def test_controller_expectations_upstream_sequence() -> None:
    """TestControllerExpectations: set (10 adds, 30 dels), over-observe both, then a fresh set that only expires."""
    clock = FakeClock()
    e = ControllerExpectations(clock=clock, ttl=TTL)
    key = "default/foobar"
    adds, dels = 10, 30
    e.set_expectations(key, adds, dels)
    for _ in range(adds + 1):
        e.creation_observed(key)
    # There are still delete expectations.
    assert not e.satisfied(key), "rc will sync before expectations are met"
    for _ in range(dels + 1):
        e.deletion_observed(key)

    # "Expectations have been surpassed"
    assert e.get(key) == (-1, -1)
    assert e.satisfied(key), "expectations are met but the rc will not sync"

    # "Old expectations are cleared because of ttl"
    e.set_expectations(key, 1, 2)
    assert e.get(key) == (1, 2)
    assert not e.satisfied(key)
    clock.step(TTL + 1)
    assert e.satisfied(key), "expectations should have expired but didn't"


def test_no_record_is_satisfied() -> None:
    e = ControllerExpectations(clock=FakeClock())
    assert e.get("ns/x") is None
    assert e.satisfied("ns/x")


def test_expect_creations_then_observed() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.expect_creations("ns/rs", 2)
    assert e.get("ns/rs") == (2, 0)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")


def test_expect_deletions_replaces_earlier_expectations() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.expect_creations("ns/rs", 3)
    e.expect_deletions("ns/rs", 1)
    assert e.get("ns/rs") == (0, 1)
    e.deletion_observed("ns/rs")
    assert e.satisfied("ns/rs")


def test_lower_expectations_for_failed_creates() -> None:
    # A controller that issued 5 creates of which 2 failed will only ever observe 3.
    e = ControllerExpectations(clock=FakeClock())
    e.expect_creations("ns/rs", 5)
    e.lower_expectations("ns/rs", 2, 0)
    for _ in range(3):
        e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    assert e.get("ns/rs") == (0, 0)


def test_raise_expectations_only_on_a_record() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.raise_expectations("ns/none", 1, 1)
    assert e.get("ns/none") is None
    e.expect_creations("ns/rs", 0)
    assert e.satisfied("ns/rs")
    e.raise_expectations("ns/rs", 1, 2)
    assert e.get("ns/rs") == (1, 2)
    assert not e.satisfied("ns/rs")


def test_observations_without_a_record_are_ignored() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.creation_observed("ns/rs")
    e.deletion_observed("ns/rs")
    e.lower_expectations("ns/rs", 1, 1)
    assert e.get("ns/rs") is None


def test_expiry_is_strictly_after_ttl_and_reset_by_set() -> None:
    clock = FakeClock()
    e = ControllerExpectations(clock=clock, ttl=TTL)
    e.expect_creations("ns/rs", 1)
    clock.step(TTL)
    assert not e.satisfied("ns/rs"), "upstream expires only once the age exceeds the ttl"
    clock.step(0.001)
    assert e.satisfied("ns/rs")
    # Expired records stay (as upstream) and are replaced by the next set, which restarts the clock.
    assert e.get("ns/rs") == (1, 0)
    e.expect_creations("ns/rs", 1)
    assert not e.satisfied("ns/rs")


def test_delete_forgets() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.expect_creations("ns/rs", 4)
    e.delete("ns/rs")
    e.delete("ns/rs")
    assert e.get("ns/rs") is None
    assert e.satisfied("ns/rs")


def test_keys_are_independent() -> None:
    e = ControllerExpectations(clock=FakeClock())
    e.expect_creations("ns/a", 1)
    e.expect_deletions("ns/b", 1)
    e.creation_observed("ns/a")
    assert e.satisfied("ns/a")
    assert not e.satisfied("ns/b")


@pytest.mark.parametrize("replicas", [2, 1, 0, 5])
def test_uid_expectations(replicas: int) -> None:
    """TestUIDExpectations: expect deletions of named pods, observe each, then delete the record."""
    uid_exp = UIDTrackingExpectations(ControllerExpectations(clock=FakeClock()))
    key = f"default/rc-{replicas}"
    uids = {f"default/pod{i}-rc-{replicas}" for i in range(5)}
    uid_exp.expect_deletions(key, uids)
    assert not uid_exp.satisfied(key), f"controller {key} satisfied expectations before deletion"
    for uid in uids:
        uid_exp.deletion_observed(key, uid)
    assert uid_exp.satisfied(key), f"controller {key} didn't satisfy expectations after deletion"
    uid_exp.delete(key)
    assert uid_exp.get_uids(key) is None, f"failed to delete uid expectations for {key}"
    assert uid_exp.get(key) is None


def test_uid_deletion_counted_once_and_only_when_expected() -> None:
    # Graceful deletion: a pod is first seen with a deletionTimestamp, then deleted; that is one deletion.
    uid_exp = UIDTrackingExpectations(ControllerExpectations(clock=FakeClock()))
    uid_exp.expect_deletions("ns/rs", {"u1", "u2"})
    uid_exp.deletion_observed("ns/rs", "u1")
    uid_exp.deletion_observed("ns/rs", "u1")
    uid_exp.deletion_observed("ns/rs", "stranger")
    assert uid_exp.get("ns/rs") == (0, 1)
    assert uid_exp.get_uids("ns/rs") == frozenset({"u2"})
    assert not uid_exp.satisfied("ns/rs")
    uid_exp.deletion_observed("ns/rs", "u2")
    assert uid_exp.satisfied("ns/rs")


def test_uid_expectations_expire_and_delegate_creations() -> None:
    clock = FakeClock()
    uid_exp = UIDTrackingExpectations(ControllerExpectations(clock=clock, ttl=TTL))
    uid_exp.expect_creations("ns/rs", 2)
    uid_exp.creation_observed("ns/rs")
    uid_exp.lower_expectations("ns/rs", 1, 0)
    assert uid_exp.satisfied("ns/rs")
    uid_exp.expect_deletions("ns/rs", {"u1"})
    uid_exp.raise_expectations("ns/rs", 1, 0)
    assert uid_exp.get("ns/rs") == (1, 1)
    clock.step(TTL + 1)
    assert uid_exp.satisfied("ns/rs")


def test_uid_expectations_default_to_their_own_store() -> None:
    uid_exp = UIDTrackingExpectations()
    assert uid_exp.satisfied("ns/rs")
    uid_exp.expect_deletions("ns/rs", set())
    assert uid_exp.satisfied("ns/rs")
