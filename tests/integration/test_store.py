"""The store's write pipelining against a real redis-server: writes made while others are in flight share the
connection, and each caller still gets its own result or error, in order; a Redis that lost its scripts (restarted)
gets them loaded again; a Redis that dies fails the writes in flight as unavailable, and the next write after it
is back connects again."""

from __future__ import annotations

import asyncio
import signal

import pytest
import redis

from apiserver import errors, storage
from tests.support import RedisServer, fresh_database, until

pytestmark = pytest.mark.integration


async def test_concurrent_writes_each_get_their_own_outcome(redis_server: RedisServer) -> None:
    url = fresh_database(redis_server.url, 8)
    store = storage.Store(url)
    try:
        # 200 creates at once, every name twice: exactly one of each pair wins.
        names = [f"p{i % 100}" for i in range(200)]
        results = await asyncio.gather(
            *(store.create("Pod", f"/{n}", b"d", f"uid-{i}", b"{}", None) for i, n in enumerate(names)),
            return_exceptions=True)
        revs = [r for r in results if isinstance(r, int)]
        assert len(revs) == 100 and len(set(revs)) == 100
        assert sum(isinstance(r, storage.Exists) for r in results) == 100
        assert sorted(revs) == list(range(min(revs), min(revs) + 100))  # no revision lost or repeated
        # Updates with a stale expected revision fail alone; the others in the same batch go through.
        current = {f"p{i}": rev for i, rev in enumerate(await _revs(store, 100))}
        outcomes = await asyncio.gather(
            *(store.update("Pod", f"/{n}", b"d2", rev if int(n[1:]) % 2 else rev - 1, b"{}", b"{}")
              for n, rev in current.items()), return_exceptions=True)
        assert sum(isinstance(o, storage.Stale) for o in outcomes) == 50
        assert sum(isinstance(o, int) for o in outcomes) == 50
    finally:
        await store.close()


async def _revs(store: storage.Store, n: int) -> list[int]:
    out = []
    for i in range(n):
        got = await store.get("Pod", f"/p{i}")
        assert got is not None
        out.append(got[1])
    return out


async def test_scripts_are_loaded_again_after_a_script_flush(redis_server: RedisServer) -> None:
    url = fresh_database(redis_server.url, 8)
    store = storage.Store(url)
    try:
        await store.create("Pod", "/a", b"d", "u1", b"{}", None)
        with redis.Redis.from_url(url) as r:
            r.script_flush()  # what a restarted Redis looks like to the apiserver
        results = await asyncio.gather(*(store.create("Pod", f"/b{i}", b"d", f"u{i}", b"{}", None) for i in range(20)))
        assert len(set(results)) == 20
    finally:
        await store.close()


async def test_a_dead_redis_fails_writes_in_flight_and_the_store_reconnects_when_it_is_back() -> None:
    server = RedisServer().start()
    store = storage.Store(server.url)
    try:
        await store.create("Pod", "/before", b"d", "u0", b"{}", None)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGSTOP)  # writes sent now wait on a Redis that will never answer them
        in_flight = [asyncio.create_task(store.create("Pod", f"/w{i}", b"d", f"u{i}", b"{}", None))
                     for i in range(10)]
        await asyncio.sleep(0.1)
        assert not any(t.done() for t in in_flight)
        server.proc.kill()
        server.proc.wait()
        outcomes = await asyncio.wait_for(asyncio.gather(*in_flight, return_exceptions=True), 5)
        assert all(isinstance(o, errors.Unavailable) for o in outcomes), outcomes
        with pytest.raises(errors.Unavailable):
            await store.create("Pod", "/down", b"d", "u-down", b"{}", None)

        server.start()  # the same port, empty (no persistence): the scripts are loaded again

        async def created() -> bool:
            try:
                return await store.create("Pod", "/after", b"d", "u-after", b"{}", None) > 0
            except errors.Unavailable:
                return False

        await until(created, timeout=10)
        assert await store.get("Pod", "/after") is not None
    finally:
        await store.close()
        server.stop()


async def test_stream_reads_return_each_kinds_events_and_a_blocked_read_fails_when_redis_dies() -> None:
    server = RedisServer().start()
    store = storage.Store(server.url)
    try:
        rev_a = await store.create("Pod", "ns/a", b"pod-a", "u1", b'{"l":{}}', None)
        rev_n = await store.create("Node", "/n1", b"node-1", "u2", b"{}", None)
        rev_b = await store.create("Pod", "ns/b", b"pod-b", "u3", b"{}", None)
        read, compacted = await store.read_streams({"Pod": 0, "Node": 0}, block_ms=100)
        batches = dict(read)
        assert compacted == {"Pod": 0, "Node": 0}  # nothing trimmed
        assert [(e.revision, e.type, e.member, e.data, e.attrs) for e in batches["Pod"]] == [
            (rev_a, "ADDED", "ns/a", b"pod-a", b'{"l":{}}'), (rev_b, "ADDED", "ns/b", b"pod-b", b"{}")]
        assert [(e.revision, e.member) for e in batches["Node"]] == [(rev_n, "/n1")]
        assert (await store.read_streams({"Pod": rev_b, "Node": rev_n}, block_ms=50))[0] == []  # nothing new

        blocked = asyncio.create_task(store.read_streams({"Pod": rev_b}, block_ms=60_000))
        await asyncio.sleep(0.1)
        assert not blocked.done()
        assert server.proc is not None
        server.proc.kill()
        server.proc.wait()
        with pytest.raises(errors.Unavailable):
            await asyncio.wait_for(blocked, 5)

        server.start()  # empty again: the next read connects anew

        async def read_again() -> bool:
            try:
                await store.create("Pod", "ns/c", b"pod-c", "u4", b"{}", None)
                got, _ = await store.read_streams({"Pod": 0}, block_ms=100)
            except errors.Unavailable:
                return False
            return [e.member for _, evs in got for e in evs] == ["ns/c"]

        await until(read_again, timeout=10)
    finally:
        await store.close()
        server.stop()
