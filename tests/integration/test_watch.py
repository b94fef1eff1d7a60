"""Watch guarantees, named as etcd's robustness tests name them: Ordered, Unique, Atomic (one event per
revision), Bookmarkable, Reliable (no gaps) and Resumable (from any revision still held, else Gone)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client, WatchEvent
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2
from tests.integration.manifests import manifest
from tests.support import ApiServer, RedisServer, unique, until

pytestmark = pytest.mark.integration


def pod(name: str, namespace: str, **labels: str) -> core_pb2.Pod:
    body = manifest("Pod", name, namespace)
    body["metadata"]["labels"] = labels or {"app": "web"}
    return from_dict(body)  # type: ignore[no-any-return]


async def collect(client: Client, namespace: str, count: int, **kw: Any) -> list[WatchEvent[Any]]:
    out: list[WatchEvent[Any]] = []
    async for ev in client.pods.watch(namespace, **kw):
        if ev.type != "BOOKMARK":
            out.append(ev)
        if len(out) >= count:
            break
    return out


async def test_watch_from_a_revision_returns_exactly_the_later_events(client: Client, namespace: str) -> None:
    revs = []
    for i in range(6):
        revs.append((await client.pods.create(pod(f"p{i}", namespace))).metadata.resource_version)
    p0 = await client.pods.get("p0", namespace)
    p0.metadata.labels["x"] = "1"
    revs.append((await client.pods.update(p0)).metadata.resource_version)
    revs.append((await client.pods.delete("p1", namespace)).metadata.resource_version)

    events = await asyncio.wait_for(collect(client, namespace, 5, resource_version=revs[2]), 10)
    assert [e.resource_version for e in events] == revs[3:]  # Ordered, Unique, Reliable
    assert [e.type for e in events] == ["ADDED", "ADDED", "ADDED", "MODIFIED", "DELETED"]
    assert events[3].object.metadata.labels["x"] == "1"


async def test_watch_without_revision_starts_with_synthetic_adds(client: Client, namespace: str) -> None:
    for i in range(3):
        await client.pods.create(pod(f"p{i}", namespace))
    seen: list[tuple[str, str]] = []
    stream = client.pods.watch(namespace)
    async for ev in stream:
        seen.append((ev.type, ev.object.metadata.name))
        if len(seen) == 3:
            await client.pods.create(pod("late", namespace))  # after the synthetic adds: a live event
        if len(seen) == 4:
            break
    await stream.aclose()
    assert seen == [("ADDED", "p0"), ("ADDED", "p1"), ("ADDED", "p2"), ("ADDED", "late")]


async def test_list_then_watch_misses_nothing_while_writes_go_on(client: Client, namespace: str) -> None:
    stop = asyncio.Event()
    written: list[str] = []

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            written.append((await client.pods.create(pod(f"w{i}", namespace))).metadata.name)
            i += 1

    task = asyncio.create_task(writer())
    await until(lambda: len(written) >= 5)
    listed = await client.pods.list(namespace)
    seen = {p.metadata.name for p in listed.items}
    await until(lambda: len(written) >= len(seen) + 10)
    stop.set()
    await task
    missing = len(written) - len(seen)
    events = await asyncio.wait_for(
        collect(client, namespace, missing, resource_version=listed.resource_version), 10
    )
    seen |= {e.object.metadata.name for e in events}
    assert seen == set(written)
    assert len(events) == missing  # nothing twice


async def test_filters_turn_moves_into_added_and_deleted(client: Client, namespace: str) -> None:
    await client.pods.create(pod("a", namespace))
    start = (await client.pods.list(namespace)).resource_version
    await client.pods.bind("a", "node-1", namespace)
    a = await client.pods.get("a", namespace)
    a.metadata.labels["x"] = "y"
    await client.pods.update(a)
    await client.pods.delete("a", namespace, grace_period_seconds=0)
    events = await asyncio.wait_for(
        collect(client, namespace, 3, resource_version=start, field_selector="spec.nodeName=node-1"), 10
    )
    assert [e.type for e in events] == ["ADDED", "MODIFIED", "DELETED"]

    await client.pods.create(pod("b", namespace, app="web"))
    start = (await client.pods.list(namespace)).resource_version
    b = await client.pods.get("b", namespace)
    b.metadata.labels["app"] = "db"
    await client.pods.update(b)
    events = await asyncio.wait_for(
        collect(client, namespace, 1, resource_version=start, label_selector="app=web"), 10
    )
    assert [(e.type, e.object.metadata.labels["app"]) for e in events] == [("DELETED", "db")]


async def test_node_indexed_watches_get_exactly_their_nodes_events_live(client: Client, namespace: str) -> None:
    """Watches requiring spec.nodeName are indexed by it in the fan-out; binding moves a pod from the
    unscheduled watch (spec.nodeName=) to its node's watch, as a scheduler and kubelets see it."""
    start = (await client.pods.list(namespace)).resource_version
    selectors = {"node-1": "spec.nodeName=node-1", "node-2": "spec.nodeName=node-2", "none": "spec.nodeName=",
                 "all": ""}
    seen: dict[str, list[tuple[str, str]]] = {k: [] for k in selectors}

    async def watch(key: str) -> None:
        async for ev in client.pods.watch(namespace, resource_version=start, field_selector=selectors[key]):
            if ev.type != "BOOKMARK":
                seen[key].append((ev.type, ev.object.metadata.name))

    tasks = [asyncio.create_task(watch(k)) for k in selectors]
    try:
        # Warm-up writes, one per filter: once each watch has its own, every later event reaches it live.
        await client.pods.create(pod("w0", namespace))
        for n in ("node-1", "node-2"):
            w = pod(f"w-{n}", namespace)
            w.spec.node_name = n
            await client.pods.create(w)
        await until(lambda: all(seen[k] for k in ("node-1", "node-2", "none")) and len(seen["all"]) == 3, 10,
                    describe=lambda: seen)
        for v in seen.values():
            v.clear()
        await client.pods.create(pod("p1", namespace))
        p2 = pod("p2", namespace)
        p2.spec.node_name = "node-2"
        await client.pods.create(p2)
        await client.pods.bind("p1", "node-1", namespace)
        p1 = await client.pods.get("p1", namespace)
        p1.metadata.labels["x"] = "y"
        await client.pods.update(p1)
        await client.pods.delete("p1", namespace, grace_period_seconds=0)
        await client.pods.delete("p2", namespace, grace_period_seconds=0)
        want = {
            "node-1": [("ADDED", "p1"), ("MODIFIED", "p1"), ("DELETED", "p1")],
            "node-2": [("ADDED", "p2"), ("DELETED", "p2")],
            "none": [("ADDED", "p1"), ("DELETED", "p1")],
            "all": [("ADDED", "p1"), ("ADDED", "p2"), ("MODIFIED", "p1"), ("MODIFIED", "p1"), ("DELETED", "p1"),
                    ("DELETED", "p2")],
        }
        await until(lambda: all(len(seen[k]) >= len(v) for k, v in want.items()), 10, describe=lambda: seen)
        assert seen == want
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_bookmarks_advance_a_filtered_watch(client: Client, namespace: str) -> None:
    start = (await client.pods.list(namespace)).resource_version
    last = (await client.pods.create(pod("other", namespace, app="other"))).metadata.resource_version

    async def first_bookmark_past_the_write() -> None:
        async for ev in client.pods.watch(namespace, resource_version=start, label_selector="app=nothing",
                                          allow_bookmarks=True):
            assert ev.type == "BOOKMARK"  # the filtered-out create is never delivered as an object
            if int(ev.resource_version) >= int(last):
                return

    await asyncio.wait_for(first_bookmark_past_the_write(), 10)


