"""Watch fan-out: each apiserver reads every kind's event stream once and hands each event to the client
watches whose namespace, label and field filters it passes, batching what has piled up per stream message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from apiserver import errors
from apiserver.apis import install
from apiserver.storage import Store, StreamEvent
from kubemu.api import fields as fieldsel
from kubemu.api import labels as labelsel

log = structlog.get_logger()

INDEXED_FIELD = "spec.nodeName"
"""Watches that require an exact value of this field (every kubelet's, and the scheduler's `spec.nodeName=`)
are indexed by it, as the watch cache's pod trigger on spec.nodeName: an event is offered only to the watches
of the node it was and is on, plus the unindexed ones, instead of to every watch."""

READ_SPACING = 0.01
"""Under load, stream reads start at least this far apart, so that one read (and each watch's stream message)
carries the events of up to 10 ms instead of one or two: every stream message costs gRPC (and the watcher) about
the same whatever it holds. A read that finds nothing blocks and returns on the next write, so an event that comes
after a quiet spell is delivered at once; under load an event waits at most this long for its read."""

QUEUE_LIMIT = 10_000
"""Batches a watcher may fall behind before its stream is closed; its client re-watches from the last
revision it saw, as a kube-apiserver watcher whose channel fills up does."""


_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode
"""json.dumps with separators builds an encoder per call; this one is built once."""


@dataclass(frozen=True)
class Attrs:
    namespace: str
    labels: dict[str, str]
    fields: dict[str, str]

    @staticmethod
    def decode(raw: bytes) -> Attrs:
        d = json.loads(raw)
        return Attrs(d["f"].get("metadata.namespace", ""), d["l"], d["f"])

    @staticmethod
    def encode(labels: dict[str, str], fields: dict[str, str]) -> bytes:
        return _COMPACT_JSON({"l": labels, "f": fields}).encode()


def _attrs(event: StreamEvent, which: str) -> Attrs:
    cached = event.memo.get(which)
    if cached is None:
        cached = event.memo[which] = Attrs.decode(getattr(event, which))
    return cached


@dataclass(frozen=True)
class Filter:
    namespace: str | None
    labels: labelsel.Selector
    fields: fieldsel.FieldSelector

    def matches(self, attrs: Attrs) -> bool:
        if self.namespace and attrs.namespace != self.namespace:
            return False
        return self.labels.matches(attrs.labels) and self.fields.matches(attrs.fields)

    def translate(self, event: StreamEvent) -> str | None:
        """The event type this watcher sees, as the watch cache computes it: a change that moves an object
        into the filter is ADDED, one that moves it out is DELETED."""
        now = self.matches(_attrs(event, "attrs"))
        if event.type != "MODIFIED" or not event.prev_attrs:
            return event.type if now else None
        before = self.matches(_attrs(event, "prev_attrs"))
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None


@dataclass(eq=False)
class Subscription:
    kind: str
    filter: Filter
    queue: asyncio.Queue[list[tuple[str, StreamEvent]] | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def offer(self, events: Iterable[StreamEvent]) -> None:
        if self.closed:
            return
        batch = [(t, ev) for ev in events if (t := self.filter.translate(ev)) is not None]
        if not batch:
            return
        if self.queue.qsize() >= QUEUE_LIMIT:
            self.close()
            return
        self.queue.put_nowait(batch)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)


UNCACHED_KINDS = frozenset({"Event"})
"""Kinds the watch cache leaves out: Events are many, written once or bumped now and then, and never read back
by the registry's writes often enough to pay for a copy of each in the apiserver's memory."""


class WatchHub:
    def __init__(
        self, store: Store, kinds: Iterable[str], block_ms: int = 1000, read_spacing: float = READ_SPACING
    ) -> None:
        self.store = store
        self.kinds = list(kinds)
        self.block_ms = block_ms
        self.read_spacing = read_spacing
        self.positions: dict[str, int] = {}
        self.subscriptions: dict[str, set[Subscription]] = {k: set() for k in self.kinds}
        self._unindexed: dict[str, set[Subscription]] = {k: set() for k in self.kinds}
        self._indexed: dict[str, dict[str, set[Subscription]]] = {k: {} for k in self.kinds}
        """kind -> value of INDEXED_FIELD the watch requires -> watches."""
        self.objects: dict[str, tuple[dict[str, bytes], dict[str, int]]] = {
            k: ({}, {}) for k in self.kinds if k not in UNCACHED_KINDS}
        """The watch cache: kind -> (member -> stored bytes, member -> revision) of the latest event read for each
        object written since the hub started (deleted ones dropped; none of UNCACHED_KINDS). See `cached`. Two
        dicts of bytes and ints rather than one of (bytes, int) tuples: those would be one more object per
        object for the cycle collector to track and scan (apiserver CPU per create +4% with tuples)."""
        self._task: asyncio.Task[None] | None = None
        self.log = log.bind(component="apiserver")

    async def start(self) -> None:
        rev = await self.store.revision()
        self.positions = dict.fromkeys(self.kinds, rev)
        self._task = asyncio.create_task(self._run(), name="watch-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for subs in self.subscriptions.values():
            for sub in subs:
                sub.close()

    def subscribe(self, kind: str, flt: Filter) -> tuple[Subscription, int]:
        """Register a watcher; returns it and the revision up to which this hub has dispatched, so that the
        caller fetches (its revision, that revision] from the store and gets the rest from the queue."""
        sub = Subscription(kind, flt)
        self.subscriptions[kind].add(sub)
        value = flt.fields.exact(INDEXED_FIELD)
        if value is None:
            self._unindexed[kind].add(sub)
        else:
            self._indexed[kind].setdefault(value, set()).add(sub)
        return sub, self.positions[kind]

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions[sub.kind].discard(sub)
        self._unindexed[sub.kind].discard(sub)
        value = sub.filter.fields.exact(INDEXED_FIELD)
        if value is not None:
            subs = self._indexed[sub.kind].get(value)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._indexed[sub.kind][value]

    def dispatch(self, kind: str, events: list[StreamEvent]) -> None:
        """Offer a batch read from the stream to the watches it may concern, in order."""
        for sub in list(self._unindexed.get(kind, ())):
            sub.offer(events)
        index = self._indexed.get(kind)
        if not index:
            return
        routed: dict[Subscription, list[StreamEvent]] = {}
        for ev in events:
            values = {_attrs(ev, "attrs").fields.get(INDEXED_FIELD, "")}
            if ev.type == "MODIFIED" and ev.prev_attrs:
                values.add(_attrs(ev, "prev_attrs").fields.get(INDEXED_FIELD, ""))
            for value in values:
                for sub in index.get(value, ()):
                    routed.setdefault(sub, []).append(ev)
        for sub, evs in routed.items():
            sub.offer(evs)

    def position(self, kind: str) -> int:
        return self.positions[kind]

    def cached(self, kind: str, member: str) -> tuple[bytes, int] | None:
        """The object as of the last event the hub read for it, or None when it has not seen it written: what
        an update starts from instead of a store read (the Registry's `cached`). It can be behind the store
        (by the events not read yet), never ahead of it, and never behind what this hub's watches were sent."""
        cache = self.objects.get(kind)
        if cache is None:
            return None
        data = cache[0].get(member)
        return None if data is None else (data, cache[1][member])

    def _remember(self, kind: str, events: list[StreamEvent]) -> None:
        cache = self.objects.get(kind)
        if cache is None:
            return
        data, revisions = cache
        for ev in events:
            if ev.type == "DELETED":
                data.pop(ev.member, None)
                revisions.pop(ev.member, None)
            else:
                data[ev.member] = ev.data
                revisions[ev.member] = ev.revision

    async def _run(self) -> None:
        backoff = 0.1
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                batches, compacted = await self.store.read_streams(self.positions, self.block_ms)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a broken Redis connection: retry, then check nothing was trimmed away
                self.log.warning("watch.read_failed", error=str(e), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                await self._expire_trimmed()
                continue
            read = dict(batches)
            for kind, point in compacted.items():
                # Events after our position were trimmed before this read took them (the stream moved on more
                # than watch_history while we waited): the watches cannot be served without a gap.
                events = read.get(kind)
                if point > self.positions[kind] and (not events or events[0].revision > point):
                    self._expire(kind, point, events[-1].revision if events else point)
                    read.pop(kind, None)
            for kind, events in read.items():
                if events:
                    self._remember(kind, events)
                    self.dispatch(kind, events)
                    self.positions[kind] = events[-1].revision
            if any(read.values()) and (wait := started + self.read_spacing - loop.time()) > 0:
                await asyncio.sleep(wait)

    async def _expire_trimmed(self) -> None:
        for kind in self.kinds:
            try:
                compacted = await self.store.compacted(kind)
            except errors.ApiError:
                return
            if compacted > self.positions[kind]:
                self._expire(kind, compacted, await self.store.revision())

    def _expire(self, kind: str, compacted: int, position: int) -> None:
        """Events we never dispatched are gone: end every watch of the kind (clients re-watch from their last
        revision, which is too old, and relist) and go on from `position`."""
        self.log.warning("watch.expired", kind=kind, position=self.positions[kind], compacted=compacted)
        for kept in self.objects.get(kind, ()):
            kept.clear()  # it missed those events too
        for sub in list(self.subscriptions[kind]):
            sub.close()
        self.positions[kind] = position


def make_filter(kind: str, namespace: str, label_selector: str, field_selector: str) -> Filter:
    try:
        lsel = labelsel.parse(label_selector)
    except ValueError as e:
        raise errors.BadRequest(f"unable to parse requirement: {e}" if "unable" not in str(e) else str(e)) from e
    try:
        fsel = fieldsel.parse(field_selector)
        install.validate_for_kind(fsel, kind)
    except ValueError as e:
        raise errors.BadRequest(str(e)) from e
    return Filter(namespace or None, lsel, fsel)
