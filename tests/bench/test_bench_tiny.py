"""Every benchmark runs once at `--size tiny` (one `python -m bench` process) and produces well-formed results.
Benchmarks are not timed tests: nothing here asserts a timing or a goal."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import BENCHMARKS

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

KEYS = {"benchmark", "figure", "unit", "median", "min", "max", "samples", "goal", "met", "detail"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run([sys.executable, "-m", "bench", "--size", "tiny", "--repeats", "1", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("machine: "), proc.stdout
    data: dict[str, Any] = json.loads(out.read_text())
    data["stdout"] = proc.stdout
    return data


def test_machine_facts(results: dict[str, Any]) -> None:
    m = results["machine"]
    assert m["cores"] > 0 and m["memory_bytes"] > 0
    assert m["python"] and m["grpcio"] and m["redis_server"]
    assert results["size"] == "tiny" and results["repeats"] == 1
    # The machine's speed before and after, since every rate moves with it.
    assert m["echo_calls_per_s_before"] > 0 and m["echo_calls_per_s_after"] > 0
    lines = results["stdout"].splitlines()
    assert lines[1] == (f"machine speed: a bare grpcio echo server answers {m['echo_calls_per_s_before']:,} calls/s "
                        "(8 clients); compare rates only at like speeds"), lines[:2]
    assert lines[-2] == (f"machine speed: {m['echo_calls_per_s_before']:,} calls/s before the benchmarks, "
                         f"{m['echo_calls_per_s_after']:,} calls/s after"), lines[-3:]


@pytest.mark.parametrize("name", sorted(set(BENCHMARKS)))
def test_benchmark_rows_are_well_formed(results: dict[str, Any], name: str) -> None:
    rows = [r for r in results["results"] if r["benchmark"] == name]
    assert rows, f"no results for {name}"
    for r in rows:
        assert KEYS <= set(r), r
        assert not r.get("error"), r
        if r.get("skipped"):
            assert isinstance(r["skipped"], str) and r["skipped"], r  # a stated reason
            continue
        assert r["samples"] and all(isinstance(v, float) and not math.isnan(v) for v in r["samples"]), r
        assert r["min"] <= r["median"] <= r["max"], r
        assert r["met"] in (True, False, None)
        assert name in results["stdout"]


def positive(results: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in results["results"] if r["benchmark"] == name and not r.get("skipped")
            and r["unit"] in ("/s", "x", "s", "ms", "MB", "bytes")]


@pytest.mark.parametrize("name", ["api-writes", "store-path", "store-vs-etcd", "watch-fanout", "scheduler",
                                  "pod-startup", "churn", "recovery", "memory", "rest-writes", "rest-watch",
                                  "rest-list"])
def test_rates_latencies_and_sizes_are_positive(results: dict[str, Any], name: str) -> None:
    rows = positive(results, name)
    assert rows
    for r in rows:
        if r["figure"].startswith("minus"):
            continue  # an overhead above a floor may be negative on a lucky run
        assert r["median"] > 0, r


@pytest.mark.parametrize(("name", "what", "groups"), [
    ("api-writes", "create", {"apiserver", "redis", "benchmark"}),
    ("api-writes", "echo call", {"echo server", "benchmark"}),
    ("store-vs-etcd", "kubemu create", {"apiserver", "redis", "benchmark"}),
    ("scheduler", "pod created and bound", {"apiserver", "scheduler", "redis", "benchmark"}),
    ("churn", "pod Running", {"apiserver", "scheduler", "controllers", "kubelets", "redis", "benchmark"}),
    ("rest-writes", "gRPC create", {"apiserver", "redis", "benchmark"}),
    ("rest-writes", "REST create", {"apiserver", "redis", "benchmark"}),
    ("rest-list", "JSON list", {"apiserver", "redis", "benchmark"}),
    ("rest-list", "Table list", {"apiserver", "redis", "benchmark"}),
])
def test_cpu_per_operation_is_reported_per_process(results: dict[str, Any], name: str, what: str,
                                                   groups: set[str]) -> None:
    prefix = f"CPU per {what}: "
    rows = {r["figure"][len(prefix):]: r for r in results["results"]
            if r["benchmark"] == name and r["figure"].startswith(prefix)}
    assert set(rows) == groups | {"all"}, sorted(rows)
    assert all(r["unit"] == "us" for r in rows.values())
    assert rows["all"]["median"] == pytest.approx(sum(rows[g]["median"] for g in groups))
    # The process serving the calls is busy throughout: its share cannot round to nothing.
    server = "echo server" if what == "echo call" else "apiserver"
    assert rows[server]["median"] > 0, rows[server]
