"""store-vs-etcd: the same workload, create-if-absent (compare-and-swap) of pod-sized objects from 8 concurrent
clients while one watch on the prefix receives them, against kubemu's apiserver (gRPC, SDK) and against etcd
(Debian's etcd-server) through its JSON gRPC gateway over HTTP (/v3/kv/txn with base64 keys, /v3/watch).
Throughput: objects / (first create -> last event seen on the watch). Goal: kubemu >= etcd. The CPU each side's
processes spend per object (server, store, the benchmark's clients) is reported beside the rates.

etcd keeps its data in /dev/shm when there is one, so that neither store pays for a disk (Redis runs without
AOF here); etcd is skipped with the reason when the `etcd` binary is absent (`apt-get install etcd-server`)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common as c

NAME = "store-vs-etcd"
CLIENTS = 8


class Http:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: Content-Length and chunked bodies."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> Http:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass

    async def send(self, path: str, body: bytes) -> None:
        assert self.writer is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        await self.writer.drain()

    async def headers(self) -> tuple[int, dict[str, str]]:
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                return status, headers
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()

    async def chunks(self) -> Any:
        assert self.reader is not None
        while True:
            size = int((await self.reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self.reader.readline()
                return
            data = await self.reader.readexactly(size)
            await self.reader.readline()
            yield data

    async def post(self, path: str, payload: dict[str, Any]) -> tuple[int, Any]:
        assert self.reader is not None
        await self.send(path, json.dumps(payload).encode())
        status, headers = await self.headers()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        else:
            body = b"".join([x async for x in self.chunks()])
        return status, json.loads(body) if body else None


def _b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


class Etcd:
    def __init__(self) -> None:
        self.port = c.free_port()
        peer = c.free_port()
        base = "/dev/shm" if Path("/dev/shm").is_dir() else None
        self.dir = Path(tempfile.mkdtemp(prefix="kubemu-bench-etcd-", dir=base))
        self.proc = c.Proc("etcd", [
            str(shutil.which("etcd")), "--name", "bench", "--data-dir", str(self.dir / "data"),
            "--listen-client-urls", f"http://127.0.0.1:{self.port}",
            "--advertise-client-urls", f"http://127.0.0.1:{self.port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
            "--initial-cluster", f"bench=http://127.0.0.1:{peer}", "--log-level", "error",
        ])

    async def start(self) -> Etcd:
        self.proc.start()
        c.wait_port(self.port, proc=self.proc.proc)
        http = await Http(self.port).connect()
        try:
            for _ in range(100):  # the gateway answers once the server is ready
                try:
                    status, _ = await http.post("/v3/kv/range", {"key": _b64("health")})
                    if status == 200:
                        return self
                except (OSError, ValueError, asyncio.IncompleteReadError):
                    await http.close()
                    http = await Http(self.port).connect()
                await asyncio.sleep(0.1)
        finally:
            await http.close()
        raise RuntimeError("etcd did not become ready:\n" + self.proc.tail())

    def stop(self) -> None:
        self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


async def _etcd_run(port: int, n: int, data: bytes, tag: str, pid: int) -> tuple[float, dict[str, float]]:
    prefix = f"/registry/pods/{tag}/"
    watch = await Http(port).connect()
    conns = [await Http(port).connect() for _ in range(CLIENTS)]
    seen = 0
    created = asyncio.Event()
    all_seen = asyncio.Event()

    async def watcher() -> None:
        nonlocal seen
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        await watch.send("/v3/watch", json.dumps(
            {"create_request": {"key": _b64(prefix), "range_end": _b64(end)}}).encode())
        await watch.headers()
        buf = ""
        dec = json.JSONDecoder()
        async for chunk in watch.chunks():
            buf += chunk.decode()
            while True:
                buf = buf.lstrip()
                if not buf:
                    break
                try:
                    msg, used = dec.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[used:]
                result = msg.get("result", {})
                if result.get("created"):
                    created.set()
                seen += len(result.get("events", ()))
                if seen >= n:
                    all_seen.set()
                    return

    task = asyncio.create_task(watcher())
    try:
        await asyncio.wait_for(created.wait(), 10)
        value = _b64(data)
        meter = c.CpuMeter({"etcd": [pid], "benchmark": [os.getpid()]}).start()
        start = time.monotonic()

        async def create(i: int) -> None:
            key = _b64(f"{prefix}p-{i}")
            status, body = await conns[i % CLIENTS].post("/v3/kv/txn", {
                "compare": [{"key": key, "target": "CREATE", "create_revision": "0"}],
                "success": [{"request_put": {"key": key, "value": value}}],
            })
            if status != 200 or not body.get("succeeded"):
                raise RuntimeError(f"etcd txn failed: {status} {body}")

        async def worker(w: int) -> None:
            for i in range(w, n, CLIENTS):
                await create(i)

        await asyncio.gather(*(worker(w) for w in range(CLIENTS)))
        await asyncio.wait_for(all_seen.wait(), 60)
        return n / (time.monotonic() - start), meter.per_op(n)
    finally:
        task.cancel()
        for h in (watch, *conns):
            await h.close()


async def _kubemu_run(address: str, n: int, tag: str, pids: dict[str, list[int]]) -> tuple[float, dict[str, float]]:
    from kubemu.client.client import Client

    conns = [Client(address) for _ in range(CLIENTS)]
    admin = conns[0]
    await c.create_namespace(admin, tag)
    rv = (await admin.pods.list(tag)).resource_version
    seen = 0
    all_seen = asyncio.Event()

    async def watcher() -> None:
        nonlocal seen
        async for _ev in admin.pods.watch(tag, resource_version=rv):
            seen += 1
            if seen >= n:
                all_seen.set()
                return

    task = asyncio.create_task(watcher())
    try:
        await asyncio.sleep(0.2)  # the watch is from `rv`: nothing is missed, this only lets it settle
        pods = [c.make_pod("x", tag) for _ in range(CLIENTS)]
        meter = c.CpuMeter({"apiserver": pids["apiserver"], "redis": pids["redis"], "benchmark": [os.getpid()]}).start()
        start = time.monotonic()

        async def worker(w: int) -> None:
            for i in range(w, n, CLIENTS):
                pods[w].metadata.name = f"p-{i}"
                await conns[w].pods.create(pods[w])

        await asyncio.gather(*(worker(w) for w in range(CLIENTS)))
        await asyncio.wait_for(all_seen.wait(), 60)
        return n / (time.monotonic() - start), meter.per_op(n)
    finally:
        task.cancel()
        for cl in conns:
            await cl.close()


async def run(size: str, repeats: int) -> list[dict[str, Any]]:
    n = c.pick(size, 200, 5000)
    cluster = c.Cluster().start()
    etcd = Etcd() if shutil.which("etcd") else None
    try:
        if etcd is not None:
            await etcd.start()
        data = c.make_pod("x", "bench").SerializeToString()
        kubemu_rates, etcd_rates = [], []
        kubemu_cpu, etcd_cpu = [], []
        for r in range(repeats):
            rate, cpu = await _kubemu_run(cluster.address, n, f"kv{r}", cluster.pids())
            kubemu_rates.append(rate)
            kubemu_cpu.append(cpu)
            if etcd is not None:
                rate, cpu = await _etcd_run(etcd.port, n, data, f"kv{r}", etcd.proc.pid)
                etcd_rates.append(rate)
                etcd_cpu.append(cpu)
        rows = [c.row(NAME, f"kubemu creates/s, CAS + watch ({CLIENTS} clients)", kubemu_rates, "/s", objects=n),
                *c.cpu_rows(NAME, "kubemu create", kubemu_cpu, "us")]
        if etcd is None:
            rows.append(c.skipped(NAME, "etcd: the `etcd` binary is absent (apt-get install etcd-server)"))
            return rows
        rows += [
            c.row(NAME, f"etcd creates/s, txn + watch via JSON gateway ({CLIENTS} clients)", etcd_rates, "/s",
                  objects=n, data_dir="/dev/shm" if str(etcd.dir).startswith("/dev/shm") else "tmp"),
            c.row(NAME, "kubemu / etcd", [a / b for a, b in zip(kubemu_rates, etcd_rates, strict=True)], "x",
                  c.at_least(1.0, ">= 1.0x etcd")),
            *c.cpu_rows(NAME, "etcd create", etcd_cpu, "us"),
        ]
        return rows
    finally:
        if etcd is not None:
            etcd.stop()
        cluster.stop()
