"""The controllers' work queue: client-go's util/workqueue (queue, delaying queue, rate-limiting queue) in asyncio,
and `run_workers`, the worker loop every controller runs over it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger()

# 2**62 * base_delay already exceeds any sane max_delay; stopping here keeps the float product from overflowing.
_MAX_BACKOFF_EXPONENT = 62


class ShutDown(Exception):
    """Raised by `RateLimitingQueue.get` once the queue is shut down and drained."""


class RateLimitingQueue:
    """A FIFO of keys that dedupes, never hands one key to two workers at once, and re-adds keys after a delay
    or after a per-key exponential backoff (client-go's ItemExponentialFailureRateLimiter).

    Like upstream, a key lives in `_dirty` (needs processing) and/or `_processing` (a worker has it); it is in
    `_queue` only when dirty and not processing, so `add` during processing defers the key until `done`.
    Timers run on the event loop, so `add_after` and `add_rate_limited` need a running loop.
    """

    def __init__(
        self,
        name: str = "",
        base_delay: float = 0.005,
        max_delay: float = 1000.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._queue: deque[str] = deque()
        self._dirty: set[str] = set()
        self._processing: set[str] = set()
        self._shutting_down = False
        self._getters: deque[asyncio.Future[None]] = deque()
        self._failures: dict[str, int] = {}
        # Delaying queue: the earliest ready time per key (upstream keeps the earlier of two add_afters), and a
        # heap that may hold stale entries for superseded times, skipped when popped.
        self._waiting: dict[str, float] = {}
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    # -- the queue ------------------------------------------------------------------------------------------------

    def add(self, key: str) -> None:
        """Mark key as needing processing; a key already queued is not queued twice."""
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            # The worker holding it may have read stale state; `done` re-queues it so the change is not lost.
            return
        self._queue.append(key)
        self._wake_one()

    async def get(self) -> str:
        """Wait for the next key; the caller must call `done(key)` when finished with it."""
        while True:
            self._flush_ready()
            if self._queue:
                key = self._queue.popleft()
                self._dirty.discard(key)
                self._processing.add(key)
                return key
            if self._shutting_down:
                raise ShutDown(self.name)
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                try:
                    self._getters.remove(getter)
                except ValueError:
                    pass
                # A wake-up addressed to a cancelled getter must not be lost: pass it on (as asyncio.Queue does).
                if self._queue and not getter.cancelled():
                    self._wake_one()
                raise

    def done(self, key: str) -> None:
        """Mark key as processed; if it was added meanwhile, it goes back in the queue now."""
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._wake_one()

    def shut_down(self) -> None:
        """Stop accepting keys; `get` hands out what is queued, then raises ShutDown."""
        self._shutting_down = True
        # Pending delays are dropped, as upstream's waiting loop stops: nobody will process them.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None
        self._waiting.clear()
        self._heap.clear()
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    @property
    def processing(self) -> frozenset[str]:
        """Keys handed out by `get` and not yet `done`."""
        return frozenset(self._processing)

    def __len__(self) -> int:
        """Keys waiting for a worker (not those being processed, nor those still delayed)."""
        self._flush_ready()
        return len(self._queue)

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    # -- the delaying queue -----------------------------------------------------------------------------------------

    def add_after(self, key: str, delay: float) -> None:
        """Add key once `delay` seconds have passed on the queue's clock."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock() + delay
        current = self._waiting.get(key)
        if current is not None and current <= ready_at:
            return
        self._waiting[key] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), key))
        self._arm_timer()

    def _flush_ready(self) -> None:
        """Move every key whose time has come into the queue, earliest first.

        Called from the timer and whenever the queue is consulted, so an injected clock that jumps ahead (a test's
        fake clock) takes effect at the next `get` or `len` without waiting for the loop's timer.
        """
        if not self._heap:
            return
        now = self._clock()
        while self._heap and self._heap[0][0] <= now:
            ready_at, _, key = heapq.heappop(self._heap)
            if self._waiting.get(key) != ready_at:
                continue
            del self._waiting[key]
            self.add(key)
        self._arm_timer()

    def _arm_timer(self) -> None:
        while self._heap and self._waiting.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        if not self._heap:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = self._timer_at = None
            return
        ready_at = self._heap[0][0]
        if self._timer is not None and self._timer_at == ready_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        # The loop's clock may differ from the injected one; re-arming in _flush_ready covers an early firing.
        delay = max(0.0, ready_at - self._clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)
        self._timer_at = ready_at

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self._flush_ready()

    # -- the rate limiter -----------------------------------------------------------------------------------------

    def add_rate_limited(self, key: str) -> None:
        """Add key after its backoff, base_delay * 2**failures capped at max_delay, and count one more failure."""
        self.add_after(key, self._when(key))

    def _when(self, key: str) -> float:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        if failures > _MAX_BACKOFF_EXPONENT:
            return self.max_delay
        return min(self.base_delay * 2.0**failures, self.max_delay)

    def forget(self, key: str) -> None:
        """Reset key's failure count: its next `add_rate_limited` starts from base_delay again."""
        self._failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        return self._failures.get(key, 0)

    def __repr__(self) -> str:
        return (
            f"RateLimitingQueue(name={self.name!r}, queued={list(self._queue)}, processing={sorted(self._processing)},"
            f" waiting={sorted(self._waiting)}, shutting_down={self._shutting_down})"
        )


async def run_workers(
    queue: RateLimitingQueue,
    sync: Callable[[str], Awaitable[None]],
    workers: int = 1,
    *,
    on_error: Callable[[str, Exception], None] | None = None,
) -> None:
    """Run `workers` loops of get -> sync -> forget (or add_rate_limited on error) -> done, until the queue shuts
    down. Cancelling this coroutine cancels every worker; a key being synced is still marked done."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await sync(key)
            except Exception as exc:
                if on_error is not None:
                    try:
                        on_error(key, exc)
                    except Exception:
                        # A broken error hook must not take the worker (and, via the task group, all workers) down.
                        log.exception("workqueue.on_error_failed", queue=queue.name, key=key)
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)

    async with asyncio.TaskGroup() as tg:
        for _ in range(workers):
            tg.create_task(worker())
