"""The pieces of the streaming subresources that need no process: the shell's stdin (`read`, `cat`), SPDY framing,
what a forwarded port answers, the exec error channel's Status and the kubelet's log timestamps."""

from __future__ import annotations

import struct
import zlib

import pytest

from apiserver.rest import spdy
from apiserver.rest.streams import exit_status
from kubelet import portforward
from kubelet.runtime.fs import ContainerFS, image_root
from kubelet.runtime.shell import ShellContext, run_command
from kubelet.server import rfc3339_nano


async def run(argv: list[str], stdin: bytes) -> tuple[int, list[str]]:
    lines: list[str] = []
    ctx = ShellContext(fs=ContainerFS(image_root("pod-1")), stdout=lines.append)
    return await run_command(argv, ctx, stdin), lines


@pytest.mark.parametrize(
    ("script", "stdin", "code", "out"),
    [
        ("read x; echo got $x", b"hello world\n", 0, ["got hello world"]),
        # Fields split on IFS whitespace; the last name takes the rest less trailing blanks.
        ('read a b; echo "[$a] [$b]"', b"  one two  three \n", 0, ["[one] [two  three]"]),
        # Commands of one shell share stdin: cat gets what read left.
        ("read a; cat", b"first\nsecond\nthird", 0, ["second", "third"]),
        ("read a; read b; echo $b$a", b"1\n2\n", 0, ["21"]),
        # At end of input read fails, with what it did read assigned.
        ("read x; echo $? [$x]", b"partial", 0, ["1 [partial]"]),
        ("read x; echo $? [$x]", b"", 0, ["1 []"]),
        # Without -r a backslash escapes and joins lines; with -r it is kept.
        (r"read x; echo [$x]", b"a\\ b\\\nc\n", 0, ["[a bc]"]),
        (r"read -r x; echo [$x]", b"d\\e\n", 0, ["[d\\e]"]),
        ("read; echo $REPLY", b"line\n", 0, ["line"]),
        ("echo piped | (read v; echo v=$v)", b"", 0, ["v=piped"]),
        ("read 1x", b"", 1, ["sh: read: '1x': not a valid identifier"]),
        ("cat; cat", b"once\n", 0, ["once"]),
    ],
)
async def test_read_and_stdin(script: str, stdin: bytes, code: int, out: list[str]) -> None:
    assert await run(["sh", "-c", script], stdin) == (code, out)


async def test_exec_of_cat_echoes_stdin() -> None:
    assert await run(["cat"], b"hello\nworld\n") == (0, ["hello", "world"])


# ---- SPDY ---------------------------------------------------------------------------------------------------------


def test_dictionary_is_spdy3s() -> None:
    # The SPDY/3 draft's dictionary: 1423 bytes, and the id zlib puts in a stream primed with it.
    assert (len(spdy.DICTIONARY), zlib.adler32(spdy.DICTIONARY)) == (1423, 0xE3C6A7C2)


def _client_syn_stream(deflate: zlib._Compress, stream_id: int, headers: dict[str, str]) -> bytes:
    block = struct.pack(">I", len(headers)) + b"".join(
        struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode() for k, v in headers.items())
    compressed = deflate.compress(block) + deflate.flush(zlib.Z_SYNC_FLUSH)
    payload = struct.pack(">IIH", stream_id, 0, 0) + compressed
    return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(payload)) + payload


def test_frames_cut_from_a_byte_stream_in_any_pieces() -> None:
    deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
    wire = (_client_syn_stream(deflate, 1, {"streamtype": "error", "port": "80", "requestid": "0"})
            + _client_syn_stream(deflate, 3, {"streamtype": "data", "port": "80", "requestid": "0"})
            + b"".join(spdy.Connection.data(3, b"GET / HTTP/1.1\r\n\r\n", fin=True))
            + struct.pack(">HHI", 0x8003, spdy.PING, 4) + struct.pack(">I", 1))
    conn = spdy.Connection()
    frames = [f for i in range(0, len(wire), 7) for f in conn.feed(wire[i:i + 7])]
    assert [(f.type, f.stream_id) for f in frames] == [(1, 1), (1, 3), (0, 3), (6, 0)]
    assert frames[1].headers == {"streamtype": "data", "port": "80", "requestid": "0"}
    assert frames[2].payload == b"GET / HTTP/1.1\r\n\r\n" and frames[2].fin
    assert conn.ping(frames[3].payload) == wire[-12:]


