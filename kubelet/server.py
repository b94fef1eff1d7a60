"""The kubelet's own gRPC server: container logs (-c, --previous, -f, --tail, --since, --timestamps), exec of the
simulated shell (with stdin when streamed) and port forwarding to the simulated servers, reached through the
apiserver's proxy (`kubemu logs`/`exec`, kubectl's logs, exec, attach and port-forward)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import grpc

from kubelet import portforward
from kubelet.runtime.shell import ShellContext, run_command
from kubemu.pb import api_pb2, api_pb2_grpc

if TYPE_CHECKING:
    from kubelet.pod_worker import ContainerRecord, PodWorker


def rfc3339_nano(t: float) -> str:
    """Go's time.RFC3339Nano in UTC, as the kubelet stamps log lines: trailing zeros of the fraction dropped."""
    whole = int(t)
    nanos = round((t - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{fraction}Z" if fraction else f"{stamp}Z"


MAX_EXEC_STDIN = 16 * 1024 * 1024
"""Bytes of stdin an exec may send: the simulated shell holds its stdin whole in memory."""


class _LogSelection:
    """Which lines a LogsRequest wants and how they are written: --since, --limit-bytes (at line granularity;
    the REST face cuts the exact byte), --timestamps."""

    def __init__(self, request: api_pb2.LogsRequest, now: float) -> None:
        self.since = now - request.since_seconds if request.HasField("since_seconds") else None
        self.budget = request.limit_bytes if request.HasField("limit_bytes") and request.limit_bytes > 0 else None
        self.timestamps = request.timestamps

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.budget <= 0

    def take(self, lines: list[str], times: list[float]) -> list[str]:
        out: list[str] = []
        for line, t in zip(lines, times, strict=False):
            if self.exhausted:
                break
            if self.since is not None and t < self.since:
                continue
            text = f"{rfc3339_nano(t)} {line}" if self.timestamps else line
            out.append(text)
            if self.budget is not None:
                self.budget -= len(text.encode()) + 1
        return out


class KubeletService(api_pb2_grpc.KubeletServicer):
    def __init__(self, find: Callable[[str, str], PodWorker | None]) -> None:
        self.find = find

    async def _record(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> tuple[PodWorker,
                                                                                                 ContainerRecord]:
        worker = self.find(request.namespace or "default", request.name)
        if worker is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f'pods "{request.name}" not found')
            raise AssertionError("unreachable")
        names = [c.name for c in worker.pod.spec.containers]
        container = request.container
        if not container:
            if len(names) != 1:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"a container name must be specified for pod {request.name}, choose one of: "
                                    f"[{' '.join(names)}]")
            container = names[0]
        rec = worker.records.get(container)
        if rec is None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                f"container {container} is not valid for pod {request.name}")
            raise AssertionError("unreachable")
        return worker, rec

    async def Logs(
        self, request: api_pb2.LogsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[api_pb2.LogChunk]:
        _worker, rec = await self._record(request, context)
        if request.previous:
            if rec.last_terminated is None and not rec.previous_logs:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f'previous terminated container "{rec.name}" in pod "{request.name}" not found')
            lines, times = list(rec.previous_logs), list(rec.previous_log_times)
        else:
            if not rec.ever_started:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f'container "{rec.name}" in pod "{request.name}" is waiting to start: '
                                    f"{rec.reason or 'ContainerCreating'}")
            lines, times = list(rec.logs), list(rec.log_times)
        # What a follow sends next is counted from here: lines written while the first chunk goes out are not lost.
        current, current_times = rec.logs, rec.log_times
        sent = len(current)
        if request.HasField("tail_lines") and request.tail_lines >= 0:
            keep = len(lines) - request.tail_lines if request.tail_lines else len(lines)
            lines, times = lines[keep:], times[keep:]
        pick = _LogSelection(request, rec.clock())
        yield api_pb2.LogChunk(lines=pick.take(lines, times))
        if not request.follow or request.previous:
            return
        while rec.state == "running" and rec.logs is current and not pick.exhausted:
            changed = rec.log_changed
            await changed.wait()
            if len(current) > sent:
                # The log may have been rotated meanwhile: what is left past `sent` is still in order.
                yield api_pb2.LogChunk(lines=pick.take(current[sent:], current_times[sent:]))
                sent = len(current)

    async def Exec(
        self, request: api_pb2.ExecRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.ExecResponse:
        worker, rec = await self._record(request, context)
        if rec.state != "running":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"cannot exec in a stopped container: container {rec.name} is not running")
        out: list[str] = []
        ctx = ShellContext(fs=rec.fs, env=dict(rec.env), stdout=out.append, now=worker.ctx.clock,
                           hostname=worker.pod.metadata.name)
        code = await run_command(list(request.command), ctx)
        return api_pb2.ExecResponse(output=out, exit_code=code)

    async def ExecStream(
        self, request_iterator: AsyncIterator[api_pb2.ExecStreamRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[api_pb2.ExecStreamResponse]:
        first = await anext(aiter(request_iterator), None)
        if first is None:
            return
        start = first.start
        worker, rec = await self._record(start, context)
        if rec.state != "running":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"cannot exec in a stopped container: container {rec.name} is not running")
        # The simulated shell reads stdin as a whole: the command starts once the client has closed it.
        stdin = bytearray()
        message: api_pb2.ExecStreamRequest | None = first
        while start.stdin and message is not None:
            stdin += message.stdin
            if len(stdin) > MAX_EXEC_STDIN:
                await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                    f"stdin of an exec is limited to {MAX_EXEC_STDIN} bytes in kubemu")
            if message.stdin_closed:
                break
            message = await anext(aiter(request_iterator), None)
        output: asyncio.Queue[str | None] = asyncio.Queue()
        ctx = ShellContext(fs=rec.fs, env=dict(rec.env), stdout=output.put_nowait, now=worker.ctx.clock,
                           hostname=worker.pod.metadata.name)

        async def run() -> int:
            try:
                return await run_command(list(start.command), ctx, bytes(stdin))
            finally:
                output.put_nowait(None)

        task = asyncio.create_task(run())
        try:
            while (line := await output.get()) is not None:
                yield api_pb2.ExecStreamResponse(stdout=(line + "\n").encode())
            yield api_pb2.ExecStreamResponse(exit_code=await task)
        finally:
            task.cancel()  # the client went away: the command goes with it

    async def PortForward(
        self, request_iterator: AsyncIterator[api_pb2.PortForwardRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[api_pb2.PortForwardResponse]:
        requests = aiter(request_iterator)
        first = await anext(requests, None)
        if first is None:
            return
        worker = self.find(first.namespace or "default", first.name)
        if worker is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f'pods "{first.name}" not found')
            raise AssertionError("unreachable")
        rec = next((r for r in worker.records.values() if r.state == "running" and first.port in r.listening), None)
        if rec is None:
            yield api_pb2.PortForwardResponse(error=portforward.refused_message(worker.pod.metadata.uid, first.port))
            return
        data = bytes(first.data)
        message: api_pb2.PortForwardRequest | None = first
        while message is not None:
            if portforward.request_complete(data):
                reply = portforward.answer(rec.spec.image, first.port, rec.fs, data, worker.ctx.clock())
                if reply:
                    yield api_pb2.PortForwardResponse(data=reply)
                    return  # the answer says `Connection: close`
            message = await anext(requests, None)
            if message is not None:
                data += message.data
