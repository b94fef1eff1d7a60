"""memory: RSS of an idle kubelet with 0 and with 30 pods (goal <= 60 MB); Redis bytes per pod (INFO memory
used_memory delta / pods, which includes the pod's watch event in the stream; goal <= 4 KB); apiserver RSS delta
per pod (goal <= 4 KB)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from bench import common as c
from bench.pod_startup import start_kubelets

NAME = "memory"
MB = 1024 * 1024


def redis_used_memory(port: int) -> int:
    """INFO memory over a bare socket (RESP), so that bench needs no Redis client for it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            data += chunk
            if not chunk or (data.startswith(b"$") and b"\r\n" in data and
                             len(data) >= int(data[1:data.index(b"\r\n")]) + data.index(b"\r\n") + 4):
                break
    for line in data.decode().splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    raise RuntimeError("no used_memory in INFO memory")


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    stored = c.pick(size, 100, 3000)
    idle, loaded, redis_per_pod, api_per_pod = [], [], [], []
    for _ in range(repeats):
        cluster = c.Cluster().start()
        try:
            async with Client(cluster.address) as admin:
                await start_kubelets(cluster, 1, admin)
                kubelet = cluster.kubelets["node-0"]
                await asyncio.sleep(c.pick(size, 1.0, 3.0))
                idle.append(c.rss_bytes(kubelet.pid) / MB)
                await c.create_namespace(admin, "mem")
                for i in range(30):
                    await admin.pods.create(c.make_pod(f"k-{i}", "mem", node="node-0", annotations=dict(c.NO_PULL)))

                async def running() -> bool:
                    pods = (await admin.pods.list("mem")).items
                    return sum(p.status.phase == "Running" for p in pods) == 30

                await c.until(running, 60, what="30 pods Running")
                await asyncio.sleep(c.pick(size, 1.0, 3.0))
                loaded.append(c.rss_bytes(kubelet.pid) / MB)

                # Store and apiserver cost per pod: pods bound to a node without a kubelet stay as written.
                kubelet.kill()
                await c.create_namespace(admin, "store")
                await asyncio.sleep(0.5)
                assert cluster.apiserver is not None
                redis0 = redis_used_memory(cluster.redis.port)
                api0 = c.rss_bytes(cluster.apiserver.pid)
                await c.run_workers(8, range(stored), lambda i: admin.pods.create(
                    c.make_pod(f"s-{i}", "store", node="ghost")))
                await asyncio.sleep(1)
                redis_per_pod.append((redis_used_memory(cluster.redis.port) - redis0) / stored)
                api_per_pod.append((c.rss_bytes(cluster.apiserver.pid) - api0) / stored)
        finally:
            cluster.stop()
    return [
        c.row(NAME, "idle kubelet RSS, 0 pods", idle, "MB", c.at_most(60, "<= 60 MB")),
        c.row(NAME, "idle kubelet RSS, 30 pods", loaded, "MB", c.at_most(60, "<= 60 MB")),
        c.row(NAME, f"Redis bytes per pod ({stored} pods)", redis_per_pod, "bytes", c.at_most(4096, "<= 4 KB")),
        c.row(NAME, f"apiserver RSS delta per pod ({stored} pods)", api_per_pod, "bytes",
              c.at_most(4096, "<= 4 KB")),
    ]
