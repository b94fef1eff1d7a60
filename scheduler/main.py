"""`kubemu-scheduler`: binds pending pods to nodes (filter, score, bind) with upstream's plugins; several
replicas elect one leader on a Lease in kube-system."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import uuid

import structlog

from kubemu import config as cfg
from kubemu import logs
from kubemu.client.client import connect
from kubemu.client.leaderelection import LeaderElectionConfig, LeaderElector
from kubemu.kubeconfig import KubeconfigError
from scheduler.scheduler import Scheduler

READY = True
"""The launcher starts the scheduler."""

log = structlog.get_logger()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-scheduler",
        description="kubemu-scheduler: binds pending pods to nodes with upstream's filter and score plugins.",
    )
    p.add_argument("--apiserver", default=None,
                   help="apiserver gRPC address(es), comma-separated (default: the kubeconfig's, else 127.0.0.1:6443)")
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="kubeconfig with the apiserver's gRPC address (kubemu extension) and the token to send")
    p.add_argument("--config", help="cluster config YAML (timings)")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True,
                   help="elect one active scheduler among replicas (default true)")
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0, help="seconds (scaled by profile)")
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0, help="seconds (scaled by profile)")
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0, help="seconds (scaled by profile)")
    p.add_argument("--seed", type=int, help="seed for breaking score ties (tests)")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json unless on a terminal")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    config = cfg.load(args.config, args.profile)
    client = connect(args.apiserver, args.kubeconfig, retry_for=2.0)
    scheduler = Scheduler(client, seed=args.seed, time_scale=config.time_scale)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def lead() -> None:
        await scheduler.run()

    if args.leader_elect:
        identity = f"{socket.gethostname()}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        elector = LeaderElector(client, LeaderElectionConfig(
            lease_name="kube-scheduler", identity=identity,
            lease_duration=config.scaled(args.leader_elect_lease_duration),
            renew_deadline=config.scaled(args.leader_elect_renew_deadline),
            retry_period=config.scaled(args.leader_elect_retry_period),
        ))
        work = asyncio.create_task(elector.run(lead))
    else:
        work = asyncio.create_task(lead())
    done, _ = await asyncio.wait({work, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    await client.close()
    if work in done and not stop.is_set():
        # Leadership lost: exit so a supervisor restarts us clean, as kube-scheduler does.
        log.warning("scheduler.leadership_lost")
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure("scheduler", json=None if args.log_format is None else args.log_format == "json")
    try:
        asyncio.run(run(args))
    except (cfg.ConfigError, KubeconfigError) as e:
        sys.exit(f"kubemu-scheduler: {e}")


if __name__ == "__main__":
    main()
