"""Events are kept for --event-ttl after their last write, as kube-apiserver keeps them (etcd drops an Event's key
when its lease runs out): against a real redis-server, the store's expiry index and the registry's sweep with a
test clock, then a real apiserver process started with `--event-ttl 1s`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from apiserver import errors, storage
from apiserver.registry import Registry
from kubemu.api.serialization import from_dict
from kubemu.client.client import Client
from kubemu.config import load
from kubemu.pb import core_pb2
from tests.support import ApiServer, RedisServer, fresh_database, run_cli, unique, until

pytestmark = pytest.mark.integration


def _event(name: str, namespace: str = "default") -> core_pb2.Event:
    return from_dict({  # type: ignore[no-any-return]
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"kind": "Pod", "namespace": namespace, "name": "p", "uid": str(uuid.uuid4())},
        "reason": "Started", "message": "Started container c", "type": "Normal", "count": 1,
        "source": {"component": "kubelet", "host": "n1"}})


def _pod(name: str, namespace: str = "default") -> core_pb2.Pod:
    return from_dict({"apiVersion": "v1", "kind": "Pod",  # type: ignore[no-any-return]
                      "metadata": {"name": name, "namespace": namespace},
                      "spec": {"containers": [{"name": "c", "image": "nginx"}]}})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def parts(redis_server: RedisServer) -> AsyncIterator[tuple[storage.Store, Registry, Clock]]:
    clock = Clock()
    store = storage.Store(fresh_database(redis_server.url, 11), ttl={"Event": 100.0}, clock=clock)
    registry = Registry(store, load(None, "fast"))
    await registry.ensure_system_namespaces()
    yield store, registry, clock
    await store.close()


async def _stream(store: storage.Store, kind: str) -> list[storage.StreamEvent]:
    return await store.events_between(kind, 0, await store.revision())


async def test_an_event_goes_when_its_time_runs_out_and_watchers_see_it_deleted(
        parts: tuple[storage.Store, Registry, Clock]) -> None:
    store, registry, clock = parts
    created = await registry.create(_event("e1"))
    pod = await registry.create(_pod("p1"))
    clock.now += 99
    assert await store.expired("Event") == [] and await registry.expire("Event") == 0
    assert await store.expired("Pod") == []  # kinds without a ttl have no expiry index
    clock.now += 2
    assert await store.expired("Event") == ["default/e1"]
    assert await registry.expire("Event") == 1
    with pytest.raises(errors.NotFound):
        await registry.get("Event", "default", "e1")
    items, _ = await registry.list("Event", "default", _all())
    assert items == []
    last = (await _stream(store, "Event"))[-1]
    assert (last.type, last.member) == ("DELETED", "default/e1")
    assert core_pb2.Event.FromString(last.data).message == created.message  # the object as last stored
    assert json.loads(last.attrs)["f"]["involvedObject.name"] == "p"  # field-selected watches still match it
    assert await store.expired("Event") == []  # the index entry went with the object
    assert (await registry.get("Pod", "default", "p1")).metadata.uid == pod.metadata.uid  # a Pod is kept
    assert await registry.expire("Event") == 0


async def test_a_write_gives_an_event_its_full_time_again(parts: tuple[storage.Store, Registry, Clock]) -> None:
    _, registry, clock = parts
    ev = await registry.create(_event("e2"))
    clock.now += 80
    ev.count = 2
    await registry.update(ev, status=False)
    clock.now += 21  # 101 s after the create, 21 after the update
    assert await registry.expire("Event") == 0
    assert (await registry.get("Event", "default", "e2")).count == 2
    clock.now += 80
    assert await registry.expire("Event") == 1


async def test_a_sweep_that_read_the_index_before_a_write_does_not_delete_the_rewritten_event(
        parts: tuple[storage.Store, Registry, Clock], monkeypatch: pytest.MonkeyPatch) -> None:
    # Another apiserver, or this one's own sweep, found the Event expired; a client's write lands before the
    # delete. The delete re-checks the expiry in the same atomic step as the write's revision.
    store, registry, clock = parts
    ev = await registry.create(_event("e3"))
    clock.now += 101
    seen = await store.expired("Event")
    assert seen == ["default/e3"]
    ev.count = 5
    await registry.update(ev, status=False)  # a new expiry: 100 s from now

    async def stale_index(_kind: str, _limit: int = 500) -> list[str]:
        return seen

    monkeypatch.setattr(store, "expired", stale_index)
    assert await registry.expire("Event") == 0
    assert (await registry.get("Event", "default", "e3")).count == 5


async def test_an_index_entry_without_its_object_is_dropped_and_a_recreated_one_kept(
        parts: tuple[storage.Store, Registry, Clock]) -> None:
    store, registry, clock = parts
    await registry.create(_event("e4"))
    await registry.delete("Event", "default", "e4")
    clock.now += 101
    assert await store.expired("Event") == []  # a delete takes its entry out
    # An entry left behind (written by hand here) goes on the next sweep, but only while its object is absent.
    raw = store.redis
    await raw.zadd("x:Event", {"default/ghost": clock.now - 1, "default/e5": clock.now - 1})
    await registry.create(_event("e5"))  # gives e5 a fresh expiry in the same index
    await store.forget_expiry("Event", "default/e5")
    assert await registry.expire("Event") == 0
    assert await store.expired("Event") == []
    clock.now += 101
    assert await store.expired("Event") == ["default/e5"]


def _all() -> Any:
    from apiserver.watch import make_filter

    return make_filter("Event", "default", "", "")


async def test_an_apiserver_started_with_event_ttl_expires_events_for_its_watchers(
        redis_server: RedisServer) -> None:
    server = ApiServer(fresh_database(redis_server.url, 11), flags=["--event-ttl", "1s"]).start()
    ns = unique("ttl")
    try:
        async with Client(server.address) as client:
            namespace = core_pb2.Namespace()
            namespace.metadata.name = ns
            await client.namespaces.create(namespace)
            pod = await client.pods.create(_pod("keep", ns))
            ev = await client.events.create(_event("gone", ns))
            seen: list[tuple[str, str]] = []

            async def watch() -> None:
                async for e in client.events.watch(ns, resource_version=ev.metadata.resource_version):
                    seen.append((e.type, e.object.metadata.name if e.object else ""))
                    if e.type == "DELETED":
                        return

            await asyncio.wait_for(watch(), 20)
            assert seen == [("DELETED", "gone")]
            listed = run_cli("get", "events", "-n", ns, server=server.address)
            assert listed.returncode == 0, listed.stderr
            assert "gone" not in listed.stdout
            assert (await client.pods.get("keep", ns)).metadata.uid == pod.metadata.uid
        assert await until(lambda: '"events.expired"' in server.logs(), 10)
    finally:
        server.stop()


def test_a_bad_event_ttl_is_refused_naming_the_flag() -> None:
    for value, message in (("0", 'invalid duration "0": must be greater than zero'),
                           ("1x", 'time: invalid duration "1x"')):
        done = subprocess.run([sys.executable, "-m", "apiserver.main", "--event-ttl", value],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 2
        assert f"argument --event-ttl: {message}" in done.stderr


def test_a_bad_event_ttl_in_the_config_is_refused_naming_the_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text("store:\n  event_ttl_seconds: -5\n")
    # Nothing listens on the Redis URL: the check comes before any store is touched.
    done = subprocess.run([sys.executable, "-m", "apiserver.main", "--config", str(config),
                           "--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"{config}: store.event_ttl_seconds: must be greater than zero, got -5.0" in done.stderr
