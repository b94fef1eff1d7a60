"""Watch over HTTP: a chunked stream of WatchEvent JSON objects, one per line, from the same watch hub as the gRPC
face (initial ADDED events or the store's backlog first, then the hub's live events), with bookmarks (the end of
the initial events marked, for watch-list clients), a timeout, and an ERROR event carrying a 410 Expired Status when
the version asked for is too old."""

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
from kubemu.api.serialization import to_dict

MIN_REQUEST_TIMEOUT = 1800.0
"""kube-apiserver's --min-request-timeout: a watch without timeoutSeconds ends after this to twice this, at
random, so that clients spread their re-watches."""

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
"""The annotation of the bookmark that ends a watch-list's initial events (metav1.InitialEventsAnnotationKey)."""

WRITE_BOUND = 10.0
"""Seconds a write to a watcher may wait for its client to read: a client that never reads is dropped, so it holds
neither the hub's queue nor the event loop's memory for long."""


def _line(etype: str, obj: dict[str, Any]) -> bytes:
    return status.encode({"type": etype, "object": obj}) + b"\n"


def send_initial_events(q: Any) -> bool:
    """Whether the watch starts with the current state as ADDED events: `sendInitialEvents` when given (a
    watch-list, checked as upstream's validateWatchOptions checks it), else for resourceVersion "" or "0" only."""
    flag, match = q.get("sendInitialEvents"), q.get("resourceVersionMatch", "")
    causes: list[errors.Cause] = []
    if flag is not None and match != "NotOlderThan":
        causes.append(errors.Cause("FieldValueForbidden", "Forbidden: sendInitialEvents requires setting "
                                   "resourceVersionMatch to NotOlderThan", "resourceVersionMatch"))
    if match:
        if flag is None:
            causes.append(errors.Cause("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden for "
                                       "watch unless sendInitialEvents is provided", "resourceVersionMatch"))
        if match != "NotOlderThan":
            causes.append(errors.Cause("FieldValueNotSupported", f'Unsupported value: "{match}": supported '
                                       'values: "NotOlderThan"', "resourceVersionMatch"))
        if q.get("allowWatchBookmarks") not in ("true", "1"):
            causes.append(errors.Cause("FieldValueForbidden", "Forbidden: allowWatchBookmarks must be set to true "
                                       "when sendInitialEvents is provided", "allowWatchBookmarks"))
    if causes:
        raise errors.new_invalid("ListOptions", "meta.k8s.io", "", causes)
    if flag is None:
        return bool(q.get("resourceVersion", "") in ("", "0"))
    return bool(flag in ("true", "1"))


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
        initial = send_initial_events(q)
        watch_list = q.get("sendInitialEvents") is not None
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

        sub, position = self.hub.subscribe(info.kind, flt)
        self.active.add(sub)
        response = web.StreamResponse(status=200, headers={"Cache-Control": "no-cache, private"})
        response.content_type = status.JSON
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            lines: list[bytes] = []
            try:
                if initial:
                    # The latest state is at least as new as any version asked for (NotOlderThan).
                    items, start = await self.registry.list(info.kind, namespace, flt)
                    for o in items:
                        lines.append(table_line("ADDED", [o]) if as_table is not None else _line("ADDED", to_dict(o)))
                    if watch_list:
                        # A watch-list's client waits for this bookmark before it trusts its initial state.
                        mark = {"kind": info.kind, "apiVersion": info.api_version,
                                "metadata": {"resourceVersion": str(start),
                                             "annotations": {INITIAL_EVENTS_END: "true"}}}
                        lines.append(_line("BOOKMARK", mark))
                elif rv in ("", "0"):
                    start = position  # sendInitialEvents=false: from now on
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
            bookmarked = start
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
                        mark = {"kind": info.kind, "apiVersion": info.api_version,
                                "metadata": {"resourceVersion": str(pos)}}
                        await self._write(response, _line("BOOKMARK", mark))
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
