"""`kubemu-kubelet`: one node (--node-name), or many in one process (--nodes, the scale mode). Registers each Node,
renews its Lease, runs simulated containers and static pods."""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import structlog

from kubelet.host import KubeletHost, node_names, node_range
from kubelet.node_status import NodeSpec
from kubemu import config as cfg
from kubemu import logs
from kubemu.client.client import connect
from kubemu.kubeconfig import KubeconfigError
from kubemu.pb import core_pb2

READY = True
"""The launcher starts kubelets (one per node, or one per group of nodes with --nodes)."""

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
        description="kubemu-kubelet: one node, or with --nodes many nodes in one process (the scale mode). "
                    "Registers each Node, renews its Lease, runs simulated containers through the full pod "
                    "lifecycle, runs static pods and mirrors them into the API. The nodes of one process share "
                    "its connection to the apiserver, its pod watch and its logs/exec server; killing the process "
                    "fails all of them at once.",
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--node-name", help="the Node this kubelet registers")
    which.add_argument("--nodes", type=_positive, metavar="K",
                       help="scale mode: run K nodes PREFIX<N>..PREFIX<N+K-1> in this process")
    p.add_argument("--node-prefix", default=None, help='scale mode: node name prefix (default "node-")')
    p.add_argument("--first-index", type=_index, default=None, metavar="N",
                   help="scale mode: number of the first node (default 1), so that processes can split a range")
    p.add_argument("--apiserver", default=None,
                   help="apiserver gRPC address(es), comma-separated (default: the kubeconfig's, else 127.0.0.1:6443)")
    p.add_argument("--kubeconfig", metavar="FILE",
                   help="kubeconfig with the apiserver's gRPC address (kubemu extension) and the token to send")
    p.add_argument("--static-pod-path", metavar="DIR",
                   help="folder of static pod manifests (watched); in scale mode each node reads DIR/<node-name>/ "
                        "when that folder exists")
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
    p.add_argument("--listen", default=None,
                   help="host:port of the logs/exec server, one for all the nodes of the process (default NODE-IP:0)")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json unless on a terminal")
    args = p.parse_args(argv)
    if args.nodes is None and (args.node_prefix is not None or args.first_index is not None):
        p.error("--node-prefix and --first-index need --nodes")
    if args.nodes is not None:
        args.node_prefix = "node-" if args.node_prefix is None else args.node_prefix
        args.first_index = 1 if args.first_index is None else args.first_index
    return args


def _int_at_least(minimum: int, what: str, rule: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}") from None
        if n < minimum:
            raise argparse.ArgumentTypeError(f"{rule}: {n}")
        return n

    return parse


_positive = _int_at_least(1, "count", "must be at least 1")
_index = _int_at_least(0, "index", "must not be negative")


def names_of(args: argparse.Namespace) -> list[str]:
    """The nodes this process runs."""
    if args.nodes is None:
        return [args.node_name]
    return node_names(args.nodes, args.node_prefix, args.first_index)


async def run(args: argparse.Namespace) -> None:
    config = cfg.load(args.config, args.profile)
    if args.node_ip == "auto":
        # In a container: the address other containers reach us on.
        args.node_ip = socket.gethostbyname(socket.gethostname())
    labels = _pairs(args.node_labels, "--node-labels")
    taints = _taints(args.register_with_taints)
    extended = _pairs(args.extended_resources, "--extended-resources")
    names = names_of(args)
    specs = [NodeSpec(name=name, cpu=args.cpu, memory=args.memory, pods=args.max_pods, labels=dict(labels),
                      taints=list(taints), address=args.node_ip, extended=dict(extended)) for name in names]
    folder = Path(args.static_pod_path) if args.static_pod_path else None
    if folder is None:
        paths: list[Path | None] = [None] * len(names)
    elif args.nodes is None:
        paths = [folder]
    else:
        paths = [folder / name for name in names]
    client = connect(args.apiserver, args.kubeconfig, retry_for=2.0)
    kubelet = KubeletHost(client, specs, config, paths, listen=args.listen or f"{args.node_ip}:0")
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
                   node=node_range(names_of(args)))
    try:
        asyncio.run(run(args))
    except (cfg.ConfigError, KubeconfigError) as e:
        sys.exit(f"kubemu-kubelet: {e}")


if __name__ == "__main__":
    main()
