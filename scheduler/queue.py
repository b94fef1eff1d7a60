"""The scheduling queue: active pods by priority (then age), and unschedulable pods that wait for a cluster
change that could help them, with per-pod backoff (1 s doubling to 10 s) so nothing retries in a busy loop."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubemu.api.serialization import time_value
from kubemu.pb import core_pb2
from scheduler.cache import pod_key

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
MAX_UNSCHEDULABLE = 300.0
"""podMaxInUnschedulablePodsDuration: retry an unschedulable pod at least this often."""


@dataclass
class _Waiting:
    pod: core_pb2.Pod
    attempts: int
    since: float
    released: bool = False
    """A cluster change since it failed may have made room: retry once its backoff is over."""

    @property
    def backoff(self) -> float:
        return float(min(INITIAL_BACKOFF * 2 ** max(self.attempts - 1, 0), MAX_BACKOFF))


class SchedulingQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic, time_scale: float = 1.0) -> None:
        self.clock = clock
        self.scale = time_scale
        self._heap: list[tuple[int, float, int, str]] = []
        self._active: dict[str, core_pb2.Pod] = {}
        self._waiting: dict[str, _Waiting] = {}
        self._attempts: dict[str, int] = {}
        self._counter = itertools.count()
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._active) + len(self._waiting)

    def add(self, pod: core_pb2.Pod) -> None:
        """A new or changed pending pod: schedule it (a change to an unschedulable pod retries it)."""
        key = pod_key(pod)
        self._waiting.pop(key, None)
        if key not in self._active:
            prio = pod.spec.priority if pod.spec.HasField("priority") else 0
            heapq.heappush(self._heap, (-prio, time_value(pod.metadata.creation_timestamp), next(self._counter), key))
        self._active[key] = pod
        self._wake.set()

    def remove(self, pod: core_pb2.Pod) -> None:
        key = pod_key(pod)
        self._active.pop(key, None)
        self._waiting.pop(key, None)
        self._attempts.pop(key, None)

    def unschedulable(self, pod: core_pb2.Pod) -> None:
        key = pod_key(pod)
        attempts = self._attempts.get(key, 0) + 1
        self._attempts[key] = attempts
        self._waiting[key] = _Waiting(pod, attempts, self.clock())

    def done(self, pod: core_pb2.Pod) -> None:
        self._attempts.pop(pod_key(pod), None)

    def cluster_changed(self) -> None:
        """A node appeared or changed, or a pod went away: every waiting pod may fit now (after its backoff)."""
        for w in self._waiting.values():
            w.released = True
        self._wake.set()

    def _due(self) -> float | None:
        """Move waiting pods whose time has come to active; the delay until the next one is due."""
        now = self.clock()
        nearest: float | None = None
        for key, w in list(self._waiting.items()):
            wait = w.backoff if w.released else MAX_UNSCHEDULABLE
            ready_at = w.since + wait * self.scale
            if ready_at <= now:
                del self._waiting[key]
                self.add(w.pod)
            else:
                nearest = ready_at - now if nearest is None else min(nearest, ready_at - now)
        return nearest

    async def pop(self) -> core_pb2.Pod:
        while True:
            delay = self._due()
            while self._heap:
                _, _, _, key = heapq.heappop(self._heap)
                pod = self._active.pop(key, None)
                if pod is not None:
                    return pod
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
