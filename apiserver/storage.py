"""Redis as a watchable store, in etcd's model: one global revision, every write one atomic Lua script.

Keys: `rev` (the revision counter); `o:<Kind>:<ns>/<name>` a hash {d: object bytes without resourceVersion,
rv, uid}; `i:<Kind>` a sorted set of `<ns>/<name>` for listing; `e:<Kind>` a stream of watch events whose
entry id is `<revision>-0`; `c:<Kind>` the highest revision trimmed from that stream; `x:<Kind>`, for a kind
kept only for a while (Events, kube-apiserver's --event-ttl), a sorted set of `<ns>/<name>` by the time each
object expires, set by every create and update, as etcd's lease on an Event key is.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apiserver import errors
from apiserver.resp import ScriptConnection

# Shared by every write script: append the event, then trim the stream in batches, recording
# the highest trimmed revision so a watch from before it is refused rather than silently gapped.
_APPEND = """
local function append(stream, compacted, rev, etype, member, data, attrs, prev, maxlen)
  redis.call('XADD', stream, rev .. '-0', 't', etype, 'k', member, 'd', data, 'a', attrs, 'p', prev)
  local len = redis.call('XLEN', stream)
  if len > maxlen + math.max(16, math.floor(maxlen / 10)) then
    local old = redis.call('XRANGE', stream, '-', '+', 'COUNT', len - maxlen)
    local last = old[#old][1]
    redis.call('SET', compacted, string.match(last, '^(%d+)'))
    redis.call('XTRIM', stream, 'MAXLEN', maxlen)
  end
end
"""

# KEYS: rev, object, index, stream, compacted, namespace-object-or-empty, expiry-index-or-empty
# ARGV: data, uid, member, attrs, maxlen, expires-at
_CREATE = _APPEND + """
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1} end
if KEYS[6] ~= '' and redis.call('EXISTS', KEYS[6]) == 0 then return {-2} end
local rev = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'd', ARGV[1], 'rv', rev, 'uid', ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
if KEYS[7] ~= '' then redis.call('ZADD', KEYS[7], ARGV[6], ARGV[3]) end
append(KEYS[4], KEYS[5], rev, 'ADDED', ARGV[3], ARGV[1], ARGV[4], '', tonumber(ARGV[5]))
return {rev}
"""

# KEYS: rev, object, stream, compacted, expiry-index-or-empty
# ARGV: data, expected rv, member, attrs, prev attrs, maxlen, expires-at
_UPDATE = _APPEND + """
local cur = redis.call('HGET', KEYS[2], 'rv')
if not cur then return {-1} end
if cur ~= ARGV[2] then return {-3, tonumber(cur)} end
local rev = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], 'd', ARGV[1], 'rv', rev)
if KEYS[5] ~= '' then redis.call('ZADD', KEYS[5], ARGV[7], ARGV[3]) end
append(KEYS[3], KEYS[4], rev, 'MODIFIED', ARGV[3], ARGV[1], ARGV[4], ARGV[5], tonumber(ARGV[6]))
return {rev}
"""

# KEYS: rev, object, index, stream, compacted, expiry-index-or-empty
# ARGV: final data, expected rv, member, attrs, maxlen, only-if-expired-by-or-empty
_DELETE = _APPEND + """
local cur = redis.call('HGET', KEYS[2], 'rv')
if not cur then return {-1} end
if cur ~= ARGV[2] then return {-3, tonumber(cur)} end
if ARGV[6] ~= '' then
  local at = redis.call('ZSCORE', KEYS[6], ARGV[3])
  if not at or tonumber(at) > tonumber(ARGV[6]) then return {-4} end
end
local rev = redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[3])
if KEYS[6] ~= '' then redis.call('ZREM', KEYS[6], ARGV[3]) end
append(KEYS[4], KEYS[5], rev, 'DELETED', ARGV[3], ARGV[1], ARGV[4], '', tonumber(ARGV[5]))
return {rev}
"""

# KEYS: expiry index, object.  ARGV: member.  An index entry whose object is gone goes too (never a live one).
_FORGET = """
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: range.  ARGV: item, owner.  Gives an item back only for the owner that holds it.
_RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""

