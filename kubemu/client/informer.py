"""Informers as client-go's reflector + indexer: list, then watch from the list's revision; re-watch from the
last revision on a broken stream, re-list on Gone; deliver each change to handlers exactly once, in order."""

from __future__ import annotations

import asyncio
import builtins
import inspect
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog

from kubemu.client import errors
from kubemu.client.client import ResourceClient

T = TypeVar("T")
log = structlog.get_logger()

Handler = Callable[..., Awaitable[None] | None]
IndexFunc = Callable[[Any], Iterable[str]]


def key_of(obj: Any) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (client-go's MetaNamespaceKeyFunc)."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else str(meta.name)


def by_namespace(obj: Any) -> list[str]:
    return [obj.metadata.namespace]


def by_node(obj: Any) -> list[str]:
    """Pods by spec.nodeName, the index kubelets and the scheduler read."""
    node = getattr(getattr(obj, "spec", None), "node_name", "")
    return [node] if node else []


def by_label(obj: Any) -> list[str]:
    return [f"{k}={v}" for k, v in obj.metadata.labels.items()]


DEFAULT_INDEXERS: dict[str, IndexFunc] = {"namespace": by_namespace, "node": by_node, "label": by_label}


class Indexer(Generic[T]):
    """The local cache components read instead of asking the apiserver."""

    def __init__(self, indexers: dict[str, IndexFunc]) -> None:
        self.indexers = indexers
        self.items: dict[str, T] = {}
        self.indices: dict[str, dict[str, set[str]]] = {name: {} for name in indexers}

    def get(self, key: str) -> T | None:
        return self.items.get(key)

    def list(self) -> builtins.list[T]:
        return list(self.items.values())

    def keys(self) -> builtins.list[str]:
        return list(self.items)

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        return [self.items[k] for k in sorted(self.indices[index].get(value, ()))]

    def _unindex(self, key: str, obj: T) -> None:
        for name, fn in self.indexers.items():
            for value in fn(obj):
                bucket = self.indices[name].get(value)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del self.indices[name][value]

    def upsert(self, key: str, obj: T) -> T | None:
        old = self.items.get(key)
        if old is not None:
            self._unindex(key, old)
        self.items[key] = obj
        for name, fn in self.indexers.items():
            for value in fn(obj):
                self.indices[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> T | None:
        old = self.items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old


@dataclass
class _Handlers:
    on_add: Handler | None
    on_update: Handler | None
    on_delete: Handler | None


class Informer(Generic[T]):
    def __init__(
        self,
        resource: ResourceClient[T],
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        indexers: dict[str, IndexFunc] | None = None,
        max_backoff: float = 5.0,
        accept: Callable[[T], bool] | None = None,
    ) -> None:
        """`accept` narrows what the selectors cannot express (a node name among several, say): objects it refuses
        never reach the cache or the handlers, as if the server had filtered them."""
        self.resource = resource
        self.accept = accept
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store: Indexer[T] = Indexer({**DEFAULT_INDEXERS, **(indexers or {})})
        self.handlers: list[_Handlers] = []
        self.resource_version = ""
        self.max_backoff = max_backoff
        self.relists = 0
        self.rewatches = 0
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.log = log.bind(informer=resource.info.kind)

    def add_handler(
        self, on_add: Handler | None = None, on_update: Handler | None = None, on_delete: Handler | None = None
    ) -> None:
        """on_add(obj), on_update(old, new), on_delete(obj); plain functions or coroutines."""
        self.handlers.append(_Handlers(on_add, on_update, on_delete))

    def start(self) -> asyncio.Task[None]:
        if self._task is None:
            self._task = asyncio.create_task(self.run(), name=f"informer-{self.resource.info.kind}")
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def wait_synced(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await asyncio.wait_for(self._synced.wait(), timeout)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def _emit(self, which: str, *args: Any) -> None:
        for h in self.handlers:
            fn = getattr(h, which)
            if fn is None:
                continue
            result = fn(*args)
            if inspect.isawaitable(result):
                await result

    async def _apply(self, etype: str, obj: T) -> None:
        if self.accept is not None and not self.accept(obj):
            return
        key = key_of(obj)
        if etype == "DELETED":
            old = self.store.remove(key)
            await self._emit("on_delete", obj)
            return
        old = self.store.upsert(key, obj)
        if old is None:
            await self._emit("on_add", obj)
        else:
            await self._emit("on_update", old, obj)

    async def _relist(self) -> None:
        listed = await self.resource.list(
            self.namespace, label_selector=self.label_selector, field_selector=self.field_selector
        )
        self.relists += 1
        seen = set()
        for obj in listed.items:
            key = key_of(obj)
            seen.add(key)
            old = self.store.get(key)
            # Replace: only real differences reach the handlers, so a relist repeats nothing.
            if old is None or old.metadata.resource_version != obj.metadata.resource_version:  # type: ignore[attr-defined]
                await self._apply("ADDED", obj)
        for key in [k for k in self.store.keys() if k not in seen]:
            gone = self.store.get(key)
            if gone is not None:
                await self._apply("DELETED", gone)
        self.resource_version = listed.resource_version
        self._synced.set()

    async def run(self) -> None:
        backoff = 0.05
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                async for ev in self.resource.watch(
                    self.namespace,
                    resource_version=self.resource_version,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    allow_bookmarks=True,
                ):
                    if ev.object is not None:
                        await self._apply(ev.type, ev.object)
                    self.resource_version = ev.resource_version
                    backoff = 0.05
                self.rewatches += 1  # the server ended the stream: carry on from where we are
            except asyncio.CancelledError:
                raise
            except errors.Gone as e:
                self.log.info("informer.relist", reason=str(e))
                need_list = True
            except (errors.Unavailable, errors.Timeout, errors.ApiError) as e:
                self.log.info("informer.retry", error=str(e), retry_in=round(backoff, 3))
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.max_backoff)
                self.rewatches += 1
