"""An apiserver started with --token-auth-file: gRPC calls without one of its tokens end Unauthorized (the SDK's
errors.Unauthorized, unary and streaming), calls with one are served, health checks stay open."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kubemu.client import errors
from kubemu.client.client import Client
from kubemu.pb import core_pb2
from tests.support import ApiServer, RedisServer, run_cli, unique

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tokens = tmp_path_factory.mktemp("authn") / "tokens.csv"
    tokens.write_text(f'{TOKEN},kubemu-admin,kubemu-admin,"system:masters"\n')
    server = ApiServer(redis_server.url, flags=["--token-auth-file", str(tokens)]).start()
    yield server
    server.stop()


async def test_a_call_without_a_token_is_unauthorized(guarded: ApiServer) -> None:
    async with Client(guarded.address, retry_for=5) as c:
        with pytest.raises(errors.Unauthorized) as e:
            await c.nodes.list()
    assert (e.value.reason, e.value.code, e.value.message) == ("Unauthorized", 401, "Unauthorized")


async def test_a_wrong_token_is_unauthorized_for_unary_and_streaming_calls(guarded: ApiServer) -> None:
    async with Client(guarded.address, retry_for=5, token="not-" + TOKEN) as c:
        with pytest.raises(errors.Unauthorized):
            await c.namespaces.get("default")
        with pytest.raises(errors.Unauthorized):
            async for _ in c.pods.watch("default"):
                pass


async def test_the_token_is_accepted_on_every_kind_of_call(guarded: ApiServer) -> None:
    async with Client(guarded.address, retry_for=5, token=TOKEN) as c:
        ns = core_pb2.Namespace()
        ns.metadata.name = unique("authn")
        created = await c.namespaces.create(ns)
        assert (await c.namespaces.get(ns.metadata.name)).metadata.uid == created.metadata.uid
        listed = await c.namespaces.list()
        events = c.namespaces.watch(resource_version=listed.resource_version)
        updated = core_pb2.Namespace()
        updated.CopyFrom(created)
        updated.metadata.labels["seen"] = "yes"

        async def first() -> str:
            async for ev in events:
                return ev.type
            return ""

        waiting = asyncio.create_task(first())
        await asyncio.sleep(0.2)
        await c.namespaces.update(updated)
        assert await asyncio.wait_for(waiting, 10) == "MODIFIED"


def test_health_checks_need_no_token(guarded: ApiServer) -> None:
    with grpc.insecure_channel(guarded.address) as ch:
        reply = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_the_cli_says_what_kubectl_says_and_takes_token(guarded: ApiServer, tmp_path: Path) -> None:
    refused = run_cli("--state-dir", str(tmp_path), "get", "namespaces", server=guarded.address)
    assert refused.returncode == 1
    assert refused.stderr == "error: You must be logged in to the server (Unauthorized)\n"
    ok = run_cli("--token", TOKEN, "get", "namespace", "default", server=guarded.address)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].split() == ["NAME", "STATUS", "AGE"]


def test_an_unreadable_token_file_stops_the_apiserver_with_a_message(redis_server: RedisServer,
                                                                     tmp_path: Path) -> None:
    server = ApiServer(redis_server.url, flags=["--token-auth-file", str(tmp_path / "missing.csv")])
    server._spawn("apiserver.main", "--listen", server.address, "--redis", redis_server.url,
                  "--token-auth-file", str(tmp_path / "missing.csv"))
    assert server.proc is not None
    assert server.proc.wait(30) == 1
    assert f"kubemu-apiserver: cannot read token file '{tmp_path / 'missing.csv'}'" in server.logs()