# KEYS: rev, index.  ARGV: object key prefix, lex min, lex max.
# One script, so the items and the revision are one consistent snapshot.
_LIST = """
local members = redis.call('ZRANGEBYLEX', KEYS[2], ARGV[2], ARGV[3])
local out = {}
for i, m in ipairs(members) do
  local v = redis.call('HMGET', ARGV[1] .. m, 'rv', 'd')
  out[#out + 1] = v[1]
  out[#out + 1] = v[2]
end
return {redis.call('GET', KEYS[1]) or '0', out}
"""

# KEYS: stream, compacted.  ARGV: after revision (exclusive), up to revision (inclusive).
_RANGE = """
local compacted = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) < compacted then return {-1, compacted} end
return {0, redis.call('XRANGE', KEYS[1], (tonumber(ARGV[1]) + 1) .. '-0', ARGV[2] .. '-0')}
"""


@dataclass(frozen=True)
class StreamEvent:
    revision: int
    type: str
    member: str
    """`<namespace>/<name>`"""
    data: bytes
    attrs: bytes
    """The object's selectable attributes as JSON (labels and fields), so filters need no decoding."""
    prev_attrs: bytes
    """On MODIFIED, the attributes before the change: a watch sees ADDED/DELETED when a change moves
    the object into or out of its filter."""
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What the fan-out derives from the event (decoded attributes, the encoded message), computed once for
    all the watchers it goes to."""


POOL_SIZE = 64
"""Redis connections for reads the pipelined connection does not serve (lists, ranges, watch backlogs)."""
POOL_WAIT = 10.0
"""Seconds a read waits for a pooled connection before it fails as unavailable."""


class Store:
    def __init__(self, url: str, watch_history: int = 10_000, ttl: dict[str, float] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`ttl`: seconds each object of a kind is kept after its last create or update (kube-apiserver keeps
        Events for --event-ttl); `expired` names the ones past it."""
        self.url = url
        self.watch_history = watch_history
        self.ttl = dict(ttl or {})
        self.clock = clock
        # Lists, ranges and watch backlogs share a pool; past its size a read waits for a connection (up to
        # POOL_WAIT seconds) instead of failing, as redis-py's default pool does with "Too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=POOL_SIZE, timeout=POOL_WAIT, decode_responses=False, socket_connect_timeout=2,
            health_check_interval=10,
        )
        self.redis: aioredis.Redis = aioredis.Redis(connection_pool=pool)
        self._create = self.redis.register_script(_CREATE)
        self._update = self.redis.register_script(_UPDATE)
        self._delete = self.redis.register_script(_DELETE)
        self._forget = self.redis.register_script(_FORGET)
        self._list = self.redis.register_script(_LIST)
        self._range = self.redis.register_script(_RANGE)
        self._release = self.redis.register_script(_RELEASE)
        self._conn = ScriptConnection(url, connect_timeout=2)
        """Writes and object reads, pipelined on one connection (redis-py serves lists and ranges)."""
        self._stream_conn = ScriptConnection(url, connect_timeout=2)
        """The watch hub's blocking XREAD, on a connection of its own (a blocked command holds its connection)."""

    async def close(self) -> None:
        await self._conn.close()
        await self._stream_conn.close()
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()  # a pool handed to Redis() is not closed with it

    async def ping(self) -> None:
        await self._call(self.redis.ping())

    # -- keys -------------------------------------------------------------------------------------

    @staticmethod
    def member(namespace: str, name: str) -> str:
        return f"{namespace}/{name}"

    @staticmethod
    def object_key(kind: str, member: str) -> str:
        return f"o:{kind}:{member}"

    @staticmethod
    def stream_key(kind: str) -> str:
        return f"e:{kind}"

    def _expiry(self, kind: str) -> tuple[str, str]:
        """The kind's expiry index key and the expiry time of an object written now ("", "" for a kind kept for
        good)."""
        ttl = self.ttl.get(kind)
        if ttl is None:
            return "", ""
        return f"x:{kind}", repr(self.clock() + ttl)

    # -- calls ------------------------------------------------------------------------------------

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except (RedisConnectionError, RedisTimeoutError, OSError) as e:
            raise errors.Unavailable(f"storage is unavailable: {e}") from e
        except ResponseError as e:
            raise errors.ApiError(f"storage error: {e}") from e
        except RedisError as e:
            raise errors.Unavailable(f"storage is unavailable: {e}") from e

    async def revision(self) -> int:
        value = await self._call(self.redis.get("rev"))
        return int(value or 0)

    async def get(self, kind: str, member: str) -> tuple[bytes, int] | None:
        # On the write connection: a read sent after a write is answered after it (and without redis-py's
        # per-command cost, on the path of every update).
        rv, data = await self._call(self._conn.call("HMGET", self.object_key(kind, member), "rv", "d"))
        if rv is None:
            return None
        return data, int(rv)

    async def create(
        self, kind: str, member: str, data: bytes, uid: str, attrs: bytes, namespace_member: str | None
    ) -> int:
        """Store a new object; returns its revision. `namespace_member` must exist (objects in a missing
        namespace are refused inside the same atomic step)."""
        expiry_key, expires = self._expiry(kind)
        keys = [
            "rev", self.object_key(kind, member), f"i:{kind}", self.stream_key(kind), f"c:{kind}",
            self.object_key("Namespace", namespace_member) if namespace_member is not None else "", expiry_key,
        ]
        result = await self._call(
            self._conn.evalsha(self._create, keys, [data, uid, member, attrs, self.watch_history, expires])
        )
        if result[0] == -1:
            raise Exists()
        if result[0] == -2:
            raise NamespaceMissing()
        return int(result[0])

    async def update(
        self, kind: str, member: str, data: bytes, expected_rv: int, attrs: bytes, prev_attrs: bytes
    ) -> int:
        expiry_key, expires = self._expiry(kind)
        keys = ["rev", self.object_key(kind, member), self.stream_key(kind), f"c:{kind}", expiry_key]
        result = await self._call(
            self._conn.evalsha(self._update, keys, [data, str(expected_rv), member, attrs, prev_attrs,
                                                    self.watch_history, expires])
        )
        if result[0] == -1:
            raise Missing()
        if result[0] == -3:
            raise Stale(int(result[1]))
        return int(result[0])

    async def delete(self, kind: str, member: str, final_data: bytes, expected_rv: int, attrs: bytes, *,
                     expired: bool = False) -> int:
        """Delete at `expected_rv`; with `expired`, only if the object's time to live has run out (NotExpired
        otherwise: a write since gave it a new one)."""
        if expired and kind not in self.ttl:
            raise NotExpired()
        keys = ["rev", self.object_key(kind, member), f"i:{kind}", self.stream_key(kind), f"c:{kind}",
                f"x:{kind}" if kind in self.ttl else ""]
        result = await self._call(self._conn.evalsha(
            self._delete, keys,
            [final_data, str(expected_rv), member, attrs, self.watch_history, repr(self.clock()) if expired else ""]))
        if result[0] == -1:
            raise Missing()
        if result[0] == -3:
            raise Stale(int(result[1]))
        if result[0] == -4:
            raise NotExpired()
        return int(result[0])

    async def expired(self, kind: str, limit: int = 500) -> builtins.list[str]:
        """Up to `limit` members of a kind kept for a while (`ttl`) whose time is up, soonest first."""
        if kind not in self.ttl:
            return []
        found = await self._call(self._conn.call("ZRANGEBYSCORE", f"x:{kind}", "-inf", repr(self.clock()),
                                                 "LIMIT", 0, limit))
        return [m.decode() if isinstance(m, bytes) else str(m) for m in found]

    async def forget_expiry(self, kind: str, member: str) -> None:
        """Drop a member from the expiry index if its object is gone (it was re-created meanwhile otherwise)."""
        await self._call(self._conn.evalsha(self._forget, [f"x:{kind}", self.object_key(kind, member)], [member]))

    async def list(self, kind: str, namespace: str | None) -> tuple[builtins.list[tuple[bytes, int]], int]:
        """Every object of a kind (in one namespace, or all), sorted by namespace/name, and the revision of
        that snapshot."""
        if namespace is None:
            lo, hi = b"-", b"+"
        else:
            # '0' is the byte after '/': every member of the namespace sorts between the two.
            lo, hi = f"[{namespace}/".encode(), f"({namespace}0".encode()
        rev, flat = await self._call(
            self._list(keys=["rev", f"i:{kind}"], args=[f"o:{kind}:", lo, hi])
        )
        items = [(flat[i + 1], int(flat[i])) for i in range(0, len(flat), 2) if flat[i] is not None]
        return items, int(rev)

    # -- ranges: items (node ports) handed out one owner each, as upstream's RangeAllocation ---------------------

    async def claim(self, range_name: str, item: str, owner: str) -> bool:
        """Hold `item` of the range for `owner` unless someone holds it (one atomic HSETNX: two claimants of one
        item never both win, across apiservers and restarts)."""
        return bool(await self._call(self._conn.call("HSETNX", f"r:{range_name}", item, owner)))

    async def release(self, range_name: str, item: str, owner: str) -> bool:
        """Give `item` back if `owner` holds it."""
        return bool(await self._call(self._conn.evalsha(self._release, [f"r:{range_name}"], [item, owner])))

    async def claimed(self, range_name: str) -> dict[str, str]:
        """Every held item of the range and its owner."""
        found = await self._call(self._conn.call("HGETALL", f"r:{range_name}"))
        if isinstance(found, dict):
            pairs = list(found.items())
        else:
            it = iter(found or [])
            pairs = list(zip(it, it, strict=True))
        return {(k.decode() if isinstance(k, bytes) else str(k)): (v.decode() if isinstance(v, bytes) else str(v))
                for k, v in pairs}

    async def events_between(self, kind: str, after: int, upto: int) -> builtins.list[StreamEvent]:
        """The events of a kind with after < revision <= upto, or Expired when some were trimmed."""
        result = await self._call(
            self._range(keys=[self.stream_key(kind), f"c:{kind}"], args=[after, upto])
        )
        if result[0] == -1:
            raise errors.Expired(f"too old resource version: {after} ({int(result[1])})")
        return [parse_entry(eid, fields) for eid, fields in result[1]]

    async def compacted(self, kind: str) -> int:
        value = await self._call(self.redis.get(f"c:{kind}"))
        return int(value or 0)

    async def read_streams(
        self, positions: dict[str, int], block_ms: int, count: int = 1000
    ) -> tuple[builtins.list[tuple[str, builtins.list[StreamEvent]]], dict[str, int]]:
        """Block until any kind's stream has events after its position (one XREAD for all kinds). Also returns
        each kind's compaction point (the highest trimmed revision) as it stands right after the read, from an
        MGET pipelined behind it, so that the reader can tell events trimmed before it read them."""
        kinds = list(positions)
        xread = self._stream_conn.call(
            "XREAD", "COUNT", count, "BLOCK", block_ms, "STREAMS",
            *(self.stream_key(kind) for kind in kinds), *(f"{positions[kind]}-0" for kind in kinds))
        mget = self._stream_conn.call("MGET", *(f"c:{kind}" for kind in kinds))
        reply, points = await self._call(asyncio.gather(xread, mget))
        out: builtins.list[tuple[str, builtins.list[StreamEvent]]] = []
        for stream, entries in reply or []:
            out.append((stream.decode()[2:], [parse_entry(eid, fields) for eid, fields in entries]))
        return out, {kind: int(point or 0) for kind, point in zip(kinds, points, strict=True)}


def parse_entry(eid: bytes | str, fields: dict[bytes, bytes] | Sequence[bytes]) -> StreamEvent:
    if not isinstance(fields, dict):
        it = iter(fields)
        fields = dict(zip(it, it, strict=True))
    raw = eid.decode() if isinstance(eid, bytes) else eid
    return StreamEvent(
        revision=int(raw.split("-", 1)[0]),
        type=fields[b"t"].decode(),
        member=fields[b"k"].decode(),
        data=fields[b"d"],
        attrs=fields.get(b"a", b""),
        prev_attrs=fields.get(b"p", b""),
    )


class Exists(Exception):
    """The object is already stored."""


class NamespaceMissing(Exception):
    pass


class Missing(Exception):
    pass


class NotExpired(Exception):
    """An expiring delete found the object's time to live renewed (or never set)."""


class Stale(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(current)
        self.current = current

