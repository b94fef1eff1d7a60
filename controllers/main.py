"""`kubemu-controllers`: runs every controller (ReplicaSet, Deployment, Job, node lifecycle, GC, ...),
leader-elected."""

from __future__ import annotations

import argparse
import sys

from kubemu import config as cfg

READY = False
"""The launcher starts this process only once it is implemented (issue #5 (controllers))."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-controllers",
        description=(
            "kubemu-controllers: runs every controller (ReplicaSet, Deployment, Job, node lif"
            "ecycle, GC, ...), leader-elected."
        ),
    )
    p.add_argument("--apiserver", default="127.0.0.1:6443", help="apiserver address(es), comma-separated")
    p.add_argument("--config", help="cluster config YAML (timings)")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True, help="run leader election")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    parse_args(argv)
    sys.exit("kubemu-controllers: not implemented yet (issue #5 (controllers)); only --help works so far")


if __name__ == "__main__":
    main()
