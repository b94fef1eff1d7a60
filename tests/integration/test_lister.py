"""The listers admission plugins read (apiserver/lister.py) against a real redis-server: objects that existed before
the apiserver started are there, this apiserver's own writes are seen at once (a stale lister sends the read to the
store), and another apiserver's writes arrive with the hub's next read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from apiserver import storage
from apiserver.lister import Lister
from apiserver.registry import Registry
from apiserver.watch import WatchHub
from kubemu.api.serialization import from_dict
from kubemu.config import load
from tests.support import RedisServer, fresh_database, until

pytestmark = pytest.mark.integration


def _limit_range(name: str, ns: str = "default") -> Any:
    return from_dict({"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": name, "namespace": ns},
                      "spec": {"limits": [{"type": "Container", "max": {"cpu": "1"}}]}})


async def _names(registry: Registry, ns: str = "default") -> list[str]:
    return [o.metadata.name for o in await registry.list_for_admission("LimitRange", ns)]


@pytest.fixture
async def registries(redis_server: RedisServer) -> AsyncIterator[tuple[Registry, Registry, storage.Store]]:
    url = fresh_database(redis_server.url, 15)
    store, other_store = storage.Store(url), storage.Store(url)
    ours, other = Registry(store, load(None, "fast")), Registry(other_store, load(None, "fast"))
    await ours.ensure_system_namespaces()
    await ours.create(_limit_range("before"))  # written before the lister starts
    hub = WatchHub(store, ["LimitRange"], block_ms=1000, read_spacing=0.05)
    await hub.start()
    lister = Lister(hub, store, "LimitRange")
    await lister.start()
    ours.listers["LimitRange"] = lister
    yield ours, other, store
    await lister.stop()
    await hub.stop()
    await store.close()
    await other_store.close()


async def test_lister_sees_what_was_there_and_its_own_writes_at_once(
        registries: tuple[Registry, Registry, storage.Store]) -> None:
    ours, other, store = registries
    reads = 0
    real_list = store.list

    async def counting_list(kind: str, namespace: str | None) -> Any:
        nonlocal reads
        reads += 1
        return await real_list(kind, namespace)

    store.list = counting_list  # type: ignore[method-assign]
    await until(lambda: _hub_read_all(ours))
    reads = 0
    assert await _names(ours) == ["before"]
    assert reads == 0  # from memory
    await ours.create(_limit_range("a"))
    assert await _names(ours) == ["a", "before"]  # at once: from the store while the hub catches up
    await ours.create(_limit_range("b"))
    assert await _names(ours) == ["a", "b", "before"]
    await ours.delete("LimitRange", "default", "a")
    assert await _names(ours) == ["b", "before"]
    await other.create(_limit_range("elsewhere"))  # another apiserver's write: eventually
    await until(lambda: _has(ours, "elsewhere"), timeout=5)
    assert await _names(ours, "kube-system") == []


async def _hub_read_all(registry: Registry) -> bool:
    return registry.listers["LimitRange"].list("default", registry.written.get("LimitRange", 0)) is not None


async def _has(registry: Registry, name: str) -> bool:
    return name in await _names(registry)
