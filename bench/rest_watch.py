"""rest-watch: p99 latency from an acknowledged write to its receipt on a watching HTTPS client, beside watch-fanout's
gRPC watches in the same run, alternating: the same writer process (pods pre-bound over K node names at a target
rate), K watches filtered `spec.nodeName=node-i` plus 5 unfiltered. Goal: HTTP p99 <= 1.5 x gRPC p99.

Each HTTP watch is one keep-alive TLS connection reading the chunked stream line by line; a line is stamped on
receipt and parsed only after the run, so the client adds its read and nothing else to the latency it measures:
its CPU per event received is reported (21 us at full size on 2026-12-07 ~17:10)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any
from urllib.parse import urlencode

from bench import common as c
from bench import rest_common as rc
from bench import watch_fanout

NAME = "rest-watch"
UNFILTERED = watch_fanout.UNFILTERED


async def _rest_run(cluster: rc.RestCluster, ns: str, rate: float, count: int, nodes: int,
                    seconds: float) -> tuple[list[float], float, int, float, int]:
    """watch_fanout._one_run with HTTP watches: latencies in ms, the achieved write rate, deliveries never made,
    this process's CPU per delivery (us) while the writer ran (what an HTTP watcher costs per line), and how many
    times a watch had to start again."""
    from kubemu.client.client import Client

    async with Client(cluster.address, token=rc.TOKEN) as admin, rc.session(cluster.creds, nodes + UNFILTERED) as http:
        await c.create_namespace(admin, ns)
        rv = (await admin.pods.list(ns)).resource_version
        received: list[list[tuple[float, bytes]]] = [[] for _ in range(nodes + UNFILTERED)]
        url = f"{cluster.rest_url}/api/v1/namespaces/{ns}/pods"

        retries = [0]

        async def watch(i: int, selector: str) -> None:
            """Re-watches from the last revision it saw when the stream ends or sends an ERROR event (as a
            reflector does): a hundred watches starting at once can find the apiserver's Redis pool full (503)."""
            query = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "3600"}
            if selector:
                query["fieldSelector"] = selector
            got = received[i]
            while True:
                async with http.get(f"{url}?{urlencode(query)}") as r:
                    if r.status != 200:
                        raise RuntimeError(f"watch answered {r.status}: {(await r.read())[:300]!r}")
                    async for line in r.content:
                        if line.startswith(b'{"type":"ERROR"'):
                            break
                        got.append((time.monotonic(), line))
                retries[0] += 1
                if got:
                    query["resourceVersion"] = json.loads(got[-1][1])["object"]["metadata"]["resourceVersion"]
                await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(watch(i, f"spec.nodeName=node-{i}")) for i in range(nodes)]
        tasks += [asyncio.create_task(watch(nodes + j, "")) for j in range(UNFILTERED)]
        try:
            await c.run_workers(8, range(nodes), lambda i: admin.pods.create(
                c.make_pod(f"warm-{i}", ns, node=f"node-{i}")))
            def warm() -> bool:
                for t in tasks:  # a watch that failed says why, rather than leaving the wait to time out
                    if t.done() and t.exception() is not None:
                        raise RuntimeError(f"an HTTP watch failed: {t.exception()!r}")
                return all(len(x) >= 1 for x in received[:nodes]) and all(len(x) >= nodes for x in received[nodes:])

            await c.until(warm, 30, what="warm-up deliveries")
            for x in received:
                x.clear()
            meter = c.CpuMeter({"benchmark": [os.getpid()]}).start()
            result = await watch_fanout.run_writer(cluster.address, ns, rate, count, nodes, seconds, rc.TOKEN)
            acks = {(name, rv_): t for name, rv_, t in result["acks"]}
            expected = len(acks) * (1 + UNFILTERED)
            try:
                await c.until(lambda: sum(len(x) for x in received) >= expected, 30, interval=0.1,
                              what="all deliveries")
            except TimeoutError:
                pass  # counted as undelivered below
            client_cpu = meter.per_op(sum(len(x) for x in received)).get("benchmark", 0.0)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    lat = []
    for x in received:
        for got, line in x:
            meta = json.loads(line)["object"].get("metadata", {})
            sent = acks.get((meta.get("name"), meta.get("resourceVersion")))
            if sent is not None:
                lat.append((got - sent) * 1000)
    return lat, len(acks) / result["elapsed"], expected - len(lat), client_cpu, retries[0]


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    rate = c.pick(size, 100.0, 1000.0)
    nodes = c.pick(size, 10, 100)
    seconds = c.pick(size, 1.0, 10.0)
    count = int(rate * seconds)
    cluster = rc.RestCluster().start()
    figures: dict[str, dict[str, list[float]]] = {
        face: {"p50": [], "p99": [], "rate": [], "lost": []} for face in ("gRPC", "HTTP")}
    ratios: list[float] = []
    client: list[float] = []
    rewatches: list[int] = []
    try:
        for r in range(repeats):
            for face in ("gRPC", "HTTP"):
                if face == "gRPC":
                    lat, achieved, lost = await watch_fanout._one_run(
                        cluster.address, f"g{r}", rate, count, nodes, seconds, token=rc.TOKEN)
                else:
                    lat, achieved, lost, per_line, again = await _rest_run(cluster, f"h{r}", rate, count, nodes,
                                                                           seconds)
                    client.append(per_line)
                    rewatches.append(again)
                f = figures[face]
                f["p50"].append(c.percentile(lat, 50))
                f["p99"].append(c.percentile(lat, 99))
                f["rate"].append(achieved)
                f["lost"].append(float(lost))
            ratios.append(figures["HTTP"]["p99"][-1] / max(figures["gRPC"]["p99"][-1], 1e-9))
        rows = []
        for face, f in figures.items():
            rows += [
                c.row(NAME, f"{face}: writes/s achieved (target {rate:.0f}/s, {nodes} nodes)", f["rate"], "/s"),
                c.row(NAME, f"{face}: delivery latency p50", f["p50"], "ms"),
                c.row(NAME, f"{face}: delivery latency p99 ({nodes} filtered + {UNFILTERED} unfiltered watches)",
                      f["p99"], "ms", undelivered=max(f["lost"])),
            ]
        rows.append(c.row(NAME, "CPU per HTTP watch event received: benchmark", client, "us",
                          rewatches=max(rewatches)))
        rows.append(c.row(NAME, "HTTP p99 / gRPC p99", ratios, "x", c.for_size(size, c.at_most(1.5, "<= 1.5x gRPC")),
                          writes=count))
        return rows
    finally:
        cluster.stop()
