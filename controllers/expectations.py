"""Controller expectations (upstream pkg/controller/controller_utils.go): how many creations and deletions a
controller still waits to see in its cache before it may act again on a key, so a slow watch never causes duplicates."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

log = structlog.get_logger()

EXPECTATIONS_TIMEOUT = 300.0
"""Upstream's ExpectationsTimeout (5 minutes): after this, a controller stops waiting on events it may never see."""


@dataclass
class _Expectation:
    """ControlleeExpectations: outstanding adds and deletes, and when they were set (for the ttl)."""

    add: int
    delete: int
    timestamp: float

    def fulfilled(self) -> bool:
        # Counts go negative when more is observed than expected (e.g. a failed create lowered it too); that is
        # still fulfilled.
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Per controller key, the creations and deletions the controller has issued but not yet observed."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self._clock = clock
        self.ttl = ttl
        self._store: dict[str, _Expectation] = {}

    def get(self, key: str) -> tuple[int, int] | None:
        """The outstanding (adds, deletes) for key, or None when no expectations are recorded."""
        exp = self._store.get(key)
        return None if exp is None else (exp.add, exp.delete)

    def satisfied(self, key: str) -> bool:
        """Whether the controller may sync key: nothing recorded, everything observed, or the record expired."""
        exp = self._store.get(key)
        if exp is None:
            # A new controller has no expectations yet; it must sync to establish them.
            return True
        if exp.fulfilled():
            return True
        if self._clock() - exp.timestamp > self.ttl:
            # Events can be lost for good (a watch gap, a pod deleted before we saw it); never block forever.
            log.debug("expectations.expired", key=key, add=exp.add, delete=exp.delete)
            return True
        return False

    def set_expectations(self, key: str, add: int, delete: int) -> None:
        """Record fresh expectations for key, forgetting any earlier ones and restarting the ttl."""
        self._store[key] = _Expectation(add, delete, self._clock())

    def expect_creations(self, key: str, n: int) -> None:
        self.set_expectations(key, n, 0)

    def expect_deletions(self, key: str, n: int) -> None:
        self.set_expectations(key, 0, n)

    def raise_expectations(self, key: str, add: int, delete: int) -> None:
        """Expect more; like upstream, a no-op when nothing is recorded for key (and the ttl is not restarted)."""
        exp = self._store.get(key)
        if exp is not None:
            exp.add += add
            exp.delete += delete

    def lower_expectations(self, key: str, add: int, delete: int) -> None:
        """Expect less: the objects were observed, or their creation or deletion failed and will never be seen."""
        exp = self._store.get(key)
        if exp is not None:
            exp.add -= add
            exp.delete -= delete

    def creation_observed(self, key: str) -> None:
        self.lower_expectations(key, 1, 0)

    def deletion_observed(self, key: str) -> None:
        self.lower_expectations(key, 0, 1)

    def delete(self, key: str) -> None:
        """Forget key, e.g. when its controller object is deleted."""
        self._store.pop(key, None)


class UIDTrackingExpectations:
    """UIDTrackingControllerExpectations: deletions tracked by pod uid, so a pod seen twice going away (first its
    deletionTimestamp, then its delete event) is counted once."""

    def __init__(self, expectations: ControllerExpectations | None = None) -> None:
        self.expectations = expectations if expectations is not None else ControllerExpectations()
        self._uids: dict[str, set[str]] = {}

    def get_uids(self, key: str) -> frozenset[str] | None:
        """The uids key still waits to see deleted, or None when none are recorded."""
        uids = self._uids.get(key)
        return None if uids is None else frozenset(uids)

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        """Expect exactly these pods to go away; replaces any earlier uid expectations for key."""
        expected = set(uids)
        if self._uids.get(key):
            log.warning("expectations.clobbered", key=key, uids=sorted(self._uids[key]))
        self._uids[key] = expected
        self.expectations.expect_deletions(key, len(expected))

    def deletion_observed(self, key: str, uid: str) -> None:
        """Count uid's deletion once, and only when key expected it."""
        uids = self._uids.get(key)
        if uids is not None and uid in uids:
            uids.discard(uid)
            self.expectations.deletion_observed(key)

    def delete(self, key: str) -> None:
        self.expectations.delete(key)
        self._uids.pop(key, None)

    # Creations are counted, not tracked by uid (as upstream); these delegate to the wrapped expectations.

    def get(self, key: str) -> tuple[int, int] | None:
        return self.expectations.get(key)

    def satisfied(self, key: str) -> bool:
        return self.expectations.satisfied(key)

    def set_expectations(self, key: str, add: int, delete: int) -> None:
        self.expectations.set_expectations(key, add, delete)

    def expect_creations(self, key: str, n: int) -> None:
        self.expectations.expect_creations(key, n)

    def raise_expectations(self, key: str, add: int, delete: int) -> None:
        self.expectations.raise_expectations(key, add, delete)

    def lower_expectations(self, key: str, add: int, delete: int) -> None:
        self.expectations.lower_expectations(key, add, delete)

    def creation_observed(self, key: str) -> None:
        self.expectations.creation_observed(key)
