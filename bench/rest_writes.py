"""rest-writes: pod creates/s over HTTPS/JSON with 8 concurrent clients (api-writes' concurrency and pod), beside
the same apiserver's gRPC face measured in the same run, alternating. Goal: >= 0.8 x the gRPC rate.

Each REST client is one aiohttp keep-alive connection posting a pre-encoded body (PodBody) and reading the answer's
bytes without parsing them. What that costs the client per create is the "benchmark" CPU row of the REST face
(TLS, HTTP framing, aiohttp's request and response objects): 281 us at full size on 2026-12-07 ~17:00, the same
as the gRPC SDK client's 281 us in that run (175 and 164 us in a tiny run). Both faces keep the two cores busy, so
the ratio is one of CPU per create: the apiserver's CPU per create is reported for both."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from bench import api_writes
from bench import common as c
from bench import rest_common as rc

NAME = "rest-writes"
CLIENTS = api_writes.CLIENTS


async def _rest_rate(cluster: rc.RestCluster, namespace: str, tag: str, duration: float,
                     pids: dict[str, list[int]]) -> tuple[float, dict[str, float]]:
    body = rc.PodBody(namespace)
    url = f"{cluster.rest_url}/api/v1/namespaces/{namespace}/pods"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    sessions = [rc.session(cluster.creds) for _ in range(CLIENTS)]
    try:
        async def call(w: int, i: int) -> None:
            async with sessions[w].post(url, data=body(f"{tag}-{w}-{i}"), headers=headers) as r:
                await r.read()
                if r.status != 201:
                    raise RuntimeError(f"create answered {r.status}: {(await r.read())[:300]!r}")

        await c.closed_loop(CLIENTS, 0.3, lambda w, i: call(w, -1 - i))  # warm up: connections and handshakes
        loop = asyncio.get_running_loop()
        meter = c.CpuMeter({"apiserver": pids["apiserver"], "redis": pids["redis"], "benchmark": [os.getpid()]})
        meter.start()
        started = loop.time()
        rate = await c.closed_loop(CLIENTS, duration, call)
        return rate, meter.per_op(rate * (loop.time() - started))
    finally:
        for s in sessions:
            await s.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    duration = c.pick(size, 0.5, 8.0)
    cluster = rc.RestCluster().start()
    try:
        async with Client(cluster.address, token=rc.TOKEN) as admin:
            await c.create_namespace(admin, "bench")
        grpc_rates, rest_rates, ratios, grpc_cpu, rest_cpu = [], [], [], [], []
        for r in range(repeats):
            g, g_cpu = await api_writes._api_rate(cluster.address, "bench", f"g{r}", duration, cluster.pids(),
                                                 token=rc.TOKEN)
            h, h_cpu = await _rest_rate(cluster, "bench", f"h{r}", duration, cluster.pids())
            grpc_rates.append(g)
            rest_rates.append(h)
            ratios.append(h / g)
            grpc_cpu.append(g_cpu)
            rest_cpu.append(h_cpu)
        return [
            c.row(NAME, f"gRPC pod creates/s ({CLIENTS} clients)", grpc_rates, "/s"),
            c.row(NAME, f"REST pod creates/s ({CLIENTS} clients, HTTPS/JSON)", rest_rates, "/s"),
            c.row(NAME, "REST / gRPC", ratios, "x", c.for_size(size, c.at_least(0.8, ">= 0.8x gRPC")),
                  duration_s=duration, body_bytes=len(rc.PodBody("bench")("h0-0-0"))),
            *c.cpu_rows(NAME, "gRPC create", grpc_cpu, "us"),
            *c.cpu_rows(NAME, "REST create", rest_cpu, "us"),
        ]
    finally:
        cluster.stop()
