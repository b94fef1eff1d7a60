"""Recording Events about objects, as client-go's EventRecorder: a repeat of the same reason and message on the
same object bumps `count` and `lastTimestamp` of one Event instead of creating another.

Recording does not wait for the apiserver, as upstream's broadcaster does not: `event` queues the event
(up to 1,000, then drops and logs, as client-go's maxQueuedEvents with DropIfChannelFull) and one sender
task per recorder writes them: it gathers what arrives within 0.1 s and creates those Events in one CreateMany
call (each created and validated as a Create), so a busy kubelet or scheduler spends one apiserver call on a
burst of Events, not one each. A kubelet starting a container or a scheduler binding a pod is never held up
by the Events it reports."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any

import structlog

from kubemu.api import kinds
from kubemu.api.serialization import set_time
from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2

log = structlog.get_logger()

MAX_QUEUED_EVENTS = 1000
"""client-go's maxQueuedEvents: past this many unsent events, new ones are dropped."""
BATCH_WINDOW_SECONDS = 0.1
"""How long the sender gathers events after the first before writing them in one call."""
MAX_BATCH = 500
"""Events per call at most (the apiserver's CreateMany limit)."""

_Pending = tuple[core_pb2.ObjectReference, str, str, str, float]
"""A queued event: the object it is about, type, reason, message, and when it happened."""


class EventRecorder:
    def __init__(
        self, client: Client, component: str, host: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str], core_pb2.Event] = {}
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(MAX_QUEUED_EVENTS)
        self._sender: asyncio.Task[None] | None = None

    async def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        """Record `type` (Normal or Warning) `reason`: `message` about `obj`, without waiting for the write.
        Failures are logged, not raised: an event is best effort, as upstream."""
        meta = obj.metadata
        # The reference is taken now: the caller may change its object before the event is written.
        info = kinds.of_message(obj)
        ref = core_pb2.ObjectReference(kind=info.kind, api_version=info.api_version, name=meta.name,
                                       namespace=meta.namespace, uid=meta.uid,
                                       resource_version=meta.resource_version)
        try:
            self._queue.put_nowait((ref, type, reason, message, float(int(self.clock()))))
        except asyncio.QueueFull:
            log.info("event.dropped", object=f"{meta.namespace}/{meta.name}", reason=reason,
                     error=f"more than {MAX_QUEUED_EVENTS} events queued")
            return
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def flush(self) -> None:
        """Wait until every event queued so far has been written (or dropped)."""
        await self._queue.join()

    async def close(self) -> None:
        """Stop the sender; events still queued are dropped."""
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
            self._sender = None

    async def _send(self) -> None:
        while True:
            batch = [await self._queue.get()]
            # Linger briefly so that a burst (a pod's Pulled, Created, Started) goes out in one call.
            await asyncio.sleep(BATCH_WINDOW_SECONDS)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except Exception as e:  # a failed batch must not stop the ones after it
                log.warning("event.failed", events=len(batch), error=repr(e))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write(self, batch: list[_Pending]) -> None:
        """Bump the count of events seen before (one update each), create the rest in one CreateMany."""
        creates: dict[tuple[str, str, str, str], core_pb2.Event] = {}
        for ref, type, reason, message, now in batch:
            key = (ref.uid, type, reason, message)
            pending = creates.get(key)
            if pending is not None:  # a repeat within the batch: one Event with its count
                pending.count += 1
                set_time(pending.last_timestamp, now)
                continue
            prev = self._seen.get(key)
            if prev is not None:
                prev.count += 1
                set_time(prev.last_timestamp, now)
                try:
                    self._seen[key] = await self.client.events.update(prev)
                    continue
                except (errors.NotFound, errors.Conflict):
                    pass  # it was deleted or changed meanwhile: start a new one
                except errors.ApiError as e:
                    log.info("event.dropped", object=f"{ref.namespace}/{ref.name}", reason=reason, error=str(e))
                    continue
            creates[key] = self._new_event(ref, type, reason, message, now)
        if not creates:
            return
        try:
            results = await self.client.events.create_many(list(creates.values()))
        except errors.ApiError as e:
            for ev in creates.values():
                log.info("event.dropped", object=f"{ev.involved_object.namespace}/{ev.involved_object.name}",
                         reason=ev.reason, error=str(e))
            return
        for (key, ev), result in zip(creates.items(), results, strict=True):
            if isinstance(result, errors.ApiError):
                log.info("event.dropped", object=f"{ev.involved_object.namespace}/{ev.involved_object.name}",
                         reason=ev.reason, error=str(result))
                continue
            self._seen[key] = result
        while len(self._seen) > 4096:  # keep the correlation cache bounded: forget the oldest
            self._seen.pop(next(iter(self._seen)))

    def _new_event(self, ref: core_pb2.ObjectReference, type: str, reason: str, message: str,
                   now: float) -> core_pb2.Event:
        ev = core_pb2.Event()
        ev.metadata.name = f"{ref.name}.{secrets.token_hex(8)}"
        ev.metadata.namespace = ref.namespace or "default"
        ev.involved_object.CopyFrom(ref)
        ev.type, ev.reason, ev.message = type, reason, message
        ev.source.component = self.component
        if self.host:
            ev.source.host = self.host
        ev.reporting_component = self.component
        ev.reporting_instance = self.host
        ev.count = 1
        set_time(ev.first_timestamp, now)
        set_time(ev.last_timestamp, now)
        return ev
