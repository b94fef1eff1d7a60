"""SPDY/3.1 framing, the server's side of what kubectl port-forward tunnels through its WebSocket: frames cut from a
byte stream, and the frames a server sends (SYN_REPLY, DATA, PING, RST_STREAM), headers compressed as spdystream's."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_CANCEL = 5
MAX_DATA = 32 * 1024
"""The largest DATA frame sent (spdystream's own writer cuts its frames smaller than this too)."""

_WORDS = [*("options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
          "age allow authorization cache-control connection content-base content-encoding content-language "
          "content-length content-location content-md5 content-range content-type date etag expect expires from "
          "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
          "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
          "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status").split(),
          "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin"]
_TAIL = (b"100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         b"203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         b"403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         b"Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         b"chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         b"text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL
"""SPDY/3's header compression dictionary (section 2.6.10.1 of the draft): every header block of a connection is
one zlib stream primed with it, in each direction."""


class ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class Frame:
    """A control frame (`type` > 0, with its payload after the header) or a DATA frame (`type` 0, `stream_id`)."""

    type: int
    flags: int
    payload: bytes
    stream_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


def _header_block(pairs: dict[str, str]) -> bytes:
    out = [struct.pack(">I", len(pairs))]
    for name, value in pairs.items():
        n, v = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def _parse_headers(block: bytes) -> dict[str, str]:
    try:
        (count,), pos = struct.unpack_from(">I", block), 4
        headers: dict[str, str] = {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, pos)
            name = block[pos + 4:pos + 4 + n].decode()
            pos += 4 + n
            (v,) = struct.unpack_from(">I", block, pos)
            headers[name.lower()] = block[pos + 4:pos + 4 + v].decode().split("\x00")[0]
            pos += 4 + v
        return headers
    except (struct.error, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed header block: {e}") from None


class Connection:
    """One SPDY session's framing state: the bytes not yet cut into frames and both header compression streams."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                        zdict=DICTIONARY)

    def feed(self, data: bytes) -> Iterator[Frame]:
        """The whole frames that `data` completes."""
        self.buffer += data
        while len(self.buffer) >= 8:
            first, second = struct.unpack_from(">II", self.buffer)
            length = second & 0xFFFFFF
            if len(self.buffer) < 8 + length:
                return
            payload = bytes(self.buffer[8:8 + length])
            del self.buffer[:8 + length]
            flags = second >> 24
            if not first & 0x80000000:
                yield Frame(0, flags, payload, stream_id=first & 0x7FFFFFFF)
                continue
            version, ftype = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise ProtocolError(f"unsupported SPDY version {version}")
            if ftype == SYN_STREAM:
                if length < 10:
                    raise ProtocolError("short SYN_STREAM")
                (sid,) = struct.unpack_from(">I", payload)
                yield Frame(ftype, flags, payload, sid & 0x7FFFFFFF, self._headers(payload[10:]))
            elif ftype in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", payload)
                yield Frame(ftype, flags, payload, sid & 0x7FFFFFFF, self._headers(payload[4:]))
            elif ftype in (RST_STREAM, WINDOW_UPDATE) and length >= 4:
                (sid,) = struct.unpack_from(">I", payload)
                yield Frame(ftype, flags, payload, sid & 0x7FFFFFFF)
            else:
                yield Frame(ftype, flags, payload)

    def _headers(self, compressed: bytes) -> dict[str, str]:
        try:
            block = self.inflate.decompress(compressed)
        except zlib.error as e:
            raise ProtocolError(f"header decompression: {e}") from None
        return _parse_headers(block)

    @staticmethod
    def _control(ftype: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, ftype, (flags << 24) | len(payload)) + payload

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None) -> bytes:
        block = self.deflate.compress(_header_block(headers or {})) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        return self._control(SYN_REPLY, 0, struct.pack(">I", stream_id) + block)

    def ping(self, payload: bytes) -> bytes:
        return self._control(PING, 0, payload)

    def rst_stream(self, stream_id: int, status: int = RST_CANCEL) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> Iterator[bytes]:
        """DATA frames carrying `data` (an empty one when there is none and it ends the stream)."""
        chunks = [data[i:i + MAX_DATA] for i in range(0, len(data), MAX_DATA)] or [b""]
        for i, chunk in enumerate(chunks):
            flags = FLAG_FIN if fin and i == len(chunks) - 1 else 0
            yield struct.pack(">II", stream_id, (flags << 24) | len(chunk)) + chunk
