"""The pod subresources that stream: log (text, chunked while following), exec and attach over WebSocket
(channel.k8s.io v5/v4), portforward (SPDY tunnelled in a WebSocket as kubectl speaks it) and eviction."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import grpc
from aiohttp import WSMsgType, web

from apiserver import errors
from apiserver.proxy import KubeletProxy
from apiserver.registry import Registry
from apiserver.rest import decode, spdy, status
from kubemu.pb import api_pb2

# k8s.io/apimachinery/pkg/util/remotecommand/constants.go
STREAM_PROTOCOL_V5 = "v5.channel.k8s.io"
STREAM_PROTOCOL_V4 = "v4.channel.k8s.io"
EXEC_PROTOCOLS = (STREAM_PROTOCOL_V5, STREAM_PROTOCOL_V4)
STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255
"""v5's close signal: a message [255, channel] says the client writes no more on that channel (stdin's EOF)."""
NON_ZERO_EXIT_CODE, EXIT_CODE_CAUSE = "NonZeroExitCode", "ExitCode"

# k8s.io/apimachinery/pkg/util/portforward/constants.go: kubectl tunnels SPDY through a WebSocket with this one.
PORT_FORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"
PORT_FORWARD_WEBSOCKET = "v4.channel.k8s.io"
"""The kubelet's own WebSocket port forwarding: `ports` in the query, a data and an error channel per port, each
channel's first frame the port (2 bytes, little endian)."""

_DISCONNECT_POLL = 1.0
"""Seconds between looks at whether a client following a log has gone (aiohttp does not cancel the handler)."""


def _bool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise status.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def _int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise status.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


