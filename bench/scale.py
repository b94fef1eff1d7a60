"""Two benchmarks of the kubelet's scale mode (`kubemu-kubelet --nodes K --node-prefix P`, many nodes in one
process); both skip, saying why, while `python -m kubelet.main --help` does not list `--nodes`.

memory-per-node: RSS of one scale-mode kubelet process with K=1 and with K=50 nodes; (RSS50 - RSS1) / 49.
Goal: <= 1 MB per extra node.

scale: N nodes over several scale-mode processes plus P pods bound to them, held for D; a watch on the node
Leases counts late renewals (consecutive renewTime gaps > 1.5 x the renew interval) and a watch on the Nodes
counts Ready flaps (Ready leaving True). Full: 1,000 nodes, 30,000 pods, 10 min on the default profile; tiny:
20 nodes, 100 pods, 10 s on the fast profile. Goal: no late renewal, no flap."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from typing import Any

from bench import common as c

MB = 1024 * 1024
NODES_PER_PROCESS = 100
CLIENTS = 8


def scale_mode_missing() -> str | None:
    try:
        out = subprocess.run([sys.executable, "-m", "kubelet.main", "--help"], capture_output=True, text=True,
                             timeout=60, cwd=c.REPO).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return f"cannot run kubelet.main --help: {e}"
    if "--nodes" not in out:
        return "the kubelet has no scale mode yet (`python -m kubelet.main --help` does not list --nodes)"
    return None


async def _ready_with_prefix(client: Any, prefix: str) -> int:
    nodes = (await client.nodes.list()).items
    return sum(1 for n in nodes if n.metadata.name.startswith(prefix) and any(
        x.type == "Ready" and x.status == "True" for x in n.status.conditions))


async def _group_rss(cluster: c.Cluster, admin: Any, prefix: str, k: int) -> float:
    proc = cluster.start_kubelet_group(prefix, k)

    async def ready() -> bool:
        if not proc.alive():
            raise RuntimeError("scale-mode kubelet exited:\n" + proc.tail())
        return await _ready_with_prefix(admin, prefix) >= k

    await c.until(ready, 120, interval=0.5, what=f"{k} nodes Ready")
    await asyncio.sleep(3)
    rss = c.rss_bytes(proc.pid) / MB
    proc.kill()
    return rss


async def memory_per_node(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    name = "memory-per-node"
    big = 50
    one, many, per = [], [], []
    cluster = c.Cluster().start()
    try:
        async with Client(cluster.address) as admin:
            for r in range(repeats):
                a = await _group_rss(cluster, admin, f"one{r}-", 1)
                b = await _group_rss(cluster, admin, f"many{r}-", big)
                one.append(a)
                many.append(b)
                per.append((b - a) * 1024 / (big - 1))
    finally:
        cluster.stop()
    return [
        c.row(name, "scale-mode kubelet RSS, 1 node", one, "MB"),
        c.row(name, f"scale-mode kubelet RSS, {big} nodes", many, "MB"),
        c.row(name, "RSS per extra node", per, "KB", c.at_most(1024.0, "<= 1 MB")),
    ]


async def _scale_once(cluster: c.Cluster, prefix: str, n: int, p: int, hold: float,
                      interval: float) -> tuple[int, int, int]:
    """(pods Running, late renewals, Ready flaps) for one hold."""
    from kubemu.api.serialization import time_value
    from kubemu.client.client import Client

    async with Client(cluster.address) as admin:
        cluster.start_controllers()
        per_proc = min(NODES_PER_PROCESS, n)
        for first in range(1, n + 1, per_proc):
            cluster.start_kubelet_group(prefix, min(per_proc, n - first + 1), first)

        async def ready() -> bool:
            for k in cluster.kubelets.values():
                if not k.alive():
                    raise RuntimeError("scale-mode kubelet exited:\n" + k.tail())
            return await _ready_with_prefix(admin, prefix) >= n

        await c.until(ready, max(120.0, n / 5), interval=1.0, what=f"{n} nodes Ready")
        nodes = sorted(x.metadata.name for x in (await admin.nodes.list()).items
                       if x.metadata.name.startswith(prefix))
        await c.create_namespace(admin, "scale")
        await c.run_workers(CLIENTS, range(p), lambda i: admin.pods.create(
            c.make_pod(f"p-{i}", "scale", node=nodes[i % len(nodes)], annotations=dict(c.NO_PULL))))

        async def running() -> int:
            return sum(x.status.phase == "Running" for x in (await admin.pods.list("scale")).items)

        async def all_running() -> bool:
            return await running() >= p

        try:
            await c.until(all_running, max(60.0, p / 50), interval=2.0, what=f"{p} pods Running")
        except TimeoutError:
            pass
        running_count = await running()

        # Hold: count late renewals and Ready flaps.
        late = 0
        flap = 0
        last_renew: dict[str, float] = {}
        lease_rv = (await admin.leases.list("kube-node-lease")).resource_version
        node_list = await admin.nodes.list()
        ready_state = {x.metadata.name: any(cnd.type == "Ready" and cnd.status == "True"
                                            for cnd in x.status.conditions) for x in node_list.items}

        async def watch_leases() -> None:
            nonlocal late
            async for lease in c.watch_objects(admin.leases, "kube-node-lease", lease_rv):
                if not lease.metadata.name.startswith(prefix):
                    continue
                t = time_value(lease.spec.renew_time)
                prev = last_renew.get(lease.metadata.name)
                if prev is not None and t - prev > interval * 1.5:
                    late += 1
                last_renew[lease.metadata.name] = t

        async def watch_nodes() -> None:
            nonlocal flap
            async for node in c.watch_objects(admin.nodes, None, node_list.resource_version):
                is_ready = any(x.type == "Ready" and x.status == "True" for x in node.status.conditions)
                if ready_state.get(node.metadata.name) and not is_ready:
                    flap += 1
                ready_state[node.metadata.name] = is_ready

        tasks = [asyncio.create_task(watch_leases()), asyncio.create_task(watch_nodes())]
        started = time.time()
        try:
            await asyncio.sleep(hold)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        # A lease that stopped being renewed altogether is late too.
        now = time.time()
        late += sum(1 for t in last_renew.values() if now - max(t, started) > interval * 1.5)
        late += sum(1 for x in nodes if x not in last_renew and hold > interval * 1.5)
        return running_count, late, flap


async def scale(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu import config as cfg

    name = "scale"
    n = c.pick(size, 20, 1000)
    p = c.pick(size, 100, 30000)
    hold = c.pick(size, 10.0, 600.0)
    profile = c.pick(size, "fast", "default")
    interval = cfg.profile(profile).node.lease_renew_interval_seconds
    lates, flaps, running_counts = [], [], []
    for r in range(repeats):
        cluster = c.Cluster(profile=profile).start()
        try:
            running, late, flap = await _scale_once(cluster, f"s{r}-", n, p, hold, interval)
        finally:
            cluster.stop()
        running_counts.append(float(running))
        lates.append(float(late))
        flaps.append(float(flap))
    return [
        c.row(name, f"pods Running ({n} nodes, {p} pods)", running_counts, ""),
        c.row(name, f"late lease renewals over {hold:.0f} s (gap > {interval * 1.5:g} s)", lates, "",
              c.Goal("0", lambda v: v == 0), nodes=n, pods=p, hold_s=hold, profile=profile),
        c.row(name, f"Ready flaps over {hold:.0f} s", flaps, "", c.Goal("0", lambda v: v == 0)),
    ]


async def run(size: str, repeats: int, which: str = "scale") -> list[dict[str, Any]]:
    reason = scale_mode_missing()
    if reason:
        raise c.Skip(reason)
    if which == "memory-per-node":
        return await memory_per_node(size, repeats)
    return await scale(size, repeats)
