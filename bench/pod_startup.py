"""pod-startup: create -> Running seen by a watcher, with zero image pull time (annotation
sim.kubemu.io/image-pull-seconds: "0"): K kubelets, the scheduler, P pods created at R/s (open loop).
Goal (full: 30 kubelets, 3,000 pods at 100/s): p99 <= 1 s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench import common as c

NAME = "pod-startup"


async def start_kubelets(cluster: c.Cluster, k: int, admin: Any, *extra: str, wait: float = 120.0) -> None:
    for i in range(k):
        cluster.start_kubelet(f"node-{i}", *extra)

    async def all_ready() -> bool:
        for name, proc in cluster.kubelets.items():
            if not proc.alive():
                raise RuntimeError(f"kubelet {name} exited:\n" + proc.tail())
        ready = await asyncio.gather(*(c.node_ready(admin, name) for name in cluster.kubelets))
        return all(ready)

    await c.until(all_ready, wait, interval=0.5, what=f"{k} kubelets Ready")


async def _one_run(address: str, ns: str, p: int, rate: float) -> list[float]:
    """Seconds from each create to its pod seen Running (pods never seen Running are left out)."""
    from kubemu.client.client import Client

    creators = [Client(address) for _ in range(4)]
    admin = creators[0]
    sent: dict[str, float] = {}
    running: dict[str, float] = {}
    try:
        await c.create_namespace(admin, ns)
        rv = (await admin.pods.list(ns)).resource_version

        async def watcher() -> None:
            async with Client(address) as wc:
                async for o in c.watch_objects(wc.pods, ns, rv):
                    if o.status.phase == "Running" and o.metadata.name not in running:
                        running[o.metadata.name] = time.monotonic()

        async def create(i: int) -> None:
            name = f"p-{i}"
            sent[name] = time.monotonic()
            await creators[i % len(creators)].pods.create(c.make_pod(name, ns, annotations=dict(c.NO_PULL)))

        task = asyncio.create_task(watcher())
        try:
            await asyncio.sleep(0.2)
            loop = asyncio.get_running_loop()
            start = loop.time()
            inflight = []
            for i in range(p):
                delay = start + i / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                inflight.append(asyncio.create_task(create(i)))
            await asyncio.gather(*inflight)
            try:
                await c.until(lambda: len(running) >= p, 60, what="all pods Running")
            except TimeoutError:
                pass
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        for cl in creators:
            await cl.close()
    return [running[n] - sent[n] for n in running if n in sent]


async def _delete_all(address: str, ns: str) -> None:
    """Delete the run's pods at once (grace 0) and wait until the API holds none: each repeat starts on empty
    nodes, as the first does, instead of on the pods of the runs before it."""
    from kubemu.client.client import Client

    async with Client(address) as admin:
        names = [o.metadata.name for o in (await admin.pods.list(ns)).items]
        await c.run_workers(8, names, lambda n: admin.pods.delete(n, ns, grace_period_seconds=0))

        async def empty() -> bool:
            return not (await admin.pods.list(ns)).items

        await c.until(empty, 60, what=f"the pods of {ns} deleted")


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    k = c.pick(size, 3, 30)
    p = c.pick(size, 40, 3000)
    rate = c.pick(size, 20.0, 100.0)
    cluster = c.Cluster().start()
    p50s, p99s, lost = [], [], []
    try:
        async with Client(cluster.address) as admin:
            cluster.start_scheduler()
            # Sized so that every node can hold its share (up to its 110 pods of 100m CPU and 128Mi): the
            # figure is the startup latency, not how long pods wait for capacity that never comes.
            await start_kubelets(cluster, k, admin, "--cpu", "16", "--memory", "32Gi")
        for r in range(repeats):
            lat = await _one_run(cluster.address, f"start{r}", p, rate)
            p50s.append(c.percentile(lat, 50))
            p99s.append(c.percentile(lat, 99) if len(lat) == p else float("inf"))
            lost.append(p - len(lat))
            if r + 1 < repeats:
                await _delete_all(cluster.address, f"start{r}")  # the next repeat finds the nodes empty
        return [
            c.row(NAME, "create -> Running p50", p50s, "s"),
            c.row(NAME, f"create -> Running p99 ({k} kubelets, {p} pods at {rate:.0f}/s)", p99s, "s",
                  c.for_size(size, c.at_most(1.0, "<= 1 s")), kubelets=k, pods=p, rate=rate, never_running=max(lost)),
        ]
    finally:
        cluster.stop()
