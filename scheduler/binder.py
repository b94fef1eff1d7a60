"""The binding cycles' calls to the apiserver, shared: a binding made while no call is out is sent at once, alone;
the bindings made while a call is out wait for it to come back and go together in the next (one BindMany). At a
pod now and then each binding goes when it is made; when the scheduler binds hundreds a second, they share calls,
and each call's fixed cost (gRPC in the scheduler and in the apiserver) is paid once per batch instead of once
per pod. Each binding still succeeds or fails on its own, with the error a Bind would have given it."""

from __future__ import annotations

import asyncio

from kubemu.client import errors
from kubemu.client.client import Binding, PodClient
from kubemu.pb import core_pb2

MAX_BATCH = 500
"""Bindings one BindMany may carry (the apiserver's limit)."""


class Binder:
    def __init__(self, pods: PodClient, max_batch: int = MAX_BATCH) -> None:
        self.pods = pods
        self.max_batch = max_batch
        self._waiting: list[tuple[Binding, asyncio.Future[core_pb2.Pod]]] = []
        self._sender: asyncio.Task[None] | None = None
        self.calls = 0
        """BindMany calls made (the tests and the scheduler's log read it)."""

    async def bind(self, binding: Binding) -> core_pb2.Pod:
        """The bound pod, or the ApiError this binding (or the whole call it went in) ended with."""
        future: asyncio.Future[core_pb2.Pod] = asyncio.get_running_loop().create_future()
        self._waiting.append((binding, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send())
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
            self._sender = None
