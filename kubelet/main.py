"""`kubemu-kubelet`: one node. Registers the Node, renews its Lease, runs simulated containers and static pods."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from pathlib import Path

import structlog

from kubelet.kubelet import Kubelet
from kubelet.node_status import NodeSpec
from kubemu import config as cfg
from kubemu import logs
from kubemu.client.client import Client
from kubemu.pb import core_pb2

READY = True
"""The launcher starts kubelets (one per node)."""

log = structlog.get_logger()


def _pairs(text: str, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise SystemExit(f"kubemu-kubelet: invalid {flag} \"{item}\": expected KEY=VALUE")
        out[k] = v
    return out


def _taints(text: str) -> list[core_pb2.Taint]:
    taints = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        kv, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise SystemExit(f'kubemu-kubelet: invalid --register-with-taints "{item}": expected '
                             "key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = kv.partition("=")
        taints.append(core_pb2.Taint(key=key, value=value, effect=effect))
    return taints


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="kubemu-kubelet",
        description="kubemu-kubelet: one node. Registers the Node, renews its Lease, runs simulated containers "
                    "through the full pod lifecycle, runs static pods and mirrors them into the API.",
    )
    p.add_argument("--node-name", required=True, help="the Node this kubelet registers")
    p.add_argument("--apiserver", default="127.0.0.1:6443", help="apiserver address(es), comma-separated")
    p.add_argument("--static-pod-path", help="folder of static pod manifests (watched)")
    p.add_argument("--config", help="cluster config YAML (timings)")
    p.add_argument("--profile", default="default", choices=cfg.PROFILES, help="timing profile")
    p.add_argument("--cpu", default="4", help="cpu capacity (default 4)")
    p.add_argument("--memory", default="8Gi", help="memory capacity (default 8Gi)")
    p.add_argument("--max-pods", type=int, default=110, help="pods capacity (default 110)")
    p.add_argument("--node-labels", default="", help="labels to register with, k=v,k2=v2")
    p.add_argument("--register-with-taints", default="", help="taints to register with, key=value:Effect,...")
    p.add_argument("--extended-resources", default="", help="e.g. nvidia.com/gpu=2")
    p.add_argument("--node-ip", default="127.0.0.1",
                   help="the node's InternalIP (the logs/exec server's host); `auto`: this host's address")
    p.add_argument("--listen", default=None, help="host:port of the logs/exec server (default NODE-IP:0)")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json unless on a terminal")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    config = cfg.load(args.config, args.profile)
    if args.node_ip == "auto":
        # In a container: the address other containers reach us on.
        args.node_ip = socket.gethostbyname(socket.gethostname())
    spec = NodeSpec(
        name=args.node_name, cpu=args.cpu, memory=args.memory, pods=args.max_pods,
        labels=_pairs(args.node_labels, "--node-labels"), taints=_taints(args.register_with_taints),
        address=args.node_ip, extended=_pairs(args.extended_resources, "--extended-resources"),
    )
    client = Client(args.apiserver, retry_for=2.0)
    kubelet = Kubelet(client, spec, config, Path(args.static_pod_path) if args.static_pod_path else None,
                      listen=args.listen or f"{args.node_ip}:0")
    await kubelet.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("kubelet.stopping")
    await kubelet.stop()
    await client.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.configure("kubelet", json=None if args.log_format is None else args.log_format == "json",
                   node=args.node_name)
    try:
        asyncio.run(run(args))
    except cfg.ConfigError as e:
        sys.exit(f"kubemu-kubelet: {e}")


if __name__ == "__main__":
    main()
