"""The compose deployment as a user runs it: deploy/docker-compose.yml brings up Redis, the apiserver, two
schedulers, two controller managers and three kubelets in containers; a Deployment runs; a killed kubelet
container's pods move; `--scale kubelet=6` adds nodes; everything is torn down with nothing left behind.
Skipped where there is no engine.

The compose CLI is driven directly rather than through testcontainers' DockerCompose: that driver runs
`docker compose` (the v2 plugin) and reads `docker compose ps --format json`, and machines such as this one have
only the standalone docker-compose 1.29, which has neither. Either CLI works here."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client import errors
from kubemu.client.client import Client
from tests.compose.conftest import apiserver_token
from tests.support import REPO, free_port, unique, until

pytestmark = pytest.mark.compose

COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
def _compose_cmd() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.fixture(scope="module")
def compose(images: dict[str, str]) -> Iterator[tuple[list[str], dict[str, str], str]]:
    cmd = _compose_cmd()
    if cmd is None:
        pytest.skip("the Docker engine has no Compose CLI (neither `docker compose` nor docker-compose)")
    # No registry here: the images come from the local debootstrap base (see conftest.py).
    env = {**images, "KUBEMU_PROFILE": "fast", "KUBEMU_PORT": str(free_port()), "KUBEMU_REST_PORT": str(free_port())}
    project = unique("kubemu").replace("-", "")
    base = [*cmd, "-f", str(COMPOSE_FILE), "-p", project]
    up = subprocess.run([*base, "up", "-d", "--no-build"], capture_output=True, text=True, env=env, timeout=300)
    assert up.returncode == 0, up.stderr
    try:
        yield base, env, project
    finally:
        subprocess.run([*base, "down", "-v", "--remove-orphans"], capture_output=True, env=env, timeout=300)
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                              capture_output=True, text=True).stdout.split()
        nets = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"name={project}"],
                              capture_output=True, text=True).stdout.split()
        vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"name={project}"],
                              capture_output=True, text=True).stdout.split()
        assert not left and not nets and not vols, (left, nets, vols)


@pytest.fixture
async def api(compose: tuple[list[str], dict[str, str], str]) -> AsyncIterator[Client]:
    token = apiserver_token(f"com.docker.compose.project={compose[2]}", "com.docker.compose.service=apiserver")
    c = Client(f"127.0.0.1:{compose[1]['KUBEMU_PORT']}", token=token)
    yield c
    await c.close()


async def ready_nodes(client: Client) -> list[str]:
    nodes = (await client.nodes.list()).items
    return sorted(n.metadata.name for n in nodes
                  if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions))


def container_of(node: str, project: str) -> str:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                          "--filter", "label=com.docker.compose.service=kubelet"],
                         capture_output=True, text=True).stdout.split()
    for cid in ids:
        host = subprocess.run(["docker", "inspect", "-f", "{{.Config.Hostname}}", cid], capture_output=True,
                              text=True).stdout.strip()
        if host == node:
            return cid
    raise AssertionError(f"no kubelet container for node {node}")


async def test_compose_cluster_runs_and_heals(api: Client, compose: tuple[list[str], dict[str, str], str]) -> None:
    _, _, project = compose
    nodes = await until(lambda: _three(api), 120, interval=0.5)
    # Static pods from deploy/static-pods run on every kubelet and are mirrored.
    await until(lambda: _mirrors(api, nodes), 60, interval=0.5)

    deploy = from_dict({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                     "containers": [{"name": "nginx", "image": "nginx"}],
                     "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                      "effect": "NoExecute", "tolerationSeconds": 2}]}}}})
    await api.deployments.create(deploy)
    pods = await until(lambda: _running(api, 3), 60, interval=0.5)
    victim = pods[0].spec.node_name
    cid = container_of(victim, project)
    await asyncio.to_thread(subprocess.run, ["docker", "kill", cid], check=True, capture_output=True)

    async def moved() -> bool:
        running = await _running(api, 3)
        return bool(running) and all(p.spec.node_name != victim for p in running)

    await until(moved, 60, interval=0.5)
    await asyncio.to_thread(subprocess.run, ["docker", "start", cid], check=True, capture_output=True)
    await until(lambda: _ready_again(api, victim), 60, interval=0.5)


async def test_compose_scales_kubelets(api: Client, compose: tuple[list[str], dict[str, str], str]) -> None:
    base, env, project = compose
    up = await asyncio.to_thread(subprocess.run, [*base, "up", "-d", "--no-build", "--scale", "kubelet=6"],
                                 capture_output=True, text=True, env=env, timeout=300)
    assert up.returncode == 0, up.stderr
    nodes = await until(lambda: _count(api, 6), 120, interval=0.5)
    # Each new node is named after its container, as the first three are.
    for node in nodes:
        container_of(node, project)


async def _three(client: Client) -> list[str] | None:
    return await _count(client, 3)


async def _count(client: Client, n: int) -> list[str] | None:
    names = await ready_nodes(client)
    return names if len(names) == n else None


async def _mirrors(client: Client, nodes: list[str]) -> bool:
    try:
        for n in nodes:
            p = await client.pods.get(f"node-agent-{n}", "default")
            if p.status.phase != "Running":
                return False
    except errors.NotFound:
        return False
    return True


async def _running(client: Client, n: int) -> list[Any] | None:
    pods = [p for p in (await client.pods.list("default", label_selector="app=web")).items
            if p.status.phase == "Running" and not p.metadata.HasField("deletion_timestamp")]
    return pods if len(pods) == n else None


async def _ready_again(client: Client, node: str) -> bool:
    return node in await ready_nodes(client)



async def test_chaos_run_on_compose(api: Client, compose: tuple[list[str], dict[str, str], str], tmp_path: Any) -> None:
    """`kubemu chaos run --compose`: docker kill/pause/network disconnect as the faults, every invariant kept."""
    _, env, project = compose
    history = tmp_path / "history.jsonl"
    r = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kubemu.cli.main", "chaos", "run", "--compose", project,
         "--server", f"127.0.0.1:{env['KUBEMU_PORT']}", "--profile", "fast", "--duration", "16s", "--seed", "3",
         "--slack", "25",
         "--fault", "kill-kubelet:every=6s,for=3s", "--fault", "pause-kubelet:every=7s,for=3s",
         "--fault", "partition-kubelet:every=8s,for=3s", "--fault", "kill-apiserver:every=10s,for=2s",
         "--fault", "kill-redis:every=12s,for=2s", "--workload", "deployment:chaosweb:replicas=4",
         "--history", str(history)],
        capture_output=True, text=True, timeout=240, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FAIL" not in r.stdout
    kinds = {json.loads(line).get("fault") for line in history.read_text().splitlines() if '"fault"' in line}
    assert {"kill-kubelet", "pause-kubelet", "partition-kubelet", "kill-apiserver", "kill-redis"} <= kinds
