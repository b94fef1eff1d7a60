"""The watch hub's stream reads against a real redis-server: under load they are spaced, so the writes made
meanwhile reach a watch in one batch (one stream message), while a write after a quiet spell is delivered by the
read already waiting for it, without waiting out the spacing; and when the stream is trimmed past events the hub
has not read yet, that kind's watches end instead of going on with a gap."""

from __future__ import annotations

import asyncio

import pytest

from apiserver import storage
from apiserver.watch import Subscription, WatchHub, make_filter
from tests.support import RedisServer, fresh_database

pytestmark = pytest.mark.integration

SPACING = 3.0
ATTRS = b'{"l":{},"f":{}}'


async def _create(store: storage.Store, kind: str, name: str) -> None:
    await store.create(kind, f"/{name}", name.encode(), f"uid-{name}", ATTRS, None)


async def _members(sub: Subscription, within: float) -> list[str]:
    batch = await asyncio.wait_for(sub.queue.get(), within)
    assert batch is not None, "the watch was closed"
    return [ev.member for _, ev in batch]


async def test_writes_during_the_read_spacing_come_in_one_batch(redis_server: RedisServer) -> None:
    store = storage.Store(fresh_database(redis_server.url, 9))
    hub = WatchHub(store, ["Pod"], block_ms=10_000, read_spacing=SPACING)
    try:
        await hub.start()
        sub, _ = hub.subscribe("Pod", make_filter("Pod", "", "", ""))
        await _create(store, "Pod", "a")
        # The hub's first read was waiting: "a" comes well inside the spacing (a hub that slept before every
        # read would hand it over only after SPACING).
        assert await _members(sub, SPACING - 0.5) == ["/a"]
        # That read returned at once, so the next one waits out the rest of the spacing: these five arrive
        # together.
        for i in range(5):
            await _create(store, "Pod", f"b{i}")
        assert await _members(sub, SPACING + 10) == [f"/b{i}" for i in range(5)]
        assert sub.queue.empty()
    finally:
        await hub.stop()
        await store.close()


async def test_events_trimmed_while_the_hub_waited_end_the_watches_instead_of_a_gap(
    redis_server: RedisServer,
) -> None:
    # A stream keeping 5 events (trimmed back to 5 once it holds 22): 40 writes during the spacing trim away
    # events the hub has not read yet. Its watches must end (their clients relist), not skip them silently.
    store = storage.Store(fresh_database(redis_server.url, 9), watch_history=5)
    hub = WatchHub(store, ["Pod", "Node"], block_ms=10_000, read_spacing=SPACING)
    try:
        await hub.start()
        pods, _ = hub.subscribe("Pod", make_filter("Pod", "", "", ""))
        nodes, _ = hub.subscribe("Node", make_filter("Node", "", "", ""))
        await _create(store, "Pod", "a")
        assert await _members(pods, SPACING - 0.5) == ["/a"]
        for i in range(40):
            await _create(store, "Pod", f"b{i}")
        await _create(store, "Node", "n")
        assert await asyncio.wait_for(pods.queue.get(), SPACING + 10) is None  # closed: no gapped batch
        assert pods.closed
        # The other kind lost nothing: its watch goes on.
        assert await _members(nodes, 10) == ["/n"] and not nodes.closed
        # A new pod watch starts from the hub's position and gets what comes next.
        again, _ = hub.subscribe("Pod", make_filter("Pod", "", "", ""))
        await _create(store, "Pod", "c")
        assert await _members(again, SPACING + 10) == ["/c"]
    finally:
        await hub.stop()
        await store.close()
