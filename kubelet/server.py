"""The kubelet's own gRPC server: container logs (-c, --previous, -f, --tail) and exec of the simulated shell,
reached through the apiserver's proxy as `kubemu logs` and `kubemu exec`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

from kubelet.runtime.shell import ShellContext, run_command
from kubemu.pb import api_pb2, api_pb2_grpc

if TYPE_CHECKING:
    from kubelet.pod_worker import ContainerRecord, PodWorker


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
            lines = list(rec.previous_logs)
        else:
            if not rec.ever_started:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f'container "{rec.name}" in pod "{request.name}" is waiting to start: '
                                    f"{rec.reason or 'ContainerCreating'}")
            lines = list(rec.logs)
        if request.HasField("tail_lines") and request.tail_lines >= 0:
            lines = lines[len(lines) - request.tail_lines:] if request.tail_lines else []
        yield api_pb2.LogChunk(lines=lines)
        if not request.follow or request.previous:
            return
        current = rec.logs
        sent = len(current)
        while rec.state == "running" and rec.logs is current:
            changed = rec.log_changed
            await changed.wait()
            if len(current) > sent:
                yield api_pb2.LogChunk(lines=current[sent:])
                sent = len(current)

    async def Exec(
        self, request: api_pb2.ExecRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> api_pb2.ExecResponse:
        worker, rec = await self._record(request, context)
        if rec.state != "running":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                f"cannot exec in a stopped container: container {rec.name} is not running")
        out: list[str] = []
        ctx = ShellContext(fs=rec.fs, env=worker._env(rec.spec), stdout=out.append, now=worker.ctx.clock,
                           hostname=worker.pod.metadata.name)
        code = await run_command(list(request.command), ctx)
        return api_pb2.ExecResponse(output=out, exit_code=code)
