"""`kubemu chaos run` as a user runs it against a local cluster from `kubemu up`: one short fixed-seed run per fault
kind must pass every invariant; the history it writes fails `kubemu chaos check` once doctored; bad flags are
refused before anything is touched."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import REPO

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "kubemu.cli.main"]


class Cluster:
    def __init__(self, state: Path) -> None:
        self.state = state

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, "--state-dir", str(self.state), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def chaos(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.run("chaos", "run", "--slack", "20", *args, timeout=timeout)

    def pids(self) -> list[int]:
        try:
            data = json.loads((self.state / "cluster.json").read_text())
        except (OSError, ValueError):
            return []
        return [p["pid"] for p in data["processes"] if p["pid"]]


def _up(state: Path, *flags: str) -> Iterator[Cluster]:
    c = Cluster(state)
    up = c.run("up", "-d", "--profile", "fast", "--nodes", "3", *flags)
    assert up.returncode == 0, up.stderr
    try:
        yield c
    finally:
        pids = c.pids()
        c.run("down")
        for pid in pids:  # anything chaos restarted is in cluster.json too; make sure nothing outlives the test
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    yield from _up(tmp_path_factory.mktemp("chaos"), "--durable", "--schedulers", "2", "--controller-managers", "2")


def verdicts(out: str) -> dict[str, tuple[str, str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("invariant"))
    rows = {}
    for line in lines[start + 1:]:
        if line.startswith("history:") or not line.strip():
            break
        name, result, detail = [part.strip() for part in _split(line)]
        rows[name] = (result, detail)
    return rows


def _split(line: str) -> list[str]:
    import re

    parts = re.split(r"\s{3,}", line.strip(), maxsplit=2)
    return [*parts, ""][:3]


INVARIANTS = {
    "acknowledged writes survive", "watch streams gap-free", "workloads converge", "no pod runs on two nodes",
    "static pods survive apiserver", "no pod is ever bound twice", "no ReplicaSet exceeds replicas + maxSurge",
}


@pytest.mark.parametrize("fault", [
    "kill-kubelet:every=4s,for=3s",
    "pause-kubelet:every=4s,for=3s",
    "kill-apiserver:every=4s,for=1s",
    "kill-leader:scheduler,every=4s,for=1s",
    "kill-leader:controllers,every=4s,for=1s",
    "kill-redis:every=4s,for=1s",
])
def test_each_fault_kind_keeps_every_invariant(cluster: Cluster, fault: str, tmp_path: Path) -> None:
    history = tmp_path / "history.jsonl"
    r = cluster.chaos("--duration", "9s", "--seed", "7", "--fault", fault, "--workload", "deployment:web:replicas=4",
                      "--workload", "job:batch:completions=3", "--history", str(history))
    table = verdicts(r.stdout)
    assert set(table) == INVARIANTS, r.stdout + r.stderr
    failed = {k: v for k, v in table.items() if v[0] != "ok"}
    assert r.returncode == 0 and not failed, r.stdout + r.stderr
    records = [json.loads(line) for line in history.read_text().splitlines()]
    kind = fault.split(":")[0]
    faults = [x for x in records if x["type"] == "fault" and x["fault"] == kind]
    # Two injections fit in 9 s at every=4s; each started and ended.
    assert [x["phase"] for x in faults].count("start") == 2, r.stdout
    assert [x["phase"] for x in faults].count("end") == 2, r.stdout
    assert sum(x["type"] == "ok" for x in records) > 50  # the writers kept writing through the faults
    # Each injection is printed as it happens.
    assert r.stdout.count(kind) >= 2

    # The same history, doctored (one acknowledged write's watch events and its final read dropped), fails.
    acked = next(x for x in records if x["type"] == "ok")
    op = next(x for x in records if x["type"] == "invoke" and x["op"] == acked["op"])
    doctored = [x for x in records
                if not (x["type"] == "watch-event" and x.get("key") == op["key"] and x.get("rv") == acked["rv"])
                and not (x["type"] == "final" and x["key"] == op["key"])]
    bad = tmp_path / "doctored.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in doctored))
    check = cluster.run("chaos", "check", str(bad))
    assert check.returncode == 1, check.stdout
    assert verdicts(check.stdout)["acknowledged writes survive"][0] == "FAIL"
    assert cluster.run("chaos", "check", str(history)).returncode == 0


def test_bad_flags_are_refused_before_anything_runs(cluster: Cluster, tmp_path: Path) -> None:
    r = cluster.run("chaos", "run", "--fault", "kil-kubelet:every=5s")
    assert r.returncode == 1
    assert 'error: --fault "kil-kubelet:every=5s": unknown fault "kil-kubelet" (known: kill-kubelet,' in r.stderr
    r = cluster.run("chaos", "run", "--fault", "kill-kubelet:every=soon")
    assert r.returncode == 1 and 'every: invalid duration "soon"' in r.stderr
    r = cluster.run("chaos", "run", "--fault", "partition-kubelet:every=5s")
    assert r.returncode == 1 and "partitions need the compose backend" in r.stderr
    r = cluster.run("chaos", "run", "--workload", "deployment:Web")
    assert r.returncode == 1 and 'invalid name "Web"' in r.stderr
    r = cluster.run("chaos", "check", str(tmp_path / "missing.jsonl"))
    assert r.returncode == 1 and "missing.jsonl" in r.stderr


def test_kill_redis_needs_a_durable_redis(tmp_path: Path) -> None:
    for c in _up(tmp_path / "state", "--nodes", "0"):
        r = c.run("chaos", "run", "--fault", "kill-redis:every=5s", "--duration", "5s")
        assert r.returncode == 1
        assert "Redis is not durable" in r.stderr and "kubemu up --durable" in r.stderr
        # Refused before anything was touched: no namespace was made for the run.
        ns = c.run("get", "namespaces", "-o", "name")
        assert "chaos-" not in ns.stdout


def test_a_kubelet_back_from_a_long_pause_stops_what_was_evicted_meanwhile(cluster: Cluster, tmp_path: Path) -> None:
    """Paused longer than grace + toleration: its node goes Unknown, its pods are evicted and replaced elsewhere;
    when it resumes, it stops those pods before it starts anything, and the workload converges."""
    history = tmp_path / "history.jsonl"
    r = cluster.chaos("--duration", "6s", "--seed", "7", "--fault", "pause-kubelet:every=5s,for=14s",
                      "--workload", "deployment:web:replicas=6", "--history", str(history))
    table = verdicts(r.stdout)
    assert r.returncode == 0 and all(v[0] == "ok" for v in table.values()), r.stdout + r.stderr
    records = [json.loads(line) for line in history.read_text().splitlines()]
    pause = [x for x in records if x["type"] == "fault" and x["fault"] == "pause-kubelet"]
    start, end = pause[0]["t"], pause[-1]["t"]
    node = pause[0]["nodes"][0]
    # Pods of that node were evicted while it was paused ...
    evicted = {x["pod"]["uid"] for x in records if x["type"] == "watch-event" and x["event"] != "ADDED"
               and "pod" in x and x["pod"]["node"] == node and x["pod"]["deleting"] and start < x["t"] < end
               and not x["pod"]["static"]}
    assert evicted, "no pod was evicted during the pause: the fault did not outlast grace + toleration"
    # ... and the kubelet, once back, stopped each of them (what the checker orders is checked above as 'ok').
    stopped = {x["uid"] for x in records if x["type"] == "kubelet" and x["event"] == "pod.stopped"
               and x["node"] == node and x["t"] >= end}
    assert evicted <= stopped


def test_an_interrupted_run_heals_its_faults(cluster: Cluster, tmp_path: Path) -> None:
    """Ctrl-C in the middle of a pause: the paused kubelet is resumed before the command exits."""
    history = tmp_path / "history.jsonl"
    proc = subprocess.Popen(
        [*CLI, "--state-dir", str(cluster.state), "chaos", "run", "--duration", "60s",
         "--fault", "pause-kubelet:every=60s,start=1s,for=60s", "--history", str(history)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        paused: dict[str, Any] | None = None
        while paused is None and time.monotonic() < deadline:
            time.sleep(0.2)
            lines = history.read_text().splitlines() if history.exists() else []
            paused = next((r for r in map(json.loads, lines) if r["type"] == "fault"), None)
        assert paused is not None, "the pause never started"
        pid = next(p["pid"] for p in json.loads((cluster.state / "cluster.json").read_text())["processes"]
                   if p["name"] == paused["target"])
        assert _state(pid) == "T"  # stopped by SIGSTOP
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert _state(pid) in ("S", "R")
        ends = [r for r in map(json.loads, history.read_text().splitlines())
                if r["type"] == "fault" and r["phase"] == "end"]
        assert len(ends) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _state(pid: int) -> str:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()[0]
