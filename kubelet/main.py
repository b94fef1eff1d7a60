"""`kubemu-kubelet`: one node: registers the Node, renews its Lease, runs simulated containers and static pods."""

from __future__ import annotations

import argparse
import sys

from kubemu import config as cfg

READY = False
"""The launcher starts this process only once it is implemented (issue #3 (kubelet))."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-kubelet",
        description=(
            "kubemu-kubelet: one node: registers the Node, renews its Lease, runs simulated c"
            "ontainers and static pods."
        ),
    )
    p.add_argument("--apiserver", default="127.0.0.1:6443", help="apiserver address(es), comma-separated")
    p.add_argument("--config", help="cluster config YAML (timings)")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--node-name", help="the Node this kubelet registers")
    p.add_argument("--static-pod-path", help="folder of static pod manifests")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    parse_args(argv)
    sys.exit("kubemu-kubelet: not implemented yet (issue #3 (kubelet)); only --help works so far")


if __name__ == "__main__":
    main()
