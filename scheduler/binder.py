"""The binding cycles' calls to the apiserver, shared: a binding made while fewer than MAX_CALLS calls are out is
sent at once; the bindings made while they are all out wait for one to come back and go together in the next (one
BindMany). At a pod now and then each binding goes when it is made, alone; when the scheduler binds hundreds a
second, they share calls, and each call's fixed cost (gRPC in the scheduler and in the apiserver) is paid once per
batch instead of once per pod. Each binding still succeeds or fails on its own, with the error a Bind would have
given it."""

from __future__ import annotations

import asyncio

from kubemu.client import errors
from kubemu.client.client import Binding, PodClient
from kubemu.pb import core_pb2

MAX_BATCH = 500
"""Bindings one BindMany may carry (the apiserver's limit)."""
MAX_CALLS = 2
"""BindMany calls out at once. One would share calls the most, but every binding made while it is out waits for
it; with two, a binding waits only while two are out (pod-startup's p50 on a slow hour: 0.07-0.09 s with two,
0.08-0.14 with one), and under load the scheduler benchmark's CPU per pod was no higher (3,445-4,398 us with
two, 3,917-4,413 with one, alternating)."""


class Binder:
    def __init__(self, pods: PodClient, max_batch: int = MAX_BATCH, max_calls: int = MAX_CALLS) -> None:
        self.pods = pods
        self.max_batch = max_batch
        self.max_calls = max_calls
        self._waiting: list[tuple[Binding, asyncio.Future[core_pb2.Pod]]] = []
        self._senders: set[asyncio.Task[None]] = set()
        self.calls = 0
        """BindMany calls made so far."""

    async def bind(self, binding: Binding) -> core_pb2.Pod:
        """The bound pod, or the ApiError this binding (or the whole call it went in) ended with."""
        future: asyncio.Future[core_pb2.Pod] = asyncio.get_running_loop().create_future()
        self._waiting.append((binding, future))
        if len(self._senders) < self.max_calls:
            self._senders.add(asyncio.create_task(self._send()))
        return await future

    async def _send(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
                batch = [(binding, future) for binding, future in batch if not future.done()]
                if not batch:  # every binding cycle in it was cancelled
                    continue
                self.calls += 1
                try:
                    results: list[core_pb2.Pod | errors.ApiError] = await self.pods.bind_many(
                        [binding for binding, _ in batch])
                except errors.ApiError as e:  # the call itself failed (apiserver unavailable, ...): every binding
                    results = [e] * len(batch)
                except BaseException as e:  # cancelled (the scheduler stopping) or broken: so is every binding
                    for _, future in [*batch, *self._waiting]:
                        if not future.done():
                            if isinstance(e, asyncio.CancelledError):
                                future.cancel()
                            else:
                                future.set_exception(e)
                    self._waiting = []
                    if isinstance(e, asyncio.CancelledError):
                        raise
                    return
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its binding cycle was cancelled meanwhile
                        continue
                    if isinstance(result, errors.ApiError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            # Here, not in a done callback: a binding made as this call's waiters wake must find the slot free.
            self._senders.discard(asyncio.current_task())
