"""`python -m bench [NAME ...] [--size tiny|full] [--repeats N] [--json FILE]`: run the benchmarks (all by
default, one at a time), print the machine line, then one table, and write the results as JSON."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import math
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import api_writes
from bench import common as c

BENCHMARKS = {
    "api-writes": "bench.api_writes",
    "store-path": "bench.store_path",
    "store-vs-etcd": "bench.store_vs_etcd",
    "watch-fanout": "bench.watch_fanout",
    "scheduler": "bench.scheduler",
    "pod-startup": "bench.pod_startup",
    "churn": "bench.churn",
    "recovery": "bench.recovery",
    "memory": "bench.memory",
    "memory-per-node": "bench.scale",
    "scale": "bench.scale",
    "rest-writes": "bench.rest_writes",
    "rest-watch": "bench.rest_watch",
    "rest-list": "bench.rest_list",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}")
    p.add_argument("--size", choices=c.SIZES, default="full", help="tiny: seconds, for CI; full: the goal sizes")
    p.add_argument("--repeats", type=int, default=None, help="repeats per figure (default 3 tiny... 1 full)")
    p.add_argument("--json", default="bench-results.json", help="where to write the results (default %(default)s)")
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}: expected {', '.join(BENCHMARKS)}")
    if args.repeats is None:
        args.repeats = 1
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def run_one(name: str, size: str, repeats: int) -> list[dict[str, Any]]:
    module = importlib.import_module(BENCHMARKS[name])
    started = time.monotonic()
    try:
        if name in ("scale", "memory-per-node"):
            rows: list[dict[str, Any]] = asyncio.run(module.run(size, repeats, which=name))
        else:
            rows = asyncio.run(module.run(size, repeats))
    except c.Skip as e:
        rows = [c.skipped(name, str(e))]
    except Exception as e:
        traceback.print_exc()
        rows = [c.skipped(name, f"error: {type(e).__name__}: {e}")]
        rows[0]["error"] = True
    finally:
        c.stop_everything()
    for r in rows:
        r["seconds"] = round(time.monotonic() - started, 1)
    return rows


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _speed(seconds: float) -> int | None:
    """api-writes' echo half for `seconds`: the machine's speed now (None, said on stderr, if it cannot run)."""
    try:
        return round(asyncio.run(api_writes.echo_speed(seconds)))
    except Exception as e:
        print(f"machine speed not measured: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        return None
    finally:
        c.stop_everything()


def _calls(rate: int | None) -> str:
    return "?" if rate is None else f"{rate:,} calls/s"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = c.machine_info()
    print(c.machine_line(info), flush=True)
    speed_seconds = c.pick(args.size, 0.5, 3.0)
    info["echo_calls_per_s_before"] = _speed(speed_seconds)
    print(f"machine speed: a bare grpcio echo server answers {_calls(info['echo_calls_per_s_before'])} "
          f"({api_writes.CLIENTS} clients); compare rates only at like speeds", flush=True)
    names = args.names or list(BENCHMARKS)
    results: list[dict[str, Any]] = []
    for name in names:
        print(f"running {name} (size {args.size}, repeats {args.repeats}) ...", file=sys.stderr, flush=True)
        rows = run_one(name, args.size, args.repeats)
        results += rows
        for r in rows:
            shown = r.get("skipped") or f"{c.fmt_value(r['median'], r['unit'])} ({r['goal']})"
            print(f"  {r['figure']}: {shown}", file=sys.stderr, flush=True)
    print(c.render_table(results))
    info["echo_calls_per_s_after"] = _speed(speed_seconds)
    print(f"machine speed: {_calls(info['echo_calls_per_s_before'])} before the benchmarks, "
          f"{_calls(info['echo_calls_per_s_after'])} after")
    out = {"machine": info, "size": args.size, "repeats": args.repeats, "results": results}
    # Strict JSON: a figure that never came (inf, nan: e.g. pods that never ran) is written as null.
    Path(args.json).write_text(json.dumps(_finite(out), indent=2, default=str, allow_nan=False) + "\n")
    print(f"results written to {args.json}")
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
