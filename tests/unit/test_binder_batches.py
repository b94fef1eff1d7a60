"""The scheduler binder's batching, against a stand-in for the pods client whose calls return only when the test
lets them: which bindings go in which call, and how many calls are out at once."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from kubemu.client import errors
from kubemu.client.client import Binding, PodClient
from kubemu.pb import core_pb2
from scheduler.binder import Binder
from tests.support import until

pytestmark = pytest.mark.unit


class HeldPods:
    """bind_many that records each call's bindings and answers it when release() says so."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gates: list[asyncio.Event] = []

    async def bind_many(self, bindings: list[Binding]) -> list[core_pb2.Pod | errors.ApiError]:
        self.calls.append([b.name for b in bindings])
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        out: list[core_pb2.Pod | errors.ApiError] = []
        for b in bindings:
            if b.name.startswith("missing"):
                out.append(errors.NotFound(f'pods "{b.name}" not found'))
            else:
                pod = core_pb2.Pod()
                pod.metadata.name, pod.spec.node_name = b.name, b.node_name
                out.append(pod)
        return out

    def release(self, call: int) -> None:
        self.gates[call].set()


def _start(binder: Binder, *names: str) -> list[asyncio.Task[core_pb2.Pod]]:
    return [asyncio.create_task(binder.bind(Binding(n, "node-1", "default"))) for n in names]


async def test_bindings_made_while_every_call_is_out_go_together_in_the_next() -> None:
    pods = HeldPods()
    binder = Binder(cast(PodClient, pods), max_calls=2)
    first = _start(binder, "a")
    await until(lambda: pods.calls == [["a"]])
    second = _start(binder, "b")
    await until(lambda: pods.calls == [["a"], ["b"]])
    waiting = _start(binder, "c", "d", "e")
    for _ in range(5):
        await asyncio.sleep(0)
    assert pods.calls == [["a"], ["b"]]  # two calls out: c, d and e wait
    pods.release(1)
    assert (await second[0]).spec.node_name == "node-1"
    await until(lambda: pods.calls == [["a"], ["b"], ["c", "d", "e"]])
    assert not first[0].done()
    pods.release(0)
    pods.release(2)
    assert [p.metadata.name for p in await asyncio.gather(*first, *waiting)] == ["a", "c", "d", "e"]
    assert binder.calls == 3


async def test_one_call_at_a_time_and_at_most_max_batch_per_call() -> None:
    pods = HeldPods()
    binder = Binder(cast(PodClient, pods), max_batch=2, max_calls=1)
    tasks = _start(binder, "a")
    await until(lambda: pods.calls == [["a"]])
    tasks += _start(binder, "b", "c", "d")
    pods.release(0)
    await until(lambda: pods.calls == [["a"], ["b", "c"]])
    pods.release(1)
    await until(lambda: pods.calls == [["a"], ["b", "c"], ["d"]])
    pods.release(2)
    assert [p.metadata.name for p in await asyncio.gather(*tasks)] == ["a", "b", "c", "d"]


async def test_an_item_error_reaches_only_its_own_binding() -> None:
    pods = HeldPods()
    binder = Binder(cast(PodClient, pods), max_calls=1)
    tasks = _start(binder, "a", "missing", "b")
    await until(lambda: len(pods.calls) == 1)
    pods.release(0)
    a, missing, b = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(missing, errors.NotFound) and 'pods "missing" not found' in missing.message
    assert isinstance(a, core_pb2.Pod) and isinstance(b, core_pb2.Pod)