def kubelet_error(e: grpc.aio.AioRpcError) -> errors.StatusError:
    """What the kubelet refused, as the apiserver answers it (upstream passes the kubelet's message through)."""
    message = e.details() or "kubelet error"
    code = e.code()
    if code == grpc.StatusCode.NOT_FOUND:
        return errors.NotFound(message)
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        return errors.BadRequest(message)
    return errors.InternalError(message)


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The error channel's metav1.Status for an exit code, as the kubelet's remotecommand server writes it (JSON of
    the Go struct: no kind, no apiVersion, no code)."""
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(command)}], "
                       f"exit code {code}",
            "reason": NON_ZERO_EXIT_CODE,
            "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]}}


def failure_status(err: errors.StatusError) -> dict[str, Any]:
    out: dict[str, Any] = {"metadata": {}, "status": "Failure", "message": err.message, "reason": err.reason}
    out["code"] = err.code
    return out


async def _until_gone(request: web.Request) -> None:
    while request.transport is not None and not request.transport.is_closing():  # noqa: ASYNC110 (no event to wait on)
        await asyncio.sleep(_DISCONNECT_POLL)


@dataclass
class _Forward:
    """One forwarded connection of the SPDY tunnel: its error and data streams and what the client sent on it."""

    port: int
    error_id: int = 0
    data_id: int = 0
    incoming: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class Streams:
    """pods/log, exec, attach, portforward and eviction, over the registry and the kubelets' gRPC."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.proxy = KubeletProxy(registry)

    SUBRESOURCES = frozenset({"log", "exec", "attach", "portforward", "eviction"})

    async def handle(self, request: web.Request, namespace: str, name: str, subresource: str) -> web.StreamResponse:
        method = request.method
        if subresource == "log" and method == "GET":
            return await self.log(request, namespace, name)
        if subresource in ("exec", "attach") and method in ("GET", "POST"):
            return await self.exec(request, namespace, name, attach=subresource == "attach")
        if subresource == "portforward" and method in ("GET", "POST"):
            return await self.portforward(request, namespace, name)
        if subresource == "eviction" and method == "POST":
            return await self.evict(request, namespace, name)
        raise status.method_not_allowed()

    async def close(self) -> None:
        await self.proxy.close()

    # -- log ---------------------------------------------------------------------------------------------------------

    def _log_request(self, request: web.Request, namespace: str, name: str) -> api_pb2.LogsRequest:
        """The LogsRequest of PodLogOptions' query, validated as upstream's ValidatePodLogOptions."""
        out = api_pb2.LogsRequest(namespace=namespace, name=name, container=request.query.get("container", ""),
                                  follow=_bool(request, "follow"), previous=_bool(request, "previous"),
                                  timestamps=_bool(request, "timestamps"))
        causes: list[errors.Cause] = []
        tail, since, limit = _int(request, "tailLines"), _int(request, "sinceSeconds"), _int(request, "limitBytes")
        since_time = request.query.get("sinceTime")
        if tail is not None:
            if tail < 0:
                causes.append(errors.Cause("FieldValueInvalid", f"Invalid value: {tail}: must be greater than or "
                                                                "equal to 0", "tailLines"))
            out.tail_lines = tail
        if limit is not None:
            if limit < 1:
                causes.append(errors.Cause("FieldValueInvalid", f"Invalid value: {limit}: must be greater than 0",
                                           "limitBytes"))
            out.limit_bytes = limit
        if since is not None and since_time:
            causes.append(errors.Cause("FieldValueForbidden",
                                       "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"))
        if since is not None:
            if since < 1:
                causes.append(errors.Cause("FieldValueInvalid", f"Invalid value: {since}: must be greater than 0",
                                           "sinceSeconds"))
            out.since_seconds = since
        elif since_time:
            try:
                at = datetime.fromisoformat(since_time.replace("Z", "+00:00")).timestamp()
            except ValueError:
                raise status.bad_request(f'parsing time "{since_time}" as "2006-01-02T15:04:05Z07:00": cannot '
                                         "parse") from None
            # The kubelet counts from its own clock; a time in the future asks for nothing older than now.
            out.since_seconds = max(1, int(datetime.now().timestamp() - at + 0.999))
        if causes:
            raise errors.new_invalid("PodLogOptions", "", name, causes)
        return out

    async def log(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        forwarded = self._log_request(request, namespace, name)
        stub, forwarded.container = await self.proxy.stub_for(namespace, name, forwarded.container)
        call = stub.Logs(forwarded)
        chunks = aiter(call)
        try:
            first = await anext(chunks, None)  # the kubelet's refusal is an HTTP error, before any byte is sent
        except grpc.aio.AioRpcError as e:
            raise kubelet_error(e) from None
        response = web.StreamResponse(headers={"Content-Type": "text/plain", "Cache-Control": "no-cache, private"})
        if forwarded.follow:
            response.enable_chunked_encoding()
        await response.prepare(request)
        budget = forwarded.limit_bytes if forwarded.HasField("limit_bytes") else None

        async def pump() -> None:
            nonlocal budget
            chunk = first
            while chunk is not None:
                data = "".join(line + "\n" for line in chunk.lines).encode()
                if budget is not None:
                    data, budget = data[:budget], budget - len(data[:budget])
                if data:
                    await response.write(data)
                if budget == 0:
                    return
                chunk = await anext(chunks, None)

        gone = asyncio.ensure_future(_until_gone(request))
        work = asyncio.ensure_future(pump())
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                with contextlib.suppress(grpc.aio.AioRpcError, ConnectionResetError):
                    work.result()
                with contextlib.suppress(ConnectionResetError):
                    await response.write_eof()
        finally:
            gone.cancel()
            work.cancel()
            call.cancel()
        return response

    # -- exec and attach ---------------------------------------------------------------------------------------------

    async def _websocket(self, request: web.Request, protocols: tuple[str, ...]) -> web.WebSocketResponse:
        """The WebSocket of a streaming request, with the first of the client's protocols that we speak."""
        ws = web.WebSocketResponse(protocols=protocols)
        ready = ws.can_prepare(request)
        if not ready.ok:
            # kubectl falls back to SPDY when its WebSocket upgrade fails: kubemu answers that with this too.
            raise status.bad_request("Upgrade request required: kubemu serves this subresource over WebSocket "
                                     f"({', '.join(protocols)})")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        if offered and ready.protocol is None:
            raise status.bad_request(f"requested protocol(s) are not supported: {offered}; supports {list(protocols)}")
        await ws.prepare(request)
        return ws

    async def exec(self, request: web.Request, namespace: str, name: str, *, attach: bool) -> web.StreamResponse:
        q = request.query
        command = q.getall("command", [])
        stdin, tty = _bool(request, "stdin"), _bool(request, "tty")
        stdout, stderr = _bool(request, "stdout", True), _bool(request, "stderr", True)
        if not (stdin or stdout or stderr):
            raise status.bad_request("you must specify at least 1 of stdin, stdout, stderr")
        if not attach and not command:
            raise status.bad_request("you must specify at least one command for the container")
        pod: Any = await self.registry.get("Pod", namespace, name)
        if pod.status.phase in ("Succeeded", "Failed"):
            verb = "attach to" if attach else "exec into"
            raise status.bad_request(f"cannot {verb} a container in a completed pod; current phase is "
                                     f"{pod.status.phase}")
        stub, container = await self.proxy.stub_for(namespace, name, q.get("container", ""))
        ws = await self._websocket(request, EXEC_PROTOCOLS)
        v5 = ws.ws_protocol == STREAM_PROTOCOL_V5
        lock = asyncio.Lock()

        async def send(channel: int, data: bytes) -> None:
            async with lock:
                await ws.send_bytes(bytes([channel]) + data)

        stdin_chunks: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def read_client() -> None:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY or not msg.data:
                    continue
                channel, data = msg.data[0], msg.data[1:]
                if channel == STDIN:
                    stdin_chunks.put_nowait(data)
                elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]):
                    stdin_chunks.put_nowait(None)
                # RESIZE is read and dropped: the simulated shell has no terminal to size.
            stdin_chunks.put_nowait(None)

        if attach:
            run = self._attach(stub, namespace, name, container, send)
        else:
            start = api_pb2.ExecRequest(namespace=namespace, name=name, container=container, command=command,
                                        stdin=stdin, tty=tty)
            run = self._exec(stub, start, stdin_chunks, send)
        reader = asyncio.ensure_future(read_client())
        work = asyncio.ensure_future(run)
        try:
            await asyncio.wait({reader, work}, return_when=asyncio.FIRST_COMPLETED)
            if work.done():  # else the client went first: the command goes with it
                with contextlib.suppress(ConnectionResetError):
                    await send(ERROR, json.dumps(work.result(), separators=(",", ":")).encode())
        finally:
            work.cancel()
            reader.cancel()
            await ws.close()
        return ws

    @staticmethod
    async def _exec(stub: Any, start: api_pb2.ExecRequest, stdin: asyncio.Queue[bytes | None],
                    send: Callable[[int, bytes], Awaitable[None]]) -> dict[str, Any]:
        async def requests() -> AsyncIterator[api_pb2.ExecStreamRequest]:
            yield api_pb2.ExecStreamRequest(start=start)
            if start.stdin:
                while (chunk := await stdin.get()) is not None:
                    yield api_pb2.ExecStreamRequest(stdin=chunk)
                yield api_pb2.ExecStreamRequest(stdin_closed=True)

        call = stub.ExecStream(requests())
        code = 0
        try:
            async for response in call:
                if response.stdout:
                    await send(STDOUT, response.stdout)
                if response.stderr:
                    await send(STDOUT if start.tty else STDERR, response.stderr)
                if response.HasField("exit_code"):
                    code = response.exit_code
        except grpc.aio.AioRpcError as e:
            return failure_status(kubelet_error(e))
        finally:
            call.cancel()
        return exit_status(code, list(start.command))

    @staticmethod
    async def _attach(stub: Any, namespace: str, name: str, container: str,
                      send: Callable[[int, bytes], Awaitable[None]]) -> dict[str, Any]:
        """What the container writes from now on, until it ends or the client detaches. Its stdin is not wired:
        the simulated process reads none (kubectl attach -i sends are read and dropped)."""
        call = stub.Logs(api_pb2.LogsRequest(namespace=namespace, name=name, container=container, follow=True,
                                             tail_lines=0))
        try:
            async for chunk in call:
                if chunk.lines:
                    await send(STDOUT, "".join(line + "\n" for line in chunk.lines).encode())
        except grpc.aio.AioRpcError as e:
            return failure_status(kubelet_error(e))
        finally:
            call.cancel()
        return exit_status(0, [])

    # -- portforward -------------------------------------------------------------------------------------------------

    async def portforward(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        pod: Any = await self.registry.get("Pod", namespace, name)
        if pod.status.phase != "Running":
            raise status.bad_request(f"pod {name} is not running: current phase is {pod.status.phase or 'Pending'}")
        stub = await self.proxy.stub_of(pod)
        ports: list[int] = []
        for value in request.query.getall("ports", []):
            for p in value.split(","):
                if not p.strip().isdigit() or not 0 < int(p) < 65536:
                    raise status.bad_request(f'invalid port "{p}"')
                ports.append(int(p))
        ws = await self._websocket(request, (PORT_FORWARD_TUNNEL, PORT_FORWARD_WEBSOCKET))
        lock = asyncio.Lock()

        async def send(*frames: bytes) -> None:
            async with lock:
                for frame in frames:
                    await ws.send_bytes(frame)

        try:
            if ws.ws_protocol == PORT_FORWARD_TUNNEL:
                await self._spdy_tunnel(ws, stub, namespace, name, send)
            else:
                await self._channels(ws, stub, namespace, name, ports, send)
        finally:
            await ws.close()
        return ws

    @staticmethod
    async def _forward(stub: Any, namespace: str, name: str, port: int, incoming: asyncio.Queue[bytes | None],
                       out: Callable[[bytes], Awaitable[None]], error: Callable[[str], Awaitable[None]]) -> None:
        """One connection to the pod's port: what the client sends goes in, what the server answers comes out."""
        async def requests() -> AsyncIterator[api_pb2.PortForwardRequest]:
            yield api_pb2.PortForwardRequest(namespace=namespace, name=name, port=port)
            while (chunk := await incoming.get()) is not None:
                yield api_pb2.PortForwardRequest(data=chunk)

        call = stub.PortForward(requests())
        try:
            async for response in call:
                if response.error:
                    await error(response.error)
                if response.data:
                    await out(response.data)
        except grpc.aio.AioRpcError as e:
            await error(e.details() or "kubelet error")
        finally:
            call.cancel()

    async def _spdy_tunnel(self, ws: web.WebSocketResponse, stub: Any, namespace: str, name: str,
                           send: Callable[..., Awaitable[None]]) -> None:
        """The kubelet's SPDY port-forward server (client-go's portforward protocol v1): a pair of streams, error
        and data, per connection (headers streamtype, port, requestid); each stream is closed when it is done."""
        conn = spdy.Connection()
        forwards: dict[str, _Forward] = {}
        by_data: dict[int, _Forward] = {}

        async def run(fwd: _Forward) -> None:
            async def out(data: bytes) -> None:
                await send(*conn.data(fwd.data_id, data))

            async def error(message: str) -> None:
                await send(*conn.data(fwd.error_id, message.encode()))

            try:
                await self._forward(stub, namespace, name, fwd.port, fwd.incoming, out, error)
            finally:
                with contextlib.suppress(ConnectionResetError):
                    await send(*conn.data(fwd.data_id, b"", fin=True), *conn.data(fwd.error_id, b"", fin=True))

        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                for frame in conn.feed(msg.data):
                    if frame.type == spdy.SYN_STREAM:
                        await send(conn.syn_reply(frame.stream_id))
                        kind, rid = frame.headers.get("streamtype", ""), frame.headers.get("requestid", "")
                        port = int(frame.headers.get("port", "0") or 0)
                        fwd = forwards.setdefault(rid, _Forward(port))
                        if kind == "error":
                            fwd.error_id = frame.stream_id
                        elif kind == "data":
                            fwd.data_id = frame.stream_id
                            by_data[frame.stream_id] = fwd
                        if fwd.error_id and fwd.data_id and fwd.task is None:
                            fwd.task = asyncio.ensure_future(run(fwd))
                    elif frame.type == 0:
                        target = by_data.get(frame.stream_id)
                        if target is not None:
                            if frame.payload:
                                target.incoming.put_nowait(frame.payload)
                            if frame.fin:
                                target.incoming.put_nowait(None)
                    elif frame.type == spdy.PING:
                        await send(conn.ping(frame.payload))
                    elif frame.type == spdy.RST_STREAM:
                        target = by_data.get(frame.stream_id)
                        if target is not None and target.task is not None:
                            target.task.cancel()
                    elif frame.type == spdy.GOAWAY:
                        return
        except spdy.ProtocolError:
            return
        finally:
            for fwd in forwards.values():
                if fwd.task is not None:
                    fwd.task.cancel()

    async def _channels(self, ws: web.WebSocketResponse, stub: Any, namespace: str, name: str, ports: list[int],
                        send: Callable[..., Awaitable[None]]) -> None:
        """The kubelet's WebSocket port forwarding: channel 2i carries port i's data, 2i+1 its errors; a connection
        to the port is opened on the first data and again after the server closed the previous one."""
        if not ports:
            raise status.bad_request("query parameter \"port\" is required")
        for i, port in enumerate(ports):
            prefix = struct.pack("<H", port)
            await send(bytes([2 * i]) + prefix, bytes([2 * i + 1]) + prefix)
        current: dict[int, tuple[asyncio.Queue[bytes | None], asyncio.Task[None]]] = {}

        def connect(i: int) -> asyncio.Queue[bytes | None]:
            live = current.get(i)
            if live is not None and not live[1].done():
                return live[0]
            incoming: asyncio.Queue[bytes | None] = asyncio.Queue()

            async def out(data: bytes) -> None:
                await send(bytes([2 * i]) + data)

            async def error(message: str) -> None:
                await send(bytes([2 * i + 1]) + message.encode())

            current[i] = (incoming, asyncio.ensure_future(
                self._forward(stub, namespace, name, ports[i], incoming, out, error)))
            return incoming

        try:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and msg.data and msg.data[0] % 2 == 0 and msg.data[0] // 2 < len(ports):
                    connect(msg.data[0] // 2).put_nowait(msg.data[1:])
        finally:
            for _, task in current.values():
                task.cancel()

    # -- eviction ----------------------------------------------------------------------------------------------------

    async def evict(self, request: web.Request, namespace: str, name: str) -> web.Response:
        """policy/v1 Eviction: the pod is deleted with the eviction's DeleteOptions. kubemu has no
        PodDisruptionBudgets yet, so no eviction is refused with 429."""
        accept = decode.negotiate(request)
        doc = decode.parse(request, await decode.read_body(request), "Eviction")
        if not isinstance(doc, dict):
            raise status.bad_request("the object provided is unrecognized (must be of type Eviction)")
        kind, api_version = doc.get("kind", "Eviction"), str(doc.get("apiVersion", "policy/v1"))
        if kind != "Eviction":
            version = api_version.rsplit("/", 1)[-1]
            raise status.bad_request(f'{kind} in version "{version}" cannot be handled as a Eviction: converting '
                                     f"({version}.{kind}) to (policy.Eviction): unknown conversion")
        meta = doc.get("metadata") or {}
        if not isinstance(meta, dict) or meta.get("name", name) != name:
            raise status.bad_request("name in URL does not match name in Eviction object")
        opts = doc.get("deleteOptions") or {}
        if not isinstance(opts, dict):
            raise status.bad_request("deleteOptions: expected an object")
        grace = opts.get("gracePeriodSeconds")
        if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
            raise status.bad_request(f'invalid value for gracePeriodSeconds: "{grace}"')
        pre = opts.get("preconditions") or {}
        dry = [*request.query.getall("dryRun", []), *(opts.get("dryRun") or [])]
        for v in dry:
            if v != "All":
                raise status.bad_request(f'Invalid value: "{v}": supported values: "All"')
        if dry:
            await self.registry.get("Pod", namespace, name)
        else:
            await self.registry.delete("Pod", namespace, name, grace_period_seconds=grace, uid=pre.get("uid"),
                                       resource_version=pre.get("resourceVersion"),
                                       propagation_policy=str(opts.get("propagationPolicy") or ""))
        return decode.render(request, accept, status.success(201), 201)
