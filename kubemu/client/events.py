"""Recording Events about objects, as client-go's EventRecorder: a repeat of the same reason and message on the
same object bumps `count` and `lastTimestamp` of one Event instead of creating another."""

from __future__ import annotations

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


class EventRecorder:
    def __init__(
        self, client: Client, component: str, host: str = "", clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self.clock = clock
        self._seen: dict[tuple[str, str, str, str], core_pb2.Event] = {}

    async def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        """Record `type` (Normal or Warning) `reason`: `message` about `obj`. Failures are logged, not raised:
        an event is best effort, as upstream."""
        info = kinds.of_message(obj)
        meta = obj.metadata
        key = (meta.uid, type, reason, message)
        now = float(int(self.clock()))
        try:
            prev = self._seen.get(key)
            if prev is not None:
                prev.count += 1
                set_time(prev.last_timestamp, now)
                try:
                    self._seen[key] = await self.client.events.update(prev)
                    return
                except (errors.NotFound, errors.Conflict):
                    pass
            ev = core_pb2.Event()
            ev.metadata.name = f"{meta.name}.{secrets.token_hex(8)}"
            ev.metadata.namespace = meta.namespace or "default"
            ref = ev.involved_object
            ref.kind, ref.api_version = info.kind, info.api_version
            ref.name, ref.namespace, ref.uid = meta.name, meta.namespace, meta.uid
            ref.resource_version = meta.resource_version
            ev.type, ev.reason, ev.message = type, reason, message
            ev.source.component = self.component
            if self.host:
                ev.source.host = self.host
            ev.reporting_component = self.component
            ev.reporting_instance = self.host
            ev.count = 1
            set_time(ev.first_timestamp, now)
            set_time(ev.last_timestamp, now)
            self._seen[key] = await self.client.events.create(ev)
            if len(self._seen) > 4096:  # keep the correlation cache bounded: forget the oldest
                self._seen.pop(next(iter(self._seen)))
        except errors.ApiError as e:
            log.info("event.dropped", object=f"{meta.namespace}/{meta.name}", reason=reason, error=str(e))
