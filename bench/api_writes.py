"""api-writes: pod creates/s through one apiserver with 8 concurrent clients, beside a bare grpcio echo server
(unary, the same request bytes, the same concurrency) measured in the same run. Goal: >= 0.7 x echo.

Both runs keep the two cores busy, so the ratio is one of CPU per call; the CPU each process spends per call
(server, the benchmark's clients, Redis) is reported beside the rates."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from bench import common as c
from bench.echo_server import METHOD
from kubemu.api import kinds

NAME = "api-writes"
CLIENTS = 8


async def _measured(call: Any, duration: float, meter: c.CpuMeter) -> tuple[float, dict[str, float]]:
    """closed_loop's rate and the meter's CPU per call over the same span."""
    loop = asyncio.get_running_loop()
    meter.start()
    started = loop.time()
    rate = await c.closed_loop(CLIENTS, duration, call)
    return rate, meter.per_op(rate * (loop.time() - started))


def _echo_call(calls: list[Any], payload: Any) -> Callable[[int, int], Awaitable[None]]:
    from kubemu.pb import api_pb2

    pod = kinds.unwrap(payload.object)

    async def call(w: int, i: int) -> None:
        # The same client-side work as a create: encode the object and the request, parse the reply and its object.
        pod.metadata.name = f"e-{w}-{i}"
        payload.object.raw = pod.SerializeToString()
        reply = await calls[w](payload.SerializeToString(), timeout=10)
        kinds.unwrap(api_pb2.CreateRequest.FromString(reply).object)

    return call


async def _echo_rate(port: int, payload: Any, duration: float, pid: int) -> tuple[float, dict[str, float]]:
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(CLIENTS)]
    call = _echo_call([ch.unary_unary(METHOD) for ch in channels], payload)
    try:
        await c.closed_loop(CLIENTS, 0.3, call)  # warm up
        return await _measured(call, duration, c.CpuMeter({"echo server": [pid], "benchmark": [os.getpid()]}))
    finally:
        for ch in channels:
            await ch.close()


async def echo_speed(duration: float) -> float:
    """How fast this machine is at the moment: the calls/s a bare grpcio echo server answers to CLIENTS clients
    doing a create's client-side work (api-writes' echo half). It moves about twofold with the hour here, and
    every rate with it, so `python -m bench` takes it before and after its benchmarks."""
    from kubemu.api import kinds
    from kubemu.pb import api_pb2

    port = c.free_port()
    echo = c.Proc("echo", c.python_module("bench.echo_server", "--port", str(port))).start()
    try:
        c.wait_port(port, proc=echo.proc)
        payload = api_pb2.CreateRequest(object=kinds.wrap(c.make_pod("x", "bench")))
        rate, _ = await _echo_rate(port, payload, duration, echo.pid)
        return rate
    finally:
        echo.kill()


async def _api_rate(address: str, namespace: str, tag: str, duration: float,
                    pids: dict[str, list[int]], token: str | None = None) -> tuple[float, dict[str, float]]:
    from kubemu.client.client import Client

    clients = [Client(address, token=token) for _ in range(CLIENTS)]
    pods = [c.make_pod("x", namespace) for _ in range(CLIENTS)]
    try:
        async def call(w: int, i: int) -> None:
            pod = pods[w]
            pod.metadata.name = f"{tag}-{w}-{i}"
            await clients[w].pods.create(pod)

        await c.closed_loop(CLIENTS, 0.3, lambda w, i: call(w, -1 - i))  # warm up
        return await _measured(call, duration, c.CpuMeter(
            {"apiserver": pids["apiserver"], "redis": pids["redis"], "benchmark": [os.getpid()]}))
    finally:
        for cl in clients:
            await cl.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.api import kinds
    from kubemu.client.client import Client
    from kubemu.pb import api_pb2

    duration = c.pick(size, 0.5, 8.0)
    cluster = c.Cluster().start()
    echo_port = c.free_port()
    echo = c.Proc("echo", c.python_module("bench.echo_server", "--port", str(echo_port))).start()
    try:
        c.wait_port(echo_port, proc=echo.proc)
        async with Client(cluster.address) as admin:
            await c.create_namespace(admin, "bench")
            payload = api_pb2.CreateRequest(object=kinds.wrap(c.make_pod("x", "bench")))
            echo_rates, api_rates, ratios = [], [], []
            echo_cpu, api_cpu = [], []
            for r in range(repeats):
                e, e_cpu = await _echo_rate(echo_port, payload, duration, echo.pid)
                a, a_cpu = await _api_rate(cluster.address, "bench", f"r{r}", duration, cluster.pids())
                echo_rates.append(e)
                api_rates.append(a)
                ratios.append(a / e)
                echo_cpu.append(e_cpu)
                api_cpu.append(a_cpu)
        return [
            c.row(NAME, f"echo calls/s ({CLIENTS} clients, {payload.ByteSize()} B)", echo_rates, "/s"),
            c.row(NAME, f"pod creates/s ({CLIENTS} clients)", api_rates, "/s"),
            c.row(NAME, "creates / echo", ratios, "x", c.at_least(0.7, ">= 0.7x echo"),
                  duration_s=duration, message_bytes=payload.ByteSize()),
            *c.cpu_rows(NAME, "echo call", echo_cpu, "us"),
            *c.cpu_rows(NAME, "create", api_cpu, "us"),
        ]
    finally:
        echo.kill()
        cluster.stop()
