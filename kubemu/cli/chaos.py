"""`kubemu chaos run` (faults on a seeded schedule, then a verdict table) and `kubemu chaos check` (judge a
recorded history again)."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from typing import Any

import yaml

from kubemu import config as cfg
from kubemu import kubeconfig
from kubemu.chaos import checkers
from kubemu.chaos.backends import Backend, BackendError, ComposeBackend, LocalBackend
from kubemu.chaos.faults import SpecError, parse_duration, parse_fault, parse_workload
from kubemu.chaos.history import History, HistoryError
from kubemu.chaos.runner import Options, exit_code, run
from kubemu.cli import cluster


def _fail(text: str) -> int:
    print(f"error: {text}", file=sys.stderr)
    return 1


def _compose_apiserver(project: str) -> str:
    out = subprocess.run(["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
                          "--filter", "label=com.docker.compose.service=apiserver", "--format", "{{.Names}}"],
                         capture_output=True, text=True).stdout.split()
    if not out:
        raise BackendError(f'no running apiserver container in compose project "{project}"')
    port = subprocess.run(["docker", "port", out[0], "6443"], capture_output=True, text=True).stdout.split()
    if not port:
        raise BackendError(f"the apiserver container {out[0]} publishes no port 6443")
    return port[0]


def _compose_token(project: str) -> str | None:
    """The token of the compose apiserver's kubeconfig (`kubemu kubeconfig` in its container), None without one."""
    out = subprocess.run(["docker", "ps", "--filter", f"label=com.docker.compose.project={project}",
                          "--filter", "label=com.docker.compose.service=apiserver", "--format", "{{.Names}}"],
                         capture_output=True, text=True).stdout.split()
    if not out:
        return None
    shown = subprocess.run(["docker", "exec", out[0], "kubemu", "kubeconfig"], capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    try:
        return kubeconfig.access(yaml.safe_load(shown.stdout)).token
    except (kubeconfig.KubeconfigError, yaml.YAMLError, AttributeError, TypeError):
        return None


def cmd_run(args: argparse.Namespace) -> int:
    try:
        duration = parse_duration(args.duration, "--duration")
        if duration <= 0:
            raise SpecError("--duration must be more than 0")
        faults = [parse_fault(f) for f in args.fault or []]
        workloads = [parse_workload(w) for w in args.workload or ["deployment:web:replicas=6"]]
        names = [w.name for w in workloads]
        if len(set(names)) != len(names):
            raise SpecError(f"--workload: names must differ, got {', '.join(names)}")
        backend: Backend
        state = cluster.state_dir(getattr(args, "state_dir", None))
        if args.compose:
            server = getattr(args, "server", None) or _compose_apiserver(args.compose)
            backend = ComposeBackend(args.compose, server, getattr(args, "token", None) or _compose_token(args.compose))
            config = cfg.profile(args.profile)
        else:
            backend = LocalBackend(state)
            config = cfg.load(cluster.read_cluster(state).config)
    except (SpecError, BackendError, cluster.LauncherError) as e:
        return _fail(str(e).removeprefix("error: "))
    except (cfg.ConfigError, OSError) as e:
        return _fail(f"cannot read the cluster config: {e}")

    namespace = getattr(args, "namespace", None) or f"chaos-{args.seed}-{int(time.time()) % 100000}"
    opts = Options(duration=duration, seed=args.seed, faults=faults, workloads=workloads, namespace=namespace,
                   config=config, history_path=args.history, writers=args.writers, slack=args.slack,
                   keep=args.keep, out=sys.stdout)
    try:
        verdicts, _ = asyncio.run(run(opts, backend))
    except SpecError as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
    print()
    print(checkers.format_table(verdicts).rstrip("\n"))
    if args.history:
        print(f"history: {args.history}")
    return exit_code(verdicts)


def cmd_check(args: argparse.Namespace) -> int:
    try:
        history = History.load(args.history)
    except (HistoryError, OSError) as e:
        return _fail(str(e))
    verdicts = checkers.check_all(history)
    print(checkers.format_table(verdicts).rstrip("\n"))
    return exit_code(verdicts)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    text = "Break the cluster on a seeded schedule and check, from the recorded history, that nothing was lost"
    ch = sub.add_parser("chaos", help=text, description=text)
    verbs = ch.add_subparsers(dest="chaos_verb", metavar="COMMAND")
    ch.set_defaults(func=lambda _a: (ch.print_help(), 0)[1])

    r = verbs.add_parser("run", parents=[common], help="run workloads under faults, then print the verdicts",
                         description="Run workloads, writers and watchers against the cluster (the local one from "
                         "`kubemu up`, or a compose project with --compose) while faults land on a schedule drawn "
                         "from --seed; then check every invariant against the recorded history. Exits 1 when one "
                         "fails.", formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="faults: kill-kubelet, pause-kubelet, kill-apiserver, kill-leader:scheduler|"
                         "controllers, kill-redis, partition-kubelet (compose); each takes every=DURATION and "
                         "optionally for=DURATION (how long until restart/resume/heal) and start=DURATION.\n"
                         "workloads: deployment:NAME:replicas=N, job:NAME:completions=N,parallelism=N")
    r.add_argument("--duration", default="60s", help="how long faults are injected (default 60s)")
    r.add_argument("--seed", type=int, default=1, help="seed of the fault schedule (default 1)")
    r.add_argument("--fault", action="append", metavar="SPEC", help="a fault and its schedule (repeatable)")
    r.add_argument("--workload", action="append", metavar="SPEC",
                   help="a workload to keep running (repeatable; default deployment:web:replicas=6)")
    r.add_argument("--history", metavar="FILE", help="write every operation, event and fault here as JSON lines")
    r.add_argument("--compose", metavar="PROJECT", help="hit the containers of this compose project instead of "
                   "the local cluster")
    r.add_argument("--profile", choices=cfg.PROFILES, default="default",
                   help="the compose deployment's timing profile (KUBEMU_PROFILE), for the convergence bound")
    r.add_argument("--writers", type=int, default=4, help="concurrent writers (default 4)")
    r.add_argument("--slack", type=float, default=15.0,
                   help="seconds allowed beyond node grace + toleration for workloads to converge (default 15)")
    r.add_argument("--keep", action="store_true", help="leave the run's workloads and objects in place")
    r.set_defaults(func=cmd_run)

    c = verbs.add_parser("check", help="check the invariants of a recorded history again",
                         description="Check every invariant against a history written by `chaos run --history`.")
    c.add_argument("history", metavar="FILE")
    c.set_defaults(func=cmd_check)
