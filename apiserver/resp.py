"""Pipelined Redis connections: one for the store's write scripts and object reads, one for the watch hub's
blocking stream read.

Redis answers the commands of one connection in the order they were sent, so a write is sent the moment it
is made and its reply is the next one due: concurrent writes share round trips without waiting for each other
(no batch to fill, no connection pool, no per-command timeout task). Replies are parsed by hiredis. redis-py
still serves the rare calls (lists, ranges); this is the hot path of every write and of every event read back.

A lost connection fails every write in flight with ConnectionError (its outcome is unknown to the caller, as
with any store); the next write connects again.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, cast

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError


def encode_command(args: tuple[Any, ...]) -> bytes:
    """A command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, int):
            b = b"%d" % a
        else:
            raise TypeError(f"cannot send {type(a).__name__} to Redis")
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None
        self.outgoing: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError:
                # Replies can no longer be matched to commands: drop the connection, failing what waits.
                if self.transport is not None:
                    self.transport.close()
                return
            if reply is False:
                return
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = RedisConnectionError(f"connection to Redis lost: {exc}" if exc else "connection to Redis closed")
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_exception(self.lost)

    def send(self, payload: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.lost is not None or self.transport is None:
            fut.set_exception(self.lost or RedisConnectionError("not connected to Redis"))
            return fut
        idle = not self.waiting
        self.waiting.append(fut)
        if idle:  # nothing in flight: a lone command goes at once
            self.transport.write(payload)
            return fut
        if not self.outgoing:  # under load, the commands made in this turn of the loop go out in one write
            asyncio.get_running_loop().call_soon(self._flush)
        self.outgoing.append(payload)
        return fut

    def _flush(self) -> None:
        data, self.outgoing = b"".join(self.outgoing), []
        if self.transport is not None and self.lost is None:
            self.transport.write(data)


def _reply(reply: Any) -> Any:
    if isinstance(reply, hiredis.ReplyError):
        text = str(reply)
        if text.startswith("NOSCRIPT"):
            raise NoScriptError(text)
        raise ResponseError(text)
    return reply


class ScriptConnection:
    """`call` sends one command on a shared, pipelined connection and returns its reply (an error reply is
    raised as redis-py's ResponseError / NoScriptError); `evalsha` runs a registered script, loading it first
    when Redis does not have it (first use, or Redis restarted)."""

    def __init__(self, url: str, connect_timeout: float = 2.0) -> None:
        self.options: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self.connect_timeout = connect_timeout
        self._proto: _Protocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connection(self) -> _Protocol:
        proto = self._proto
        if proto is not None and proto.lost is None:
            return proto
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._proto is not None and self._proto.lost is None:
                return self._proto
            self._proto = await self._connect()
            return self._proto

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        o = self.options
        try:
            if "path" in o:
                _, proto = await asyncio.wait_for(loop.create_unix_connection(_Protocol, o["path"]),
                                                  self.connect_timeout)
            else:
                _, proto = await asyncio.wait_for(
                    loop.create_connection(_Protocol, o.get("host", "localhost"), int(o.get("port", 6379))),
                    self.connect_timeout)
        except (TimeoutError, OSError) as e:
            raise RedisConnectionError(f"cannot connect to Redis: {e}") from e
        setup: list[tuple[Any, ...]] = []
        if o.get("password"):
            setup.append(("AUTH", o["username"], o["password"]) if o.get("username") else ("AUTH", o["password"]))
        if int(o.get("db", 0)):
            setup.append(("SELECT", int(o["db"])))
        try:
            for cmd in setup:
                _reply(await proto.send(encode_command(cmd)))
        except Exception:
            if proto.transport is not None:
                proto.transport.close()
            raise
        return proto

    async def call(self, *args: Any) -> Any:
        proto = await self._connection()
        return _reply(await proto.send(encode_command(args)))

    async def evalsha(self, script: Any, keys: list[Any], args: list[Any]) -> Any:
        """`script` is a redis-py registered Script (its `sha` and `script` text)."""
        try:
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.call("SCRIPT", "LOAD", script.script)
            return await self.call("EVALSHA", script.sha, len(keys), *keys, *args)

    async def close(self) -> None:
        proto = self._proto
        self._proto = None
        if proto is not None and proto.transport is not None:
            proto.transport.close()
