"""Kubernetes' own protobuf (the `k8s\\x00` magic, a runtime.Unknown, the object in upstream's field numbers) to
and from the Kubernetes JSON dict, guided by the numbers scripts/learn_protobuf.py learned (schema/protobuf.json)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubemu.api.serialization import parse_time

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
_SCHEMA = Path(__file__).resolve().parent / "schema"

Spec = dict[str, Any]
"""One field's entry in protobuf.json: number, type, ref, repeated, map/value, omitEmpty, fields (embedded)."""


class ProtobufError(ValueError):
    """Bytes that are not an object we can decode, or a dict we cannot encode; the message says where."""


@functools.cache
def _numbers() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((_SCHEMA / "protobuf.json").read_text())
    return data


@functools.cache
def _gvk_index() -> dict[tuple[str, str], str]:
    """(apiVersion, kind) -> definition, for the definitions whose numbers are known."""
    defs = json.loads((_SCHEMA / "kubernetes.json").read_text())["definitions"]
    out: dict[tuple[str, str], str] = {}
    for name in _numbers()["definitions"]:
        for gvk in defs.get(name, {}).get("x-kubernetes-group-version-kind", []):
            api = f"{gvk['group']}/{gvk['version']}" if gvk.get("group") else gvk["version"]
            out.setdefault((api, gvk["kind"]), name)
    return out


def definition_of(api_version: str, kind: str) -> str:
    try:
        return _gvk_index()[(api_version, kind)]
    except KeyError:
        raise ProtobufError(f"no protobuf encoding known for {api_version}, Kind={kind}") from None


@functools.cache
def _by_number(defn: str) -> dict[int, tuple[str, Spec]]:
    return {spec["number"]: (name, spec) for name, spec in _numbers()["definitions"][defn].items()}


@functools.cache
def _by_name(defn: str) -> dict[str, tuple[int, Spec, int | None]]:
    """JSON name -> (number, spec, number of the embedded struct that holds it, if any)."""
    out: dict[str, tuple[int, Spec, int | None]] = {}
    for name, spec in _numbers()["definitions"][defn].items():
        if spec.get("type") == "embedded":
            for sub, subspec in spec["fields"].items():
                out[sub] = (subspec["number"], subspec, spec["number"])
        else:
            out[name] = (spec["number"], spec, None)
    return out