def test_syn_reply_headers_decompress_with_the_dictionary() -> None:
    conn = spdy.Connection()
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    for sid in (1, 3):
        frame = conn.syn_reply(sid)
        assert struct.unpack_from(">HHI", frame)[:2] == (0x8003, spdy.SYN_REPLY)
        assert struct.unpack_from(">I", frame, 8) == (sid,)
        assert inflate.decompress(frame[12:]) == b"\x00\x00\x00\x00"


def test_long_data_is_cut_and_only_the_last_frame_ends_the_stream() -> None:
    frames = list(spdy.Connection.data(5, b"x" * (spdy.MAX_DATA + 1), fin=True))
    assert [len(f) - 8 for f in frames] == [spdy.MAX_DATA, 1]
    assert [f[4] for f in frames] == [0, spdy.FLAG_FIN]
    assert list(spdy.Connection.data(5, b"", fin=True)) == [struct.pack(">II", 5, spdy.FLAG_FIN << 24)]


# ---- what a forwarded port answers --------------------------------------------------------------------------------


def test_nginx_serves_its_html_folder_and_its_welcome_page() -> None:
    fs = ContainerFS(image_root("web"))
    welcome = portforward.answer("nginx:1.27", 80, fs, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0)
    assert welcome.startswith(b"HTTP/1.1 200 OK\r\nServer: nginx/") and welcome.endswith(portforward.NGINX_WELCOME)
    fs.mkdir("/usr/share/nginx/html", parents=True)
    fs.write("/usr/share/nginx/html/index.html", b"<p>mine</p>\n")
    assert portforward.answer("nginx", 80, fs, b"GET / HTTP/1.1\r\n\r\n", 0).endswith(b"\r\n\r\n<p>mine</p>\n")
    assert portforward.answer("nginx", 80, fs, b"GET /x HTTP/1.1\r\n\r\n", 0).startswith(b"HTTP/1.1 404 Not Found")
    assert portforward.answer("nginx", 80, fs, b"HEAD / HTTP/1.1\r\n\r\n", 0).endswith(b"\r\n\r\n")


def test_other_servers() -> None:
    fs = ContainerFS(image_root("web"))
    assert portforward.answer("httpd", 80, fs, b"GET / HTTP/1.0\r\n\r\n", 0).endswith(portforward.HTTPD_WORKS)
    other = portforward.answer("example.com/app:1", 9000, fs, b"GET / HTTP/1.1\r\n\r\n", 0)
    assert other.endswith(b"kubemu: simulated server of image example.com/app:1 listening on port 9000\n")
    assert portforward.answer("redis", 6379, fs, b"PING\r\n\r\n", 0) == b""  # not HTTP: no answer
    assert not portforward.request_complete(b"GET / HTTP/1.1\r\nHost: x\r\n")


def test_refused_port_says_what_the_kubelet_says() -> None:
    message = portforward.refused_message("uid-1", 81)
    assert message.startswith("error forwarding port 81 to pod ")
    assert ", uid : failed to execute portforward in network namespace \"/var/run/netns/cni-" in message
    assert "dial tcp4 127.0.0.1:81: connect: connection refused" in message


# ---- exec's error channel, log timestamps ------------------------------------------------------------------------


def test_exit_status() -> None:
    assert exit_status(0, ["true"]) == {"metadata": {}, "status": "Success"}
    assert exit_status(3, ["sh", "-c", "exit 3"]) == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3",
        "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}}


def test_rfc3339_nano_drops_trailing_zeros() -> None:
    assert rfc3339_nano(0) == "1970-01-01T00:00:00Z"
    assert rfc3339_nano(1.5) == "1970-01-01T00:00:01.5Z"
    assert rfc3339_nano(1.123456789) == "1970-01-01T00:00:01.123456789Z"
