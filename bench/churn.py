"""churn: sustained pods/s created and reaching Running on the whole cluster (redis-server, apiserver,
scheduler, controllers, K kubelets). A driver keeps W pods in flight (created, not yet Running): each pod seen
Running is counted and deleted (grace 0), and a new one created, so the cluster holds a steady population.
Throughput = pods that reached Running in the measured window / window. Goal: >= 300/s. Every process shares the
two cores, so the CPU each component spends per pod over the window is reported beside the rate."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from bench import common as c
from bench.pod_startup import start_kubelets

NAME = "churn"
CREATORS = 4


async def _one_run(address: str, ns: str, window: int, warmup: float, seconds: float,
                   pids: dict[str, list[int]] | None = None) -> tuple[float, float, dict[str, float]]:
    from kubemu.client.client import Client

    conns = [Client(address) for _ in range(CREATORS)]
    admin = conns[0]
    try:
        await c.create_namespace(admin, ns)
        rv = (await admin.pods.list(ns)).resource_version
        slots = asyncio.Semaphore(window)
        running: list[float] = []
        seen: set[str] = set()
        deletes: set[asyncio.Task[Any]] = set()
        stop = asyncio.Event()

        async def delete(name: str) -> None:
            try:
                await conns[hash(name) % CREATORS].pods.delete(name, ns, grace_period_seconds=0)
            except Exception:  # already gone
                pass

        async def watcher() -> None:
            async for o in c.watch_objects(admin.pods, ns, rv):
                name = o.metadata.name
                if o.status.phase == "Running" and name not in seen:
                    seen.add(name)
                    running.append(time.monotonic())
                    slots.release()
                    t = asyncio.create_task(delete(name))
                    deletes.add(t)
                    t.add_done_callback(deletes.discard)

        async def creator(w: int) -> None:
            i = 0
            while not stop.is_set():
                await slots.acquire()
                await conns[w].pods.create(c.make_pod(f"c{w}-{i}", ns, annotations=dict(c.NO_PULL)))
                i += 1

        watch_task = asyncio.create_task(watcher())
        tasks = [asyncio.create_task(creator(w)) for w in range(CREATORS)]
        try:
            await asyncio.sleep(warmup)
            meter = c.CpuMeter({**(pids or {}), "benchmark": [os.getpid()]}).start()
            t0, n0 = time.monotonic(), len(running)
            await asyncio.sleep(seconds)
            t1, n1 = time.monotonic(), len(running)
            per_pod = meter.per_op(n1 - n0)
        finally:
            stop.set()
            for t in (*tasks, watch_task):
                t.cancel()
            await asyncio.gather(*tasks, watch_task, return_exceptions=True)
            await asyncio.gather(*deletes, return_exceptions=True)
        return (n1 - n0) / (t1 - t0), float(n1), per_pod
    finally:
        for cl in conns:
            await cl.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    k = c.pick(size, 2, 10)
    window = c.pick(size, 20, 200)
    warmup = c.pick(size, 1.0, 5.0)
    seconds = c.pick(size, 2.0, 30.0)
    cluster = c.Cluster().start()
    rates, cpu = [], []
    try:
        async with Client(cluster.address) as admin:
            cluster.start_scheduler()
            cluster.start_controllers()
            await start_kubelets(cluster, k, admin)
        for r in range(repeats):
            rate, _, per_pod = await _one_run(cluster.address, f"churn{r}", window, warmup, seconds, cluster.pids())
            rates.append(rate)
            cpu.append(per_pod)
        return [c.row(NAME, f"pods/s created -> Running ({k} kubelets, {window} in flight, {seconds:.0f} s)",
                      rates, "/s", c.for_size(size, c.at_least(300.0, ">= 300/s")), kubelets=k, window=window),
                *c.cpu_rows(NAME, "pod Running", cpu, "us")]
    finally:
        cluster.stop()