async def _scenario(address: str, namespace: str, plan: list[list[str]]) -> None:
    async with Client(address) as c:
        start = (await c.pods.list(namespace)).resource_version
        acked: list[int] = []

        async def writer(w: int, ops: list[str]) -> None:
            for i, op in enumerate(ops):
                name = f"w{w}-{i}"
                acked.append(int((await c.pods.create(pod(name, namespace))).metadata.resource_version))
                if op in ("update", "delete"):
                    p = await c.pods.get(name, namespace)
                    p.metadata.labels["n"] = str(i)
                    acked.append(int((await c.pods.update(p)).metadata.resource_version))
                if op == "delete":
                    acked.append(int((await c.pods.delete(name, namespace)).metadata.resource_version))

        await asyncio.gather(*(writer(w, ops) for w, ops in enumerate(plan)))
        seen: list[int] = []
        if acked:
            async for ev in c.pods.watch(namespace, resource_version=start):
                seen.append(int(ev.resource_version))
                if len(seen) >= len(acked):
                    break
        assert seen == sorted(acked)  # every revision exactly once, in order


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.lists(st.sampled_from(["create", "update", "delete"]), max_size=6), min_size=8, max_size=8))
def test_eight_writers_and_a_watcher_see_every_revision_once_in_order(
    apiserver: ApiServer, plan: list[list[str]]
) -> None:
    async def main() -> None:
        async with Client(apiserver.address) as c:
            ns = core_pb2.Namespace()
            ns.metadata.name = unique("prop")
            await c.namespaces.create(ns)
        await asyncio.wait_for(_scenario(apiserver.address, ns.metadata.name, plan), 30)

    asyncio.run(main())


