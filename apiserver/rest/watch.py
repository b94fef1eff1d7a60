"""Watch over HTTP: a chunked stream of WatchEvent JSON objects, one per line, from the same watch hub as the gRPC
face (initial ADDED events or the store's backlog first, then the hub's live events), with bookmarks, a timeout,
and an ERROR event carrying a 410 Expired Status when the version asked for is too old.

Streaming lists (`sendInitialEvents=true`, client-go's WatchList: kubectl's rollout status and wait use it) end
their initial ADDED events with a BOOKMARK annotated `k8s.io/initial-events-end`."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from aiohttp import web

from apiserver import errors
from apiserver.registry import Registry
from apiserver.rest import status, tables
from apiserver.storage import StreamEvent
from apiserver.watch import Filter, Subscription, WatchHub
from kubemu.api import kinds
from kubemu.api.errors import Cause, new_invalid, new_timeout_error
from kubemu.api.serialization import to_dict

MIN_REQUEST_TIMEOUT = 1800.0
"""kube-apiserver's --min-request-timeout: a watch without timeoutSeconds ends after this to twice this, at
random, so that clients spread their re-watches."""

WRITE_BOUND = 10.0
"""Seconds a write to a watcher may wait for its client to read: a client that never reads is dropped, so it holds
neither the hub's queue nor the event loop's memory for long."""


INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""The annotation of the bookmark that ends a streaming list's initial events (metav1.InitialEventsAnnotationKey)."""


def _forbidden(field: str, message: str) -> Cause:
    return Cause("FieldValueForbidden", f"Forbidden: {message}", field)


