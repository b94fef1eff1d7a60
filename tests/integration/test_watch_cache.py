"""The apiserver's watch cache against a real redis-server: the hub keeps each object as the last event it read,
updates, bindings and deletes start from it instead of reading the store, and a cache that is behind the store
never decides an answer (the store's compare-and-swap catches a stale write; a verb that would fail or answer
without writing runs again from the store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from apiserver import errors, storage
from apiserver.registry import Registry
from apiserver.watch import WatchHub
from kubemu.api.serialization import from_dict
from kubemu.config import load
from kubemu.pb import core_pb2
from tests.support import RedisServer, fresh_database

pytestmark = pytest.mark.integration


def _pod(name: str, **spec: Any) -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": "default"},
                      "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec}})


class Parts:
    def __init__(self, store: storage.Store, registry: Registry, hub: WatchHub) -> None:
        self.store, self.registry, self.hub = store, registry, hub
        self.store_reads = 0
        """Reads of the store by the registry (the test's own go through `stored`)."""
        self.stored = store.get

    async def cached_as_stored(self, name: str) -> None:
        """Wait until the hub has read the object's latest write (the cache holds what the store holds)."""
        member = storage.Store.member("default", name)
        for _ in range(500):
            stored, cached = await self.stored("Pod", member), self.hub.cached("Pod", member)
            if cached is not None and cached == stored:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the hub never caught up with pod {name}")


@pytest.fixture
async def parts(redis_server: RedisServer) -> AsyncIterator[Parts]:
    store = storage.Store(fresh_database(redis_server.url, 10))
    registry = Registry(store, load(None, "fast"))
    await registry.ensure_system_namespaces()
    hub = WatchHub(store, ["Pod", "Namespace", "Event"], block_ms=1000, read_spacing=0.0)
    await hub.start()
    registry.cached = hub.cached
    p = Parts(store, registry, hub)

    async def counting_get(kind: str, member: str) -> Any:
        p.store_reads += 1
        return await p.stored(kind, member)

    store.get = counting_get  # type: ignore[method-assign]
    try:
        yield p
    finally:
        await hub.stop()
        await store.close()


async def test_updates_bindings_and_deletes_start_from_the_cache(parts: Parts) -> None:
    reg = parts.registry
    await reg.create(_pod("a"))
    await parts.cached_as_stored("a")
    bound = await reg.bind("default", "a", "node-1", None)
    assert bound.spec.node_name == "node-1"
    await parts.cached_as_stored("a")
    status = core_pb2.Pod()
    status.CopyFrom(bound)
    status.status.phase = "Running"
    updated = await reg.update(status, status=True)
    assert updated.status.phase == "Running" and int(updated.metadata.resource_version) > int(
        bound.metadata.resource_version)
    await parts.cached_as_stored("a")
    deleted = await reg.delete("Pod", "default", "a", grace_period_seconds=0)
    assert deleted.metadata.name == "a"
    assert parts.store_reads == 0  # none of the three read the store
    assert await parts.stored("Pod", storage.Store.member("default", "a")) is None
    for _ in range(500):  # the hub drops what it saw deleted
        if parts.hub.cached("Pod", storage.Store.member("default", "a")) is None:
            break
        await asyncio.sleep(0.01)
    assert parts.hub.cached("Pod", storage.Store.member("default", "a")) is None


async def test_a_cache_behind_the_store_never_decides_the_answer(parts: Parts) -> None:
    reg = parts.registry
    await reg.create(_pod("b"))
    await parts.cached_as_stored("b")
    member = storage.Store.member("default", "b")
    behind = parts.hub.cached("Pod", member)
    assert behind is not None
    frozen = {("Pod", member): behind}
    reg.cached = lambda kind, m: frozen.get((kind, m))  # the hub has not read what follows

    bound = await reg.bind("default", "b", "node-1", None)
    # Cached: unbound. Stored: bound. A second binding is refused with the store's reason.
    with pytest.raises(errors.Conflict, match='already assigned to node "node-1"'):
        await reg.bind("default", "b", "node-2", None)

    # An update naming the stored resourceVersion succeeds although the cache has an older one.
    labelled = core_pb2.Pod()
    labelled.CopyFrom(bound)
    labelled.metadata.labels["tier"] = "web"
    updated = await reg.update(labelled, status=False)
    assert updated.metadata.labels["tier"] == "web" and updated.spec.node_name == "node-1"

    # A status write that the stale cache would take for a no-op is written: the cache has the status as
    # created (no conditions), the store the bound one (PodScheduled); this update, with no resourceVersion,
    # sets the status as created.
    as_created = pod_from(behind)
    as_created.metadata.resource_version = ""
    after = await reg.update(as_created, status=True)
    stored = await parts.stored("Pod", member)
    assert stored is not None
    assert pod_from(stored).status == as_created.status == after.status
    assert int(after.metadata.resource_version) > int(updated.metadata.resource_version)

    # Deleted and created again under the same name: the cache still has the old uid; the uid precondition
    # is checked against the new object.
    await reg.delete("Pod", "default", "b", grace_period_seconds=0)
    again = await reg.create(_pod("b"))
    deleted = await reg.delete("Pod", "default", "b", grace_period_seconds=0, uid=again.metadata.uid)
    assert deleted.metadata.uid == again.metadata.uid

    # Gone from the store, still in the cache: an update is NotFound, as without the cache.
    as_created.status.phase = "Running"
    with pytest.raises(errors.NotFound, match='pods "b" not found'):
        await reg.update(as_created, status=True)


def pod_from(stored: tuple[bytes, int]) -> core_pb2.Pod:
    pod = core_pb2.Pod.FromString(stored[0])
    pod.metadata.resource_version = str(stored[1])
    return pod


async def test_events_are_not_kept_in_the_cache(parts: Parts) -> None:
    # Events are many and never expire: the apiserver does not hold a second copy of each.
    await parts.store.create("Event", "default/e1", b"event", "uid-e1", b'{"l":{},"f":{}}', None)
    await parts.registry.create(_pod("c"))
    await parts.cached_as_stored("c")  # the hub has read past the Event
    assert parts.hub.cached("Event", "default/e1") is None
    assert await parts.stored("Event", "default/e1") is not None

