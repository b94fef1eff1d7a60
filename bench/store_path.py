"""store-path: the apiserver's write path (pod creates/s over gRPC, one client sequential and 8 concurrent)
beside the bare Redis Lua write it ends in (EVALSHA of a small create-if-absent script with the revision
counter, from the same redis-py asyncio client the apiserver uses: sequential, and pipelined), in the same
run against the same redis-server. Reported as ratios: what the layers above Redis cost."""

from __future__ import annotations

from typing import Any

from bench import common as c

NAME = "store-path"
CLIENTS = 8
PIPELINE = 64

# The core of the apiserver's create script: precondition, revision, object, index, event.
CAS = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local rev = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'rv', rev)
redis.call('ZADD', KEYS[3], 0, KEYS[1])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', 10000, rev .. '-0', 't', 'ADDED', 'd', ARGV[1])
return rev
"""


async def _redis_rates(url: str, data: bytes, duration: float, tag: str) -> tuple[float, float]:
    import redis.asyncio as aioredis

    r: Any = aioredis.Redis.from_url(url.rsplit("/", 1)[0] + "/1", decode_responses=False)
    try:
        sha = await r.script_load(CAS)

        async def one(w: int, i: int) -> None:
            await r.evalsha(sha, 4, f"b:{tag}:s:{i}", "b:rev", "b:idx", "b:ev", data)

        sequential = await c.closed_loop(1, duration, one)

        async def batch(w: int, i: int) -> None:
            pipe = r.pipeline(transaction=False)
            for j in range(PIPELINE):
                pipe.evalsha(sha, 4, f"b:{tag}:p:{i}:{j}", "b:rev", "b:idx", "b:ev", data)
            await pipe.execute()

        pipelined = await c.closed_loop(1, duration, batch) * PIPELINE
        await r.flushdb()
        return sequential, pipelined
    finally:
        await r.aclose()


async def _api_rate(address: str, clients: int, duration: float, tag: str) -> float:
    from kubemu.client.client import Client

    conns = [Client(address) for _ in range(clients)]
    pods = [c.make_pod("x", "bench") for _ in range(clients)]
    try:
        async def call(w: int, i: int) -> None:
            pods[w].metadata.name = f"{tag}-{w}-{i}"
            await conns[w].pods.create(pods[w])

        await c.closed_loop(clients, 0.2, lambda w, i: call(w, -1 - i))
        return await c.closed_loop(clients, duration, call)
    finally:
        for cl in conns:
            await cl.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    from kubemu.client.client import Client

    duration = c.pick(size, 0.4, 6.0)
    cluster = c.Cluster().start()
    try:
        async with Client(cluster.address) as admin:
            await c.create_namespace(admin, "bench")
        data = c.make_pod("x", "bench").SerializeToString()
        seq, conc, rseq, rpipe = [], [], [], []
        for r in range(repeats):
            seq.append(await _api_rate(cluster.address, 1, duration, f"s{r}"))
            conc.append(await _api_rate(cluster.address, CLIENTS, duration, f"c{r}"))
            a, b = await _redis_rates(cluster.redis.url, data, duration, str(r))
            rseq.append(a)
            rpipe.append(b)
        return [
            c.row(NAME, "apiserver creates/s (1 client, sequential)", seq, "/s"),
            c.row(NAME, f"apiserver creates/s ({CLIENTS} clients)", conc, "/s"),
            c.row(NAME, "Redis EVALSHA CAS/s (sequential)", rseq, "/s"),
            c.row(NAME, f"Redis EVALSHA CAS/s (pipelined x{PIPELINE})", rpipe, "/s"),
            c.row(NAME, "apiserver sequential / Redis sequential", [a / b for a, b in zip(seq, rseq, strict=True)],
                  "x", c.Goal("report")),
            c.row(NAME, f"apiserver {CLIENTS} clients / Redis pipelined",
                  [a / b for a, b in zip(conc, rpipe, strict=True)], "x", c.Goal("report"),
                  duration_s=duration, object_bytes=len(data)),
        ]
    finally:
        cluster.stop()