# ---- the wire ----------------------------------------------------------------------------------------------


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data) or shift > 63:
            raise ProtobufError("unexpected end of protobuf data")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _tags(data: bytes) -> Iterator[tuple[int, int, Any]]:
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        num, wt = key >> 3, key & 7
        value: Any
        if wt == 0:
            value, i = _varint(data, i)
        elif wt == 1:
            value, i = data[i:i + 8], i + 8
        elif wt == 5:
            value, i = data[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        else:
            raise ProtobufError(f"illegal wireType {wt} for field {num}")
        if i > len(data) or num == 0:
            raise ProtobufError("unexpected end of protobuf data")
        yield num, wt, value


def _enc_varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def _ld(num: int, data: bytes) -> bytes:
    return _enc_varint(num << 3 | 2) + _enc_varint(len(data)) + data


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


# ---- decode ------------------------------------------------------------------------------------------------


def decode(data: bytes) -> dict[str, Any]:
    """Kubernetes protobuf bytes to the object's JSON dict (apiVersion and kind first, from the runtime.Unknown).
    ProtobufError on a field number the object's definition has not, naming both, as strict decoding does."""
    if data[:4] != MAGIC:
        raise ProtobufError("provided data does not appear to be a protobuf message, expected prefix "
                            "[107 56 115 0]")
    api_version = kind = encoding = ""
    raw = b""
    for num, wt, value in _tags(data[4:]):
        if num == 1 and wt == 2:
            for n, w, v in _tags(value):
                if n == 1 and w == 2:
                    api_version = v.decode()
                elif n == 2 and w == 2:
                    kind = v.decode()
        elif num == 2 and wt == 2:
            raw = value
        elif num == 3 and wt == 2:
            encoding = value.decode()
    if encoding:
        raise ProtobufError(f"unsupported content encoding {encoding!r}")
    if not kind:
        raise ProtobufError("Object 'Kind' is missing in protobuf data")
    defn = definition_of(api_version, kind)
    return {"apiVersion": api_version, "kind": kind, **decode_message(defn, raw)}


def decode_message(defn: str, raw: bytes, path: str = "") -> dict[str, Any]:
    """The JSON object of one message of definition `defn`."""
    return _decode_fields(_by_number(defn), raw, path, defn)


def _decode_fields(table: dict[int, tuple[str, Spec]], raw: bytes, path: str, defn: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    specs: dict[str, Spec] = {}
    for num, wt, value in _tags(raw):
        entry = table.get(num)
        if entry is None:
            where = f" at {path}" if path else ""
            raise ProtobufError(f"strict decoding error: unknown field number {num} in {defn}{where}")
        name, spec = entry
        if spec.get("type") == "embedded":
            inner = {s["number"]: (n, s) for n, s in spec["fields"].items()}
            out.update(_decode_fields(inner, value, path, f"{defn} (embedded {num})"))
            continue
        specs[name] = spec
        fpath = f"{path}.{name}" if path else name
        if spec.get("map"):
            key, val = _decode_entry(spec, value, fpath)
            out.setdefault(name, {})[key] = val
        elif spec.get("repeated"):
            items = out.setdefault(name, [])
            if wt == 2 and spec["type"] in ("int", "bool"):  # packed
                i = 0
                while i < len(value):
                    v, i = _varint(value, i)
                    items.append(_scalar(spec, 0, v, fpath))
            else:
                items.append(_value(spec, wt, value, f"{fpath}[{len(items)}]"))
        else:
            out[name] = _value(spec, wt, value, fpath)
    for name, spec in specs.items():
        value = out[name]
        # Go writes its non-pointer fields even when empty; JSON leaves out the empty strings and zero times, and
        # the zero values of the fields the learner saw omitted.
        if value is None or (value == "" and not spec.get("repeated")) or (
                spec.get("omitEmpty") and value in (0, False, {}, [])):
            del out[name]
    return out


def _decode_entry(spec: Spec, raw: bytes, path: str) -> tuple[str, Any]:
    key, val = "", None
    for n, w, v in _tags(raw):
        if n == 1 and w == 2:
            key = v.decode()
        elif n == 2:
            val = _value(spec["value"], w, v, f"{path}[{key}]")
    if val is None:
        val = _value(spec["value"], 2, b"", path) if spec["value"]["type"] != "int" else 0
    return key, val


def _scalar(spec: Spec, wt: int, v: Any, path: str) -> Any:
    t = spec["type"]
    if t == "int":
        return _signed(v)
    if t == "bool":
        return bool(v)
    raise ProtobufError(f"{path}: wrong wireType = {wt}")


def _value(spec: Spec, wt: int, v: Any, path: str) -> Any:
    t = spec["type"]
    if t in ("int", "bool"):
        if wt != 0:
            raise ProtobufError(f"{path}: wrong wireType = {wt}")
        return _scalar(spec, wt, v, path)
    if t == "double":
        if wt != 1:
            raise ProtobufError(f"{path}: wrong wireType = {wt}")
        return struct.unpack("<d", v)[0]
    if wt != 2:
        raise ProtobufError(f"{path}: wrong wireType = {wt}")
    try:
        if t == "string":
            return v.decode()
        if t == "bytes":
            return base64.b64encode(v).decode()
        if t == "message":
            return decode_message(spec["ref"], v, path)
        sub = {n: x for n, _, x in _tags(v)}
        if t == "quantity":
            return sub.get(1, b"").decode()
        if t == "intorstring":
            return sub.get(3, b"").decode() if sub.get(1, 0) == 1 else _signed(sub.get(2, 0))
        if t in ("time", "microtime"):
            seconds, nanos = _signed(sub.get(1, 0)), sub.get(2, 0)
            if not seconds and not nanos:
                return None  # Go's zero time: null in JSON
            when = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
            return f"{when}.{nanos // 1000:06d}Z" if t == "microtime" else f"{when}Z"
        if t in ("fieldsv1", "raw"):
            text = sub.get(1, b"")
            return json.loads(text) if text else {}
    except UnicodeDecodeError:
        raise ProtobufError(f"{path}: invalid UTF-8") from None
    except ValueError as e:
        raise ProtobufError(f"{path}: {e}") from None
    raise ProtobufError(f"{path}: unknown wire shape {t}")


# ---- encode ------------------------------------------------------------------------------------------------


def encode(doc: dict[str, Any]) -> bytes:
    """A JSON object (with apiVersion and kind) to Kubernetes protobuf bytes; ProtobufError on a field the
    learned numbers do not cover."""
    api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
    defn = definition_of(api_version, kind)
    body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
    meta = _ld(1, api_version.encode()) + _ld(2, kind.encode())
    return MAGIC + _ld(1, meta) + _ld(2, encode_message(defn, body)) + _ld(3, b"") + _ld(4, b"")


def encode_message(defn: str, obj: dict[str, Any], path: str = "") -> bytes:
    names = _by_name(defn)
    parts: list[tuple[int, bytes]] = []
    embedded: dict[int, list[tuple[int, bytes]]] = {}
    for name, value in obj.items():
        if value is None:
            continue
        known = names.get(name)
        fpath = f"{path}.{name}" if path else name
        if known is None:
            raise ProtobufError(f"{fpath}: no protobuf field number known in {defn}")
        num, spec, holder = known
        data = _encode_field(num, spec, value, fpath)
        (embedded.setdefault(holder, []) if holder is not None else parts).append((num, data))
    for holder, inner in embedded.items():
        parts.append((holder, _ld(holder, b"".join(d for _, d in sorted(inner, key=lambda x: x[0])))))
    return b"".join(d for _, d in sorted(parts, key=lambda x: x[0]))


def _encode_field(num: int, spec: Spec, value: Any, path: str) -> bytes:
    if spec.get("map"):
        if not isinstance(value, dict):
            raise ProtobufError(f"{path}: expected an object")
        return b"".join(_ld(num, _ld(1, str(k).encode()) + _encode_one(2, spec["value"], v, f"{path}[{k}]"))
                        for k, v in sorted(value.items()))
    if spec.get("repeated"):
        if not isinstance(value, list):
            raise ProtobufError(f"{path}: expected a list")
        return b"".join(_encode_one(num, spec, v, f"{path}[{i}]") for i, v in enumerate(value))
    return _encode_one(num, spec, value, path)


def _encode_one(num: int, spec: Spec, v: Any, path: str) -> bytes:
    t = spec["type"]
    try:
        if t == "int":
            if isinstance(v, bool) or not isinstance(v, int):
                raise ProtobufError(f"{path}: expected an integer")
            return _enc_varint(num << 3) + _enc_varint(v)
        if t == "bool":
            if not isinstance(v, bool):
                raise ProtobufError(f"{path}: expected a boolean")
            return _enc_varint(num << 3) + _enc_varint(int(v))
        if t == "double":
            return _enc_varint(num << 3 | 1) + struct.pack("<d", float(v))
        if t == "string":
            return _ld(num, str(v).encode())
        if t == "bytes":
            return _ld(num, base64.b64decode(v))
        if t == "message":
            if not isinstance(v, dict):
                raise ProtobufError(f"{path}: expected an object")
            return _ld(num, encode_message(spec["ref"], v, path))
        if t == "quantity":
            return _ld(num, _ld(1, str(v).encode()))
        if t == "intorstring":
            if isinstance(v, int) and not isinstance(v, bool):
                return _ld(num, _enc_varint(1 << 3) + _enc_varint(0) + _enc_varint(2 << 3) + _enc_varint(v))
            return _ld(num, _enc_varint(1 << 3) + _enc_varint(1) + _ld(3, str(v).encode()))
        if t in ("time", "microtime"):
            seconds, nanos = parse_time(str(v))
            inner = _enc_varint(1 << 3) + _enc_varint(seconds)
            if nanos:
                inner += _enc_varint(2 << 3) + _enc_varint(nanos)
            return _ld(num, inner)
        if t in ("fieldsv1", "raw"):
            return _ld(num, _ld(1, json.dumps(v, separators=(",", ":")).encode()))
    except (TypeError, ValueError) as e:
        if isinstance(e, ProtobufError):
            raise
        raise ProtobufError(f"{path}: {e}") from None
    raise ProtobufError(f"{path}: unknown wire shape {t}")
