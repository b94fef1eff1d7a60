"""The watch hub's stream reads against a real redis-server: under load they are spaced, so the writes made
meanwhile reach a watch in one batch (one stream message), while a write after a quiet spell is delivered by the
read already waiting for it, without waiting out the spacing."""

from __future__ import annotations

import asyncio

import pytest

from apiserver import storage
from apiserver.watch import WatchHub, make_filter
from tests.support import RedisServer, fresh_database

pytestmark = pytest.mark.integration

SPACING = 3.0


async def test_writes_during_the_read_spacing_come_in_one_batch(redis_server: RedisServer) -> None:
    store = storage.Store(fresh_database(redis_server.url, 9))
    hub = WatchHub(store, ["Pod"], block_ms=10_000, read_spacing=SPACING)
    try:
        await hub.start()
        sub, _ = hub.subscribe("Pod", make_filter("Pod", "", "", ""))
        await store.create("Pod", "/a", b"a", "uid-a", b'{"l":{},"f":{}}', None)
        # The hub's first read was waiting: "a" comes well inside the spacing (a hub that slept before every
        # read would hand it over only after SPACING).
        first = await asyncio.wait_for(sub.queue.get(), SPACING - 0.5)
        assert first is not None and [ev.member for _, ev in first] == ["/a"]
        # That read returned at once, so the next one waits out the rest of the spacing: these five arrive
        # together.
        for i in range(5):
            await store.create("Pod", f"/b{i}", b"b", f"uid-b{i}", b'{"l":{},"f":{}}', None)
        batch = await asyncio.wait_for(sub.queue.get(), SPACING + 10)
        assert batch is not None and [ev.member for _, ev in batch] == [f"/b{i}" for i in range(5)]
        assert sub.queue.empty()
    finally:
        await hub.stop()
        await store.close()