def send_initial_events(query: Any, watch: bool) -> bool | None:
    """sendInitialEvents of a list or watch, checked as upstream's ValidateListOptions checks it (the WatchList
    feature is on): None when absent. A list's other options are its handler's to check."""
    raw = query.get("sendInitialEvents")
    value = None if raw is None else raw in ("true", "1")
    match = query.get("resourceVersionMatch", "")
    causes: list[Cause] = []
    if not watch:
        if value is not None:
            causes.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    else:
        if value is not None and match != "NotOlderThan":
            causes.append(_forbidden("resourceVersionMatch",
                                     "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        if match:
            if value is None:
                causes.append(_forbidden("resourceVersionMatch",
                                         "resourceVersionMatch is forbidden for watch unless sendInitialEvents is "
                                         "provided"))
            if match != "NotOlderThan":
                causes.append(Cause("FieldValueNotSupported",
                                    f'Unsupported value: "{match}": supported values: "NotOlderThan"',
                                    "resourceVersionMatch"))
    if causes:
        raise new_invalid("ListOptions", "meta.k8s.io", "", causes)
    return value


def _line(etype: str, obj: dict[str, Any]) -> bytes:
    return status.encode({"type": etype, "object": obj}) + b"\n"


class WatchStream:
    """One HTTP watch: writes events as they come until the timeout, the client leaves, or the hub drops it."""

    def __init__(self, registry: Registry, hub: WatchHub, bookmark_interval: float) -> None:
        self.registry = registry
        self.hub = hub
        self.bookmark_interval = bookmark_interval
        self.active: set[Subscription] = set()

    def close_all(self) -> None:
        """End every open watch (the apiserver is stopping): each stream returns, and its client re-watches
        elsewhere from its last revision."""
        for sub in list(self.active):
            sub.close()

    def _encoded(self, info: kinds.KindInfo, etype: str, ev: StreamEvent) -> bytes:
        """The event's line; encoded once per stream event however many HTTP watchers it goes to."""
        key = f"json:{etype}"
        cached = ev.memo.get(key)
        if cached is None:
            obj = self.registry.decode(info, ev.data, ev.revision)
            cached = ev.memo[key] = _line(etype, to_dict(obj))
        return cached

    async def serve(self, request: web.Request, info: kinds.KindInfo, namespace: str, flt: Filter,
                    as_table: str | None) -> web.StreamResponse:
        """`as_table`: None for objects, else the includeObject of Table events."""
        q = request.query
        rv = q.get("resourceVersion", "")
        if rv not in ("", "0") and not rv.isdigit():
            raise errors.BadRequest(f'invalid resource version "{rv}"')
        timeout = MIN_REQUEST_TIMEOUT * (1 + random.random())
        if q.get("timeoutSeconds"):
            try:
                timeout = float(int(q["timeoutSeconds"]))
            except ValueError:
                raise errors.BadRequest(f'invalid value for timeoutSeconds: "{q["timeoutSeconds"]}"') from None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        initial = send_initial_events(q, watch=True)
        deadline = time.monotonic() + timeout
        first_table = [True]

        def table_line(etype: str, objs: list[Any]) -> bytes:
            meta = {"resourceVersion": objs[0].metadata.resource_version} if objs else {}
            doc = tables.table(info, objs, as_table or "Metadata", meta, with_columns=first_table[0])
            first_table[0] = False
            return _line(etype, doc)

        def line_of(etype: str, ev: StreamEvent) -> bytes:
            if as_table is None:
                return self._encoded(info, etype, ev)
            return table_line(etype, [self.registry.decode(info, ev.data, ev.revision)])

        def bookmark(revision: int, annotations: dict[str, str] | None = None) -> bytes:
            meta: dict[str, Any] = {"resourceVersion": str(revision)}
            if annotations:
                meta["annotations"] = annotations
            return _line("BOOKMARK", {"kind": info.kind, "apiVersion": info.api_version, "metadata": meta})

        sub, position = self.hub.subscribe(info.kind, flt)
        self.active.add(sub)
        response = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache, private"})
        response.content_type = status.JSON
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            lines: list[bytes] = []
            bookmarked = 0
            try:
                if initial is False and rv in ("", "0"):
                    start = position  # upstream's "start at the most recent", without the current state first
                elif initial or rv in ("", "0"):
                    items, start = await self.registry.list(info.kind, namespace, flt)
                    if initial and rv not in ("", "0") and int(rv) > start:
                        # NotOlderThan a version the store has not reached (upstream waits 3 s for its cache first).
                        raise new_timeout_error(f"Too large resource version: {rv}, current: {start}", 1)
                    for o in items:
                        lines.append(table_line("ADDED", [o]) if as_table is not None else _line("ADDED", to_dict(o)))
                    if initial and bookmarks:
                        lines.append(bookmark(start, {INITIAL_EVENTS_END: "true"}))
                        bookmarked = start
                else:
                    start = int(rv)
                    if start < position:
                        backlog = await self.hub.store.events_between(info.kind, start, position)
                        lines += [line_of(t, ev) for ev in backlog if (t := flt.translate(ev)) is not None]
            except errors.ApiError as e:
                # Upstream answers 200 and then one ERROR event: clients relist on its 410.
                await self._write(response, _line("ERROR", e.to_status_dict()))
                return response
            if lines:
                await self._write(response, b"".join(lines))
            last = max(start, position)
            bookmarked = max(start, bookmarked)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return response
                try:
                    batch = await asyncio.wait_for(sub.queue.get(), timeout=min(self.bookmark_interval, left))
                except TimeoutError:
                    pos = self.hub.position(info.kind)
                    if bookmarks and pos > bookmarked:
                        bookmarked = pos
                        await self._write(response, bookmark(pos))
                    continue
                out: list[bytes] = []
                while batch is not None:
                    for t, ev in batch:
                        if ev.revision > last:
                            out.append(line_of(t, ev))
                            last = ev.revision
                    if sub.queue.empty():
                        break
                    batch = sub.queue.get_nowait()
                if out:
                    await self._write(response, b"".join(out))
                if batch is None:
                    return response  # fell too far behind: the client re-watches from its last revision
        except (ConnectionResetError, TimeoutError):
            return response  # the client went away, or stopped reading
        finally:
            self.active.discard(sub)
            self.hub.unsubscribe(sub)

    @staticmethod
    async def _write(response: web.StreamResponse, data: bytes) -> None:
        await asyncio.wait_for(response.write(data), WRITE_BOUND)
