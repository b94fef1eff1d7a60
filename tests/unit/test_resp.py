"""The pipelined Redis connection's framing, on bytes: commands as RESP arrays, replies handed out in order,
and a reply stream that cannot be parsed failing what waits instead of mismatching replies."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from apiserver.resp import _Protocol, encode_command

pytestmark = pytest.mark.unit


def test_commands_are_resp_arrays_of_bulk_strings() -> None:
    assert encode_command(("EVALSHA", b"ab", 2, "k")) == b"*4\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n$1\r\nk\r\n"
    with pytest.raises(TypeError, match="cannot send float"):
        encode_command(("SET", 1.5))


class _Transport:
    def __init__(self, proto: _Protocol) -> None:
        self.proto = proto
        self.written = b""

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.proto.connection_lost(None)


async def test_replies_go_to_the_commands_in_order_and_garbage_fails_the_rest() -> None:
    proto = _Protocol()
    proto.connection_made(_Transport(proto))  # type: ignore[arg-type]
    first, second, third = (proto.send(encode_command(("GET", k))) for k in "abc")
    await asyncio.sleep(0)  # the turn's commands go out in one write
    assert proto.transport.written.count(b"GET") == 3  # type: ignore[union-attr]
    proto.data_received(b"$1\r\nA\r\n$-1")
    proto.data_received(b"\r\n")
    assert first.result() == b"A" and second.result() is None and not third.done()
    proto.data_received(b"?not resp\r\n")
    with pytest.raises(RedisConnectionError):
        third.result()
    late = proto.send(encode_command(("GET", "d")))
    with pytest.raises(RedisConnectionError):
        late.result()


@pytest.mark.parametrize("url", ["rediss://127.0.0.1:6379/0", "127.0.0.1:6379"])
def test_the_apiserver_refuses_a_store_url_its_connection_cannot_speak(url: str, capsys: pytest.CaptureFixture[str]
                                                                       ) -> None:
    from apiserver.main import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args(["--redis", url])
    assert exit_.value.code == 2
    assert "argument --redis: unsupported URL scheme" in capsys.readouterr().err
    assert parse_args(["--redis", "unix:///tmp/redis.sock"]).redis == "unix:///tmp/redis.sock"
