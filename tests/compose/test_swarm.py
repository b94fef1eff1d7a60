"""The compose file under Docker Swarm, as `deploy/stack deploy` runs it: on a single-node swarm (initialised
here when the engine is in none, and left again afterwards), three kubelet tasks register Ready nodes, a
Deployment runs, and `deploy/stack rm` leaves no service, container or network behind."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from kubemu.api.serialization import from_dict
from kubemu.client.client import Client
from tests.compose.conftest import apiserver_token
from tests.support import REPO, free_port, unique, until

pytestmark = pytest.mark.compose

STACK = [sys.executable, str(REPO / "deploy" / "stack")]


def _swarm_state() -> str:
    return subprocess.run(["docker", "info", "-f", "{{.Swarm.LocalNodeState}}"], capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def stack(images: dict[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    state = _swarm_state()
    joined_here = False
    had_gwbridge = subprocess.run(["docker", "network", "inspect", "docker_gwbridge"],
                                  capture_output=True).returncode == 0
    if state == "inactive":
        init = subprocess.run(["docker", "swarm", "init"], capture_output=True, text=True)
        if init.returncode != 0:
            pytest.skip(f"cannot make this engine a single-node swarm: {init.stderr.strip()}")
        joined_here = True
    elif state != "active":
        pytest.skip(f"the engine's swarm state is {state!r}")
    elif subprocess.run(["docker", "info", "-f", "{{.Swarm.ControlAvailable}}"], capture_output=True,
                        text=True).stdout.strip() != "true":
        pytest.skip("this engine is a swarm worker, not a manager: it cannot deploy a stack")
    name = unique("kms").replace("-", "")
    env = {**images, "KUBEMU_PROFILE": "fast", "KUBEMU_PORT": str(free_port()), "KUBEMU_REST_PORT": str(free_port())}
    try:
        up = subprocess.run([*STACK, "deploy", name], capture_output=True, text=True, env=env, timeout=120)
        assert up.returncode == 0, up.stderr
        yield name, env
    finally:
        subprocess.run([*STACK, "rm", name], capture_output=True, env=env, timeout=120)

        def gone() -> bool:
            ps = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={name}"],
                                capture_output=True, text=True).stdout.split()
            nets = subprocess.run(["docker", "network", "ls", "-q", "--filter",
                                   f"label=com.docker.stack.namespace={name}"], capture_output=True, text=True)
            return not ps and not nets.stdout.split()

        deadline_ok = _wait(gone, 60)
        # A stack's named volumes outlive `docker stack rm` (as upstream documents): remove ours.
        vols = subprocess.run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"],
                              capture_output=True, text=True).stdout.split()
        for v in vols:
            subprocess.run(["docker", "volume", "rm", "-f", v], capture_output=True)
        if joined_here:
            subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True)
            if not had_gwbridge:  # made by `docker swarm init`; not removed by leaving
                subprocess.run(["docker", "network", "rm", "docker_gwbridge"], capture_output=True)
        assert deadline_ok, f"stack {name} left containers or networks behind"


def _wait(cond: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.5)
    return False


@pytest.fixture
async def api(stack: tuple[str, dict[str, str]]) -> AsyncIterator[Client]:
    token = apiserver_token(f"com.docker.stack.namespace={stack[0]}",
                            f"com.docker.swarm.service.name={stack[0]}_apiserver")
    c = Client(f"127.0.0.1:{stack[1]['KUBEMU_PORT']}", retry_for=30, token=token)
    yield c
    await c.close()


async def test_stack_runs_under_swarm(api: Client) -> None:
    async def three_ready() -> bool:
        try:
            nodes = (await api.nodes.list()).items
        except Exception:
            return False  # the apiserver task is still starting
        return sum(any(c.type == "Ready" and c.status == "True" for c in n.status.conditions) for n in nodes) == 3

    await until(three_ready, 120, interval=1)
    await api.deployments.create(from_dict({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}}))

    async def running() -> bool:
        pods = (await api.pods.list("default", label_selector="app=web")).items
        return sum(p.status.phase == "Running" for p in pods) == 3

    await until(running, 60, interval=0.5)
