from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kubemu.client.client import Client
from tests.support import ApiServer, RedisContainer, RedisServer, free_port, start_redis, unique

_KUBECONFIG_DIR: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Every `kubemu up` a test runs (and every process it starts, which inherit the environment) adds its context
    to a kubeconfig of the session's own, never to the developer's ~/.kube/config or $KUBECONFIG."""
    global _KUBECONFIG_DIR
    _KUBECONFIG_DIR = tempfile.mkdtemp(prefix="kubemu-test-kubeconfig-")
    os.environ["KUBECONFIG"] = os.path.join(_KUBECONFIG_DIR, "config")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The processes' logs go with a green session and stay, with their folder named, after a red one."""
    from tests import support

    if _KUBECONFIG_DIR is not None:
        shutil.rmtree(_KUBECONFIG_DIR, ignore_errors=True)

    if support._LOG_DIR is None:
        return
    if exitstatus == 0:
        shutil.rmtree(support._LOG_DIR, ignore_errors=True)
    else:
        print(f"\nlogs of the processes the tests started: {support._LOG_DIR}")


def pytest_report_header() -> str:
    from tests.support import redis_image, redis_server_binary

    image = redis_image()
    return f"redis for tests: container from image {image}" if image else (
        f"redis for tests: binary {redis_server_binary()} (no local Redis image; set KUBEMU_TEST_REDIS_IMAGE)")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | RedisContainer]:
    """One real Redis for the session: in a container where the engine has a Redis image, else the binary."""
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def apiserver(redis_server: RedisServer | RedisContainer) -> Iterator[ApiServer]:
    """The session's apiserver: gRPC, and the Kubernetes REST API over HTTPS with a token (`rest_url`, `rest`)."""
    server = ApiServer(redis_server.url, rest_port=free_port()).start()
    yield server
    server.stop()
    if server.rest is not None:
        shutil.rmtree(server.rest.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fast_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cluster config on the fast timing profile, for processes whose timings a test waits on."""
    path = tmp_path_factory.mktemp("cfg") / "cluster.yaml"
    path.write_text("profile: fast\n")
    return path


@pytest.fixture
async def client(apiserver: ApiServer) -> AsyncIterator[Client]:
    c = Client(apiserver.address)
    yield c
    await c.close()


@pytest.fixture
async def namespace(client: Client) -> str:
    """A fresh namespace per test, so tests sharing one apiserver never see each other's objects."""
    from kubemu.pb import core_pb2

    name = unique("t")
    ns = core_pb2.Namespace()
    ns.metadata.name = name
    await client.namespaces.create(ns)
    return name
