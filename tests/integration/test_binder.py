"""The scheduler's binder against a real apiserver: bindings made together share one BindMany, each binding
still ends on its own (bound, or its own error), a failed call fails only the bindings it carried, and a binding
whose cycle is cancelled does not hold the others up."""

from __future__ import annotations

import asyncio

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Binding, Client
from kubemu.pb import core_pb2
from scheduler.binder import Binder
from tests.integration.manifests import manifest
from tests.support import free_port

pytestmark = pytest.mark.integration


async def _pods(client: Client, namespace: str, n: int, first: int = 0) -> list[str]:
    names = [f"p{i}" for i in range(first, first + n)]
    for name in names:
        await client.pods.create(from_dict(manifest("Pod", name, namespace)))
    return names


async def _node_names(client: Client, namespace: str) -> dict[str, str]:
    return {p.metadata.name: p.spec.node_name for p in (await client.pods.list(namespace)).items}


async def test_bindings_made_together_share_one_call(client: Client, namespace: str) -> None:
    names = await _pods(client, namespace, 10)
    binder = Binder(client.pods)
    bound = await asyncio.gather(*(binder.bind(Binding(n, f"node-{i % 3}", namespace)) for i, n in enumerate(names)))
    assert [p.metadata.name for p in bound] == names
    assert [p.spec.node_name for p in bound] == [f"node-{i % 3}" for i in range(10)]
    assert binder.calls == 1
    assert await _node_names(client, namespace) == {n: f"node-{i % 3}" for i, n in enumerate(names)}

    # One at a time, each goes alone when it is made.
    for name in await _pods(client, namespace, 2, first=10):
        assert (await binder.bind(Binding(name, "node-9", namespace))).spec.node_name == "node-9"
    assert binder.calls == 3


async def test_a_batch_is_at_most_max_batch(client: Client, namespace: str) -> None:
    names = await _pods(client, namespace, 10)
    binder = Binder(client.pods, max_batch=4)
    await asyncio.gather(*(binder.bind(Binding(n, "node-1", namespace)) for n in names))
    assert binder.calls == 3  # 4 + 4 + 2
    assert set((await _node_names(client, namespace)).values()) == {"node-1"}


async def test_each_binding_ends_with_its_own_error(client: Client, namespace: str) -> None:
    names = await _pods(client, namespace, 3)
    await client.pods.bind("p1", "node-1", namespace)
    binder = Binder(client.pods)
    results = await asyncio.gather(
        binder.bind(Binding("p0", "node-2", namespace)),
        binder.bind(Binding("p1", "node-2", namespace)),
        binder.bind(Binding("gone", "node-2", namespace)),
        binder.bind(Binding("p2", "node-2", namespace, uid="another-pod")),
        return_exceptions=True,
    )
    ok, taken, gone, wrong_uid = results
    assert isinstance(ok, core_pb2.Pod) and ok.spec.node_name == "node-2"
    assert isinstance(taken, errors.Conflict) and 'already assigned to node "node-1"' in taken.message
    assert isinstance(gone, errors.NotFound) and 'pods "gone" not found' in gone.message
    assert isinstance(wrong_uid, errors.Conflict) and "UID in precondition: another-pod" in wrong_uid.message
    assert binder.calls == 1
    assert await _node_names(client, namespace) == {"p0": "node-2", "p1": "node-1", names[2]: ""}


async def test_a_failed_call_fails_the_bindings_it_carried_and_the_next_still_goes(
    client: Client, namespace: str
) -> None:
    await _pods(client, namespace, 1)
    nowhere = Client(f"127.0.0.1:{free_port()}", retry_for=0)
    try:
        dead = Binder(nowhere.pods)
        results = await asyncio.gather(*(dead.bind(Binding(f"x{i}", "node-1", namespace)) for i in range(3)),
                                       return_exceptions=True)
        assert all(isinstance(r, errors.Unavailable) for r in results), results
        assert dead.calls == 1
    finally:
        await nowhere.close()
    binder = Binder(client.pods)
    missing = asyncio.create_task(binder.bind(Binding("missing", "node-1", namespace)))
    ok = asyncio.create_task(binder.bind(Binding("p0", "node-1", namespace)))
    with pytest.raises(errors.NotFound):
        await missing
    assert (await ok).spec.node_name == "node-1"


async def test_a_binding_cancelled_before_its_call_is_not_sent(client: Client, namespace: str) -> None:
    names = await _pods(client, namespace, 3)
    binder = Binder(client.pods)
    tasks = [asyncio.create_task(binder.bind(Binding(n, "node-1", namespace))) for n in names]
    await asyncio.sleep(0)  # each binding cycle has queued its binding; the call has not gone yet
    tasks[1].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert [p.spec.node_name for p in (done[0], done[2]) if isinstance(p, core_pb2.Pod)] == ["node-1", "node-1"]
    assert binder.calls == 1
    assert await _node_names(client, namespace) == {names[0]: "node-1", names[1]: "", names[2]: "node-1"}
