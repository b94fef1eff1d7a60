"""rest-list: one namespace of 10,000 pods (a few hundred at tiny size) listed over HTTPS as JSON and as a Table
(`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, kubectl's `get pods`), beside the same list over gRPC:
seconds per list and the apiserver's CPU per list, alternating the three forms. Reported, no goal.

The client reads each answer's bytes on one keep-alive connection and does not parse them: its CPU per list (the
"benchmark" rows) is TLS and reading, 20-30 ms for the 9.9 MB JSON list of 10,000 pods against the apiserver's
~970 ms, 0-10 ms for the Table (2026-12-07 ~17:00; /proc counts CPU in 10 ms ticks)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import common as c
from bench import rest_common as rc

NAME = "rest-list"
NAMESPACE = "bench"


async def _fill(cluster: rc.RestCluster, count: int) -> None:
    from kubemu.client.client import Client

    clients = [Client(cluster.address, token=rc.TOKEN) for _ in range(8)]
    try:
        await c.create_namespace(clients[0], NAMESPACE)
        pods = [c.make_pod("x", NAMESPACE) for _ in clients]
        it = iter(range(count))

        async def worker(w: int) -> None:
            for i in it:
                pods[w].metadata.name = f"pod-{i:05d}"
                await clients[w].pods.create(pods[w])

        await asyncio.gather(*(worker(w) for w in range(len(clients))))
    finally:
        for cl in clients:
            await cl.close()


async def _timed(call: Callable[[], Awaitable[int]], times: int,
                 meter: c.CpuMeter) -> tuple[float, dict[str, float], int]:
    """Seconds per call over `times` calls back to back, the CPU they took per call and process (us: /proc counts
    in 10 ms ticks, so a small list is repeated), and how many bytes or items one returned."""
    meter.start()
    started = time.monotonic()
    for _ in range(times):
        size = await call()
    return (time.monotonic() - started) / times, meter.per_op(times), size


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    count = c.pick(size, 300, 10_000)
    rounds = repeats * c.pick(size, 2, 3)
    batch = c.pick(size, 10, 1)
    cluster = rc.RestCluster().start()
    try:
        await _fill(cluster, count)
        url = f"{cluster.rest_url}/api/v1/namespaces/{NAMESPACE}/pods"
        forms = {"JSON": {"Accept": "application/json"}, "Table": {"Accept": f"{rc.TABLE},application/json"}}
        seconds: dict[str, list[float]] = {f: [] for f in (*forms, "gRPC")}
        cpu: dict[str, list[dict[str, float]]] = {f: [] for f in seconds}
        sizes: dict[str, int] = {}
        pids = cluster.pids()
        meter = c.CpuMeter({"apiserver": pids["apiserver"], "redis": pids["redis"], "benchmark": [os.getpid()]})
        async with rc.session(cluster.creds) as http, Client(cluster.address, token=rc.TOKEN) as grpc_client:
            def rest_call(headers: dict[str, str]) -> Callable[[], Awaitable[int]]:
                async def call() -> int:
                    async with http.get(url, headers=headers) as r:
                        body = await r.read()
                        if r.status != 200:
                            raise RuntimeError(f"list answered {r.status}: {body[:300]!r}")
                        return len(body)
                return call

            async def grpc_call() -> int:
                return len((await grpc_client.pods.list(NAMESPACE)).items)

            calls = {**{f: rest_call(h) for f, h in forms.items()}, "gRPC": grpc_call}
            for call in calls.values():  # warm up: the connections, the Table's columns, the apiserver's caches
                await call()
            for _ in range(rounds):
                for form, call in calls.items():
                    took, per, n = await _timed(call, batch, meter)
                    seconds[form].append(took)
                    cpu[form].append(per)
                    sizes[form] = n
        if sizes["gRPC"] != count:
            raise RuntimeError(f"gRPC listed {sizes['gRPC']} pods of {count}")
        rows = []
        for form in seconds:
            what = f"{count:,} pods" if form == "gRPC" else f"{count:,} pods, {sizes[form]:,} B"
            rows.append(c.row(NAME, f"seconds per list as {form} ({what})", seconds[form], "s"))
        for form in seconds:
            rows += c.cpu_rows(NAME, f"{form} list", cpu[form], "us")
        return rows
    finally:
        cluster.stop()
