"""scheduler: pods bound per second by one kubemu-scheduler process. N nodes registered through the SDK
(capacity cpu 32 / memory 256Gi / pods 110, Ready, a zone label), then M pods with requests, a nodeSelector that
matches every node and a zone topologySpreadConstraint (ScheduleAnyway); time from the first create to the
last binding seen on a watch. Goal (full: 1,000 nodes, 10,000 pods): >= 1,000 pods/s.

That figure is capped by how fast the pods can be created (the apiserver, on the same two cores, serves the
creates, the bindings and the watches). A second figure takes the creating out: the M pods are created while
the scheduler is stopped, then it is started, and the rate is taken from its first binding to its last (the
scheduler's own throughput, with its pending queue full, as upstream's scheduler_perf reports). The CPU each
process spends per pod in the first figure's run (apiserver, scheduler, Redis, the benchmark's clients) is
reported beside the rates."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from bench import common as c

NAME = "scheduler"
ZONES = 10
CLIENTS = 8

SPREAD = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
           "labelSelector": {"matchLabels": {"app": "bench"}}}]


def bench_pod(name: str, namespace: str) -> Any:
    return c.make_pod(name, namespace, nodeSelector={"bench": "yes"}, topologySpreadConstraints=SPREAD)


async def _register_nodes(client: Any, n: int) -> None:
    await c.run_workers(CLIENTS, range(n), lambda i: client.nodes.create(
        c.make_node(f"node-{i}", labels={"bench": "yes", "topology.kubernetes.io/zone": f"zone-{i % ZONES}"})))


async def _one_run(address: str, namespace: str, m: int,
                   pids: dict[str, list[int]]) -> tuple[float, float, dict[str, float]]:
    from kubemu.client.client import Client

    conns = [Client(address) for _ in range(CLIENTS)]
    admin = conns[0]
    try:
        await c.create_namespace(admin, namespace)
        rv = (await admin.pods.list(namespace)).resource_version
        bound: set[str] = set()
        done = asyncio.Event()
        last = 0.0

        async def watcher() -> None:
            nonlocal last
            async for o in c.watch_objects(admin.pods, namespace, rv):
                if o.spec.node_name and o.metadata.name not in bound:
                    bound.add(o.metadata.name)
                    if len(bound) >= m:
                        last = time.monotonic()
                        done.set()
                        return

        task = asyncio.create_task(watcher())
        try:
            pods = [bench_pod("x", namespace) for _ in range(CLIENTS)]
            meter = c.CpuMeter({"apiserver": pids["apiserver"], "scheduler": pids["scheduler"],
                                "redis": pids["redis"], "benchmark": [os.getpid()]}).start()
            start = time.monotonic()

            async def worker(w: int) -> None:
                for i in range(w, m, CLIENTS):
                    pods[w].metadata.name = f"p-{i}"
                    await conns[w].pods.create(pods[w])

            await asyncio.gather(*(worker(w) for w in range(CLIENTS)))
            created = time.monotonic()
            await asyncio.wait_for(done.wait(), max(120.0, m / 20))
            return m / (last - start), m / (created - start), meter.per_op(m)
        finally:
            task.cancel()
    finally:
        for cl in conns:
            await cl.close()


async def _queued_run(cluster: Any, namespace: str, m: int) -> float:
    """The pods created with the scheduler stopped, then bound by a scheduler started afresh: pods bound/s from
    its first binding to its last."""
    from kubemu.client.client import Client

    assert cluster.scheduler is not None
    cluster.scheduler.stop()
    conns = [Client(cluster.address) for _ in range(CLIENTS)]
    admin = conns[0]
    try:
        await c.create_namespace(admin, namespace)
        rv = (await admin.pods.list(namespace)).resource_version
        await c.run_workers(CLIENTS, range(m), lambda i: conns[i % CLIENTS].pods.create(bench_pod(f"q-{i}", namespace)))
        bound: list[float] = []
        names: set[str] = set()
        done = asyncio.Event()

        async def watcher() -> None:
            async for o in c.watch_objects(admin.pods, namespace, rv):
                if o.spec.node_name and o.metadata.name not in names:
                    names.add(o.metadata.name)
                    bound.append(time.monotonic())
                    if len(names) >= m:
                        done.set()
                        return

        task = asyncio.create_task(watcher())
        try:
            sched = cluster.start_scheduler()
            await asyncio.wait_for(done.wait(), max(120.0, m / 20))
            if not sched.alive():
                raise RuntimeError("scheduler exited:\n" + sched.tail())
        finally:
            task.cancel()
        return (m - 1) / (bound[-1] - bound[0]) if len(bound) > 1 else 0.0
    finally:
        for cl in conns:
            await cl.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    n = c.pick(size, 20, 1000)
    m = c.pick(size, 200, 10000)
    cluster = c.Cluster().start()
    try:
        async with Client(cluster.address) as admin:
            await _register_nodes(admin, n)
            sched = cluster.start_scheduler()
            await c.create_namespace(admin, "warm")
            await admin.pods.create(bench_pod("warm", "warm"))

            async def warm_bound() -> bool:
                if not sched.alive():
                    raise RuntimeError("scheduler exited:\n" + sched.tail())
                return bool((await admin.pods.get("warm", "warm")).spec.node_name)

            await c.until(warm_bound, 60, what="the warm-up pod bound")
        rates, create_rates, queued_rates, cpu = [], [], [], []
        for r in range(repeats):
            bound_rate, create_rate, per_pod = await _one_run(cluster.address, f"s{r}", m, cluster.pids())
            rates.append(bound_rate)
            create_rates.append(create_rate)
            cpu.append(per_pod)
        for r in range(repeats):
            queued_rates.append(await _queued_run(cluster, f"q{r}", m))
        return [
            c.row(NAME, f"pod creates/s while scheduling ({CLIENTS} clients)", create_rates, "/s"),
            c.row(NAME, f"pods bound/s ({n} nodes, {m} pods, first create -> last bound)", rates, "/s",
                  c.for_size(size, c.at_least(1000.0, ">= 1,000/s")), nodes=n, pods=m),
            *c.cpu_rows(NAME, "pod created and bound", cpu, "us"),
            c.row(NAME, f"pods bound/s, {m} pods created first (first -> last binding)", queued_rates, "/s",
                  nodes=n, pods=m),
        ]
    finally:
        cluster.stop()
