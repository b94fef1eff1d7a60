"""An in-memory copy of every object of one kind, kept by list-then-watch on the apiserver's own watch hub: what
admission plugins read instead of a store list per request, as upstream's plugins read shared informers' listers.

A lister is as fresh as the hub (one stream read behind at most). The registry only uses it when the hub has read
every write of the kind this apiserver made (read-your-writes for a client of one apiserver); writes through
another apiserver arrive with the hub's next read, as an informer's do upstream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from apiserver import storage as st
from apiserver.watch import Filter, Subscription, WatchHub
from kubemu.api import fields, kinds, labels

log = structlog.get_logger()

_EVERYTHING = Filter(None, labels.EVERYTHING, fields.EVERYTHING)


class Lister:
    def __init__(self, hub: WatchHub, store: st.Store, kind: str) -> None:
        self.hub = hub
        self.store = store
        self.info = kinds.by_kind(kind)
        self._by_namespace: dict[str, dict[str, tuple[bytes, int]]] = {}
        self._sub: Subscription | None = None
        self._listed = 0
        self._syncing = False
        self._task: asyncio.Task[None] | None = None
        self.log = log.bind(component="apiserver", lister=kind)

    async def start(self) -> None:
        await self._sync()
        self._task = asyncio.create_task(self._consume(), name=f"lister-{self.info.kind}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._sub is not None:
            self.hub.unsubscribe(self._sub)

    async def _sync(self) -> None:
        """Subscribe, then list: the list covers every revision up to its own, the subscription every one after
        the hub's position (which is not after the list's), so nothing falls between."""
        if self._sub is not None:
            self.hub.unsubscribe(self._sub)
        self._syncing = True  # events queued meanwhile wait for the new list: reads go to the store
        self._sub, _ = self.hub.subscribe(self.info.kind, _EVERYTHING)
        try:
            raw, rev = await self.store.list(self.info.kind, None)
        finally:
            self._syncing = False
        by_ns: dict[str, dict[str, tuple[bytes, int]]] = {}
        for data, rv in raw:
            meta = self.info.message.FromString(data).metadata
            by_ns.setdefault(meta.namespace, {})[st.Store.member(meta.namespace, meta.name)] = (data, rv)
        self._by_namespace = by_ns
        self._listed = rev

    def _apply(self, batch: list[tuple[str, st.StreamEvent]]) -> None:
        for _, ev in batch:
            if ev.revision <= self._listed:
                continue  # the list has it already
            namespace = ev.member.split("/", 1)[0]
            objects = self._by_namespace.setdefault(namespace, {})
            if ev.type == "DELETED":
                objects.pop(ev.member, None)
            else:
                objects[ev.member] = (ev.data, ev.revision)

    def _drain(self) -> bool:
        """Apply what the hub has handed over; False when the subscription was dropped (a resync is due)."""
        sub = self._sub
        if sub is None or self._syncing:
            return False
        while not sub.queue.empty():
            batch = sub.queue.get_nowait()
            if batch is None:
                return False
            self._apply(batch)
        return not sub.closed

    async def _consume(self) -> None:
        while True:
            sub = self._sub
            assert sub is not None
            batch = await sub.queue.get()
            if batch is None:
                self.log.info("lister.resync")
                await self._sync()
                continue
            self._apply(batch)

    def list(self, namespace: str, written: int) -> list[Any] | None:
        """The objects of `namespace`, decoded (the caller's to change), or None when the hub has not read the
        kind's stream up to `written` (this apiserver's last write of the kind) or the lister is resyncing."""
        if not self._drain() or self.hub.position(self.info.kind) < written:
            return None
        out = []
        for data, rv in self._by_namespace.get(namespace, {}).values():
            obj = self.info.message.FromString(data)
            obj.metadata.resource_version = str(rv)
            out.append(obj)
        out.sort(key=lambda o: o.metadata.name)
        return out
