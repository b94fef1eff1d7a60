"""The controllers' work queue against client-go's util/workqueue semantics: dedupe, FIFO, one worker per key,
delays, per-key exponential backoff, shutdown, and the worker loop."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controllers.workqueue import RateLimitingQueue, ShutDown, run_workers
from tests.support import until

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float) -> None:
        self.now += seconds


async def get_now(q: RateLimitingQueue) -> str:
    """A get that must not block: the key is expected to be queued already."""
    return await asyncio.wait_for(q.get(), timeout=1.0)


async def test_add_dedupes() -> None:
    q = RateLimitingQueue()
    for key in ["a", "b", "a", "a", "b"]:
        q.add(key)
    assert len(q) == 2


async def test_fifo() -> None:
    q = RateLimitingQueue()
    for key in ["c", "a", "b"]:
        q.add(key)
    got = [await get_now(q) for _ in range(3)]
    assert got == ["c", "a", "b"]
    assert q.processing == {"a", "b", "c"}
    assert len(q) == 0


async def test_key_added_while_processing_comes_back_once_after_done() -> None:
    q = RateLimitingQueue()
    q.add("a")
    key = await get_now(q)
    assert key == "a"
    q.add("a")
    q.add("a")
    # Not handed out while in flight: a second worker must not get it.
    assert len(q) == 0
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not second.done()
    q.done("a")
    assert await asyncio.wait_for(second, timeout=1.0) == "a"
    assert q.processing == {"a"}
    q.done("a")
    assert len(q) == 0
    assert q.processing == frozenset()


async def test_processing_is_read_only() -> None:
    q = RateLimitingQueue()
    q.add("a")
    await get_now(q)
    with pytest.raises(AttributeError):
        q.processing.add("b")  # type: ignore[attr-defined]
    assert q.processing == {"a"}


async def test_get_waits_for_add() -> None:
    q = RateLimitingQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.add("x")
    assert await asyncio.wait_for(waiter, timeout=1.0) == "x"


async def test_cancelled_getter_does_not_swallow_a_key() -> None:
    q = RateLimitingQueue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("x")  # wakes `first`, which is cancelled before it runs
    first.cancel()
    assert await asyncio.wait_for(second, timeout=1.0) == "x"


async def test_add_after_orders_by_ready_time_with_fake_clock() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("late", 20)
    q.add_after("early", 10)
    assert len(q) == 0
    clock.step(10)
    assert len(q) == 1
    assert await get_now(q) == "early"
    clock.step(9.5)
    assert len(q) == 0
    clock.step(0.5)
    assert await get_now(q) == "late"


async def test_add_after_keeps_the_earlier_time() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(clock=clock)
    q.add_after("a", 10)
    q.add_after("a", 30)
    q.add_after("b", 5)
    q.add_after("b", 1)
    clock.step(1)
    assert [await get_now(q)] == ["b"]
    clock.step(9)
    assert await get_now(q) == "a"
    clock.step(100)
    assert len(q) == 0  # the superseded entries do not add the keys again


async def test_add_after_non_positive_is_add() -> None:
    q = RateLimitingQueue(clock=FakeClock())
    q.add_after("a", 0)
    q.add_after("b", -1)
    assert len(q) == 2


async def test_add_after_with_real_delays_wakes_a_waiting_get() -> None:
    q = RateLimitingQueue()
    q.add_after("slow", 0.08)
    q.add_after("fast", 0.02)
    assert await asyncio.wait_for(q.get(), timeout=2.0) == "fast"
    assert await asyncio.wait_for(q.get(), timeout=2.0) == "slow"


async def test_rate_limited_backoff_grows_and_forget_resets() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(base_delay=1.0, max_delay=5.0, clock=clock)
    expected = [1.0, 2.0, 4.0, 5.0, 5.0]  # base * 2**failures, capped at max_delay
    for n, delay in enumerate(expected):
        q.add_rate_limited("a")
        assert q.num_requeues("a") == n + 1
        clock.step(delay - 0.01)
        assert len(q) == 0, f"requeue {n} came back before {delay}s"
        clock.step(0.01)
        assert len(q) == 1, f"requeue {n} not back after {delay}s"
        assert await get_now(q) == "a"
        q.done("a")
    q.forget("a")
    assert q.num_requeues("a") == 0
    q.add_rate_limited("a")
    clock.step(1.0)
    assert len(q) == 1


async def test_backoff_does_not_overflow() -> None:
    q = RateLimitingQueue(base_delay=0.005, max_delay=1000.0, clock=FakeClock())
    for _ in range(2000):
        q.add_rate_limited("a")
    assert q.num_requeues("a") == 2000


async def test_rate_limits_are_per_key() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(base_delay=1.0, clock=clock)
    for _ in range(3):
        q.add_rate_limited("a")
    q.add_rate_limited("b")
    assert (q.num_requeues("a"), q.num_requeues("b")) == (3, 1)
    clock.step(1.0)
    assert await get_now(q) == "a"  # its first requeue, 1s, is the earliest kept
    assert await get_now(q) == "b"


async def test_shut_down_drains_then_raises() -> None:
    q = RateLimitingQueue()
    q.add("a")
    q.add("b")
    q.shut_down()
    q.add("c")  # ignored once shutting down
    assert await get_now(q) == "a"
    assert await get_now(q) == "b"
    with pytest.raises(ShutDown):
        await get_now(q)


async def test_shut_down_wakes_waiting_getters_and_drops_delays() -> None:
    q = RateLimitingQueue()
    q.add_after("later", 0.01)
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shut_down()
    results = await asyncio.wait_for(asyncio.gather(*waiters, return_exceptions=True), timeout=1.0)
    assert all(isinstance(r, ShutDown) for r in results)
    q.add_after("later", 0.0)
    assert len(q) == 0


async def test_run_workers_retries_with_backoff_then_succeeds() -> None:
    clock = FakeClock()
    q = RateLimitingQueue(base_delay=1.0, clock=clock)
    attempts: list[str] = []
    errors: list[tuple[str, str]] = []

    async def sync(key: str) -> None:
        attempts.append(key)
        if len(attempts) < 3:
            raise RuntimeError(f"attempt {len(attempts)}")

    runner = asyncio.create_task(run_workers(q, sync, 2, on_error=lambda k, e: errors.append((k, str(e)))))
    try:
        q.add("ns/a")
        await until(lambda: len(attempts) == 1 and not q.processing, timeout=2, describe=lambda: (attempts, q))
        assert q.num_requeues("ns/a") == 1
        # Backoff 1s on the fake clock: nothing happens until it passes.
        clock.step(0.5)
        assert len(q) == 0 and len(attempts) == 1
        clock.step(0.5)
        await until(lambda: len(q) or len(attempts) == 2, timeout=2)  # len() lets the fake clock take effect
        await until(lambda: len(attempts) == 2 and not q.processing, timeout=2, describe=lambda: (attempts, q))
        assert q.num_requeues("ns/a") == 2
        clock.step(2.0)  # second backoff: base * 2
        await until(lambda: len(q) or len(attempts) == 3, timeout=2)
        await until(lambda: len(attempts) == 3 and not q.processing, timeout=2, describe=lambda: (attempts, q))
        assert q.num_requeues("ns/a") == 0  # forgotten on success
        assert errors == [("ns/a", "attempt 1"), ("ns/a", "attempt 2")]
    finally:
        q.shut_down()
    await asyncio.wait_for(runner, timeout=2.0)


async def test_run_workers_never_syncs_one_key_concurrently() -> None:
    q = RateLimitingQueue()
    in_flight: set[str] = set()
    overlaps: list[str] = []
    synced: list[str] = []
    release = asyncio.Event()

    async def sync(key: str) -> None:
        if key in in_flight:
            overlaps.append(key)
        in_flight.add(key)
        await release.wait()
        in_flight.discard(key)
        synced.append(key)

    runner = asyncio.create_task(run_workers(q, sync, workers=4))
    q.add("a")
    await until(lambda: "a" in in_flight, timeout=2)
    q.add("a")
    q.add("b")
    await until(lambda: "b" in in_flight, timeout=2)
    assert q.processing == {"a", "b"}
    release.set()
    await until(lambda: sorted(synced) == ["a", "a", "b"], timeout=2, describe=lambda: (synced, q))
    assert overlaps == []
    q.shut_down()
    await asyncio.wait_for(runner, timeout=2.0)


async def test_run_workers_returns_on_shut_down_after_draining() -> None:
    q = RateLimitingQueue()
    synced: list[str] = []

    async def sync(key: str) -> None:
        synced.append(key)

    for key in ["a", "b", "c"]:
        q.add(key)
    q.shut_down()
    await asyncio.wait_for(run_workers(q, sync, workers=2), timeout=2.0)
    assert sorted(synced) == ["a", "b", "c"]


async def test_run_workers_cancellation_cancels_workers_and_marks_done() -> None:
    q = RateLimitingQueue()
    started = asyncio.Event()
    cancelled: list[str] = []

    async def sync(key: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(key)
            raise

    runner = asyncio.create_task(run_workers(q, sync, workers=3))
    q.add("a")
    await asyncio.wait_for(started.wait(), timeout=2.0)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(runner, timeout=2.0)
    assert cancelled == ["a"]
    assert q.processing == frozenset()
    assert q.num_requeues("a") == 0  # cancellation is not a failure


async def test_run_workers_survives_a_failing_error_hook() -> None:
    q = RateLimitingQueue(base_delay=0.001)
    attempts: list[str] = []

    async def sync(key: str) -> None:
        attempts.append(key)
        if len(attempts) == 1:
            raise RuntimeError("boom")

    def on_error(key: str, exc: Exception) -> None:
        raise ValueError("hook broke")

    runner = asyncio.create_task(run_workers(q, sync, on_error=on_error))
    q.add("a")
    await until(lambda: len(attempts) == 2, timeout=2, describe=lambda: (attempts, q))
    q.shut_down()
    await asyncio.wait_for(runner, timeout=2.0)


def test_run_workers_rejects_zero_workers() -> None:
    async def sync(key: str) -> None:
        pass

    with pytest.raises(ValueError):
        asyncio.run(run_workers(RateLimitingQueue(), sync, workers=0))


# -- property: any sequence of add/get/done keeps each key at most once in queue + processing -----------------------

KEYS = st.sampled_from(["a", "b", "c", "d"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("add"), KEYS),
        st.tuples(st.just("get"), st.just("")),
        st.tuples(st.just("done"), st.integers(min_value=0, max_value=3)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(ops=OPS)
def test_every_key_at_most_once_in_queue_and_processing(ops: list[tuple[str, object]]) -> None:
    async def scenario() -> None:
        q = RateLimitingQueue()
        # A model of upstream's queue: `queued` in FIFO order, `in_flight` handed out, `dirty` re-adds.
        queued: list[str] = []
        in_flight: list[str] = []
        dirty: set[str] = set()
        for op, arg in ops:
            if op == "add":
                key = str(arg)
                if key not in queued and key not in dirty:
                    if key in in_flight:
                        dirty.add(key)
                    else:
                        queued.append(key)
                q.add(key)
            elif op == "get" and queued:
                key = await asyncio.wait_for(q.get(), timeout=1.0)
                assert key == queued.pop(0)
                assert key not in in_flight, f"{key} handed out twice"
                in_flight.append(key)
            elif op == "done" and in_flight:
                assert isinstance(arg, int)
                key = in_flight.pop(arg % len(in_flight))
                q.done(key)
                if key in dirty:
                    dirty.discard(key)
                    queued.append(key)
            assert len(q) == len(queued)
            assert q.processing == set(in_flight)
            assert len(set(queued)) == len(queued)
            assert not set(queued) & set(in_flight), "a key both queued and in flight"
        # Drain: every queued key comes out once, in order, none of them in flight.
        q.shut_down()
        drained = []
        while True:
            try:
                drained.append(await asyncio.wait_for(q.get(), timeout=1.0))
            except ShutDown:
                break
        assert drained == queued

    asyncio.run(scenario())