@pytest.fixture
def small_history_apiserver(redis_server: RedisServer, tmp_path: Path) -> Iterator[ApiServer]:
    """An apiserver that keeps only 20 events per kind, on its own Redis database."""
    config = tmp_path / "cluster.yaml"
    config.write_text("store:\n  watch_history: 20\n")
    server = ApiServer(redis_server.url.replace("/0", "/1"), config=config).start()
    yield server
    server.stop()


async def test_watch_from_a_trimmed_revision_is_gone_and_the_informer_recovers(
    small_history_apiserver: ApiServer,
) -> None:
    async with Client(small_history_apiserver.address) as c:
        first = await c.pods.create(pod(unique("old"), "default"))
        for i in range(60):
            await c.pods.create(pod(f"fill-{i}-{first.metadata.uid[:5]}", "default"))
        with pytest.raises(errors.Gone, match=rf"too old resource version: {first.metadata.resource_version} \("):
            async for _ in c.pods.watch("default", resource_version=first.metadata.resource_version):
                pass

        informer: Informer[core_pb2.Pod] = Informer(c.pods, namespace="default")
        adds: list[str] = []
        informer.add_handler(on_add=lambda p: adds.append(p.metadata.name))
        informer.resource_version = first.metadata.resource_version  # as if it had been away a long time
        informer._synced.set()
        informer.start()
        try:
            await until(lambda: informer.relists >= 1, 10)
            names = {p.metadata.name for p in (await c.pods.list("default")).items}
            await until(lambda: set(informer.store.keys()) == {f"default/{n}" for n in names}, 10)
            assert len(adds) == len(set(adds))
        finally:
            await informer.stop()


async def test_many_watches_from_a_revision_at_once_all_get_their_backlog(client: Client, namespace: str) -> None:
    # Each watch from a resourceVersion reads its backlog from Redis on a pooled connection: 200 at once, each with a
    # backlog of 300 events, exceeded redis-py's pool (100 connections), and the rest got an ERROR 503 "Too many
    # connections" instead of their events.
    first = await client.pods.create(pod("b0", namespace))
    await client.pods.create_many([pod(f"b{i}", namespace) for i in range(1, 301)])
    watches = [collect(client, namespace, 300, resource_version=first.metadata.resource_version) for _ in range(200)]
    results = await asyncio.wait_for(asyncio.gather(*watches, return_exceptions=True), 90)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, f"{len(failures)} of 200 watches failed, e.g. {failures[0]!r}"
    assert all(isinstance(r, list) and [e.object.metadata.name for e in r] == [f"b{i}" for i in range(1, 301)]
               for r in results)
