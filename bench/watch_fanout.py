"""watch-fanout: p99 latency from an acknowledged write to its delivery on a watch. A writer process creates
pods at a target rate, pre-bound (spec.nodeName) over K node names; this process holds K watches each filtered
`spec.nodeName=node-i` plus 5 unfiltered ones. Latency = receive time - ack time (CLOCK_MONOTONIC, shared by
the processes), matched by (name, resourceVersion). Goal: p99 <= 20 ms at 1,000 writes/s over 100 nodes."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common as c

NAME = "watch-fanout"
UNFILTERED = 5
WRITER_CHANNELS = 4
MAX_IN_FLIGHT = 256


async def writer(address: str, namespace: str, rate: float, count: int, nodes: int, out: Path,
                 token: str | None = None) -> None:
    """Open loop: write i is issued at start + i/rate whatever the earlier ones are doing (bounded in flight)."""
    from kubemu.client.client import Client

    clients = [Client(address, token=token) for _ in range(WRITER_CHANNELS)]
    acks: list[tuple[str, str, float]] = []
    sem = asyncio.Semaphore(MAX_IN_FLIGHT)
    loop = asyncio.get_running_loop()

    async def one(i: int) -> None:
        try:
            pod = c.make_pod(f"w-{i}", namespace, node=f"node-{i % nodes}")
            created = await clients[i % WRITER_CHANNELS].pods.create(pod)
            acks.append((created.metadata.name, created.metadata.resource_version, time.monotonic()))
        finally:
            sem.release()

    tasks = []
    start = loop.time()
    for i in range(count):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await sem.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    out.write_text(json.dumps({"acks": acks, "elapsed": elapsed}))  # noqa: ASYNC240 - once, at the end
    for cl in clients:
        await cl.close()


async def run_writer(address: str, ns: str, rate: float, count: int, nodes: int, seconds: float,
                     token: str | None = None) -> dict[str, Any]:
    """Run `writer` in a process of its own (so its CPU is not the watchers') and return what it wrote down: the
    acknowledgement time of each write (`acks`: name, resourceVersion, time) and `elapsed`."""
    out = Path(tempfile.mkstemp(prefix="kubemu-bench-acks-", suffix=".json")[1])
    w = c.Proc("writer", c.python_module(
        "bench.watch_fanout", "--writer", "--address", address, "--namespace", ns,
        "--rate", str(rate), "--count", str(count), "--nodes", str(nodes), "--out", str(out),
        *(("--token", token) if token else ()))).start()
    try:
        await c.until(lambda: not w.alive(), seconds * 10 + 60, interval=0.2, what="writer")
        if w.proc is None or w.proc.returncode != 0:
            raise RuntimeError("writer failed:\n" + w.tail())
        result: dict[str, Any] = json.loads(out.read_text())  # noqa: ASYNC240 - a small file, after the fact
        return result
    finally:
        w.kill()
        out.unlink(missing_ok=True)  # noqa: ASYNC240


async def _one_run(address: str, ns: str, rate: float, count: int, nodes: int,
                   seconds: float, token: str | None = None) -> tuple[list[float], float, int]:
    """Latencies in ms, the achieved write rate, and the deliveries that never came."""
    from kubemu.client.client import Client

    async with Client(address, token=token) as admin:
        await c.create_namespace(admin, ns)
        rv = (await admin.pods.list(ns)).resource_version
        watch_clients = [Client(address, token=token) for _ in range(4)]
        received: list[list[tuple[str, str, float]]] = [[] for _ in range(nodes + UNFILTERED)]

        async def watch(i: int, selector: str) -> None:
            cl = watch_clients[i % len(watch_clients)]
            got = received[i]
            async for o in c.watch_objects(cl.pods, ns, rv, field_selector=selector):
                got.append((o.metadata.name, o.metadata.resource_version, time.monotonic()))

        tasks = [asyncio.create_task(watch(i, f"spec.nodeName=node-{i}")) for i in range(nodes)]
        tasks += [asyncio.create_task(watch(nodes + j, "")) for j in range(UNFILTERED)]
        try:
            # Warm up: one pod per node, seen by every watch, before the measured writes.
            await c.run_workers(8, range(nodes), lambda i: admin.pods.create(
                c.make_pod(f"warm-{i}", ns, node=f"node-{i}")))
            await c.until(lambda: all(len(x) >= 1 for x in received[:nodes]) and all(
                len(x) >= nodes for x in received[nodes:]), 30, what="warm-up deliveries")
            for x in received:
                x.clear()
            result = await run_writer(address, ns, rate, count, nodes, seconds, token)
            acks = {(name, rv_): t for name, rv_, t in result["acks"]}
            expected = len(acks) * (1 + UNFILTERED)
            try:
                await c.until(lambda: sum(len(x) for x in received) >= expected, 30, interval=0.1,
                              what="all deliveries")
            except TimeoutError:
                pass  # counted as undelivered below
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for cl in watch_clients:
                await cl.close()
    lat = [(t - acks[(name, rv_)]) * 1000 for x in received for name, rv_, t in x if (name, rv_) in acks]
    return lat, len(acks) / result["elapsed"], expected - len(lat)


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    rate = c.pick(size, 100.0, 1000.0)
    nodes = c.pick(size, 10, 100)
    seconds = c.pick(size, 1.0, 10.0)
    count = int(rate * seconds)
    cluster = c.Cluster().start()
    p50s, p99s, maxes, rates, lost = [], [], [], [], []
    try:
        for r in range(repeats):
            lat, achieved, undelivered = await _one_run(cluster.address, f"fan{r}", rate, count, nodes, seconds)
            p50s.append(c.percentile(lat, 50))
            p99s.append(c.percentile(lat, 99))
            maxes.append(max(lat) if lat else 0.0)
            rates.append(achieved)
            lost.append(float(undelivered))
        goal = "<= 20 ms at 1,000 writes/s" if size == "full" else f"<= 20 ms (tiny: {rate:.0f} writes/s)"
        # The latency goal holds at the target rate: a writer that fell short (the apiserver could not take the
        # rate) does not meet it, however low the latency at the rate it did reach.
        reached = min(rates) >= 0.9 * rate
        latency_goal = c.at_most(20.0, goal) if reached else c.Goal(goal + " (rate not reached)", lambda _v: False)
        return [
            c.row(NAME, f"writes/s achieved (target {rate:.0f}/s, {nodes} nodes)", rates, "/s",
                  c.at_least(0.9 * rate, f">= {0.9 * rate:.0f}/s (90% of the target)")),
            c.row(NAME, "delivery latency p50", p50s, "ms"),
            c.row(NAME, f"delivery latency p99 ({nodes} filtered + {UNFILTERED} unfiltered watches)", p99s, "ms",
                  latency_goal, writes=count, max_ms=max(maxes), undelivered=max(lost)),
        ]
    finally:
        cluster.stop()


def main() -> None:
    p = argparse.ArgumentParser(prog="bench.watch_fanout")
    p.add_argument("--writer", action="store_true", required=True)
    p.add_argument("--address", required=True)
    p.add_argument("--namespace", required=True)
    p.add_argument("--rate", type=float, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--nodes", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--token", help="bearer token of an apiserver with a token file")
    a = p.parse_args()
    asyncio.run(writer(a.address, a.namespace, a.rate, a.count, a.nodes, Path(a.out), a.token))


if __name__ == "__main__":
    main()
