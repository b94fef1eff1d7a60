"""The informer across apiserver failures: SIGKILL and restart, and replicas behind one address list."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from kubemu.client.client import Client
from kubemu.client.informer import Informer
from kubemu.pb import core_pb2
from tests.integration.test_watch import pod
from tests.support import ApiServer, RedisServer, unique, until

pytestmark = pytest.mark.integration


@pytest.fixture
def own_apiserver(redis_server: RedisServer) -> Iterator[ApiServer]:
    server = ApiServer(redis_server.url).start()
    yield server
    server.stop()


@pytest.fixture
def second_apiserver(redis_server: RedisServer) -> Iterator[ApiServer]:
    server = ApiServer(redis_server.url).start()
    yield server
    server.stop()


class Recorder:
    def __init__(self) -> None:
        self.log: list[tuple[str, str, str]] = []

    def add(self, obj: core_pb2.Pod) -> None:
        self.log.append(("add", obj.metadata.name, obj.metadata.resource_version))

    def update(self, old: core_pb2.Pod, new: core_pb2.Pod) -> None:
        self.log.append(("update", new.metadata.name, new.metadata.resource_version))

    def delete(self, obj: core_pb2.Pod) -> None:
        self.log.append(("delete", obj.metadata.name, obj.metadata.resource_version))


async def test_informer_catches_up_after_apiserver_sigkill(
    own_apiserver: ApiServer, apiserver: ApiServer
) -> None:
    ns = unique("inf")
    writer = Client(apiserver.address)  # writes go through the other, healthy apiserver
    watcher = Client(own_apiserver.address)
    try:
        n = core_pb2.Namespace()
        n.metadata.name = ns
        await writer.namespaces.create(n)
        informer: Informer[core_pb2.Pod] = Informer(watcher.pods, namespace=ns)
        rec = Recorder()
        informer.add_handler(rec.add, rec.update, rec.delete)
        informer.start()
        await informer.wait_synced(10)
        for i in range(5):
            await writer.pods.create(pod(f"a{i}", ns))
        await until(lambda: len(informer.store.keys()) == 5)

        own_apiserver.kill()
        for i in range(5):
            await writer.pods.create(pod(f"b{i}", ns))
        await writer.pods.delete("a0", ns)
        a1 = await writer.pods.get("a1", ns)
        a1.metadata.labels["during"] = "outage"
        await writer.pods.update(a1)
        own_apiserver.start()

        expected = {f"{ns}/{p.metadata.name}" for p in (await writer.pods.list(ns)).items}
        await until(lambda: set(informer.store.keys()) == expected, 20,
                    describe=lambda: sorted(informer.store.keys()))
        await until(lambda: informer.store.get(f"{ns}/a1").metadata.labels.get("during") == "outage")
        revisions = [r for _, _, r in rec.log]
        assert len(revisions) == len(set(revisions)), rec.log  # nothing repeated
        assert [name for kind, name, _ in rec.log if kind == "add"] == [f"a{i}" for i in range(5)] + [
            f"b{i}" for i in range(5)
        ]
        assert ("delete", "a0") in [(k, n) for k, n, _ in rec.log]
        await informer.stop()
    finally:
        await writer.close()
        await watcher.close()


async def test_client_fails_over_between_two_replicas(own_apiserver: ApiServer, second_apiserver: ApiServer) -> None:
    async with Client(f"{own_apiserver.address},{second_apiserver.address}") as c:
        ns = core_pb2.Namespace()
        ns.metadata.name = unique("ha")
        await c.namespaces.create(ns)
        informer: Informer[core_pb2.Pod] = Informer(c.pods, namespace=ns.metadata.name)
        informer.start()
        await informer.wait_synced(10)
        await c.pods.create(pod("before", ns.metadata.name))
        own_apiserver.kill()
        await c.pods.create(pod("after", ns.metadata.name))  # reaches the second replica
        await until(lambda: {k.split("/")[1] for k in informer.store.keys()} == {"before", "after"}, 20)
        await informer.stop()
        await asyncio.sleep(0)


async def test_accept_keeps_refused_objects_out_of_cache_and_handlers(client: Client, namespace: str) -> None:
    informer: Informer[core_pb2.Pod] = Informer(client.pods, namespace=namespace,
                                                accept=lambda p: p.metadata.name.startswith("keep-"))
    rec = Recorder()
    informer.add_handler(rec.add, rec.update, rec.delete)
    await client.pods.create(pod("keep-a", namespace))  # listed
    informer.start()
    try:
        await informer.wait_synced()
        await client.pods.create(pod("drop-b", namespace))  # watched
        await client.pods.create(pod("keep-c", namespace))
        await until(lambda: [e[1] for e in rec.log] == ["keep-a", "keep-c"], 10, describe=lambda: rec.log)
        assert sorted(informer.store.keys()) == [f"{namespace}/keep-a", f"{namespace}/keep-c"]
    finally:
        await informer.stop()
