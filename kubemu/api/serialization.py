"""Kubernetes JSON for protobuf objects: numbers as numbers, RFC 3339 times, upstream field names, strict decoding.

protobuf's own JSON mapping prints int64 as strings and accepts unknown fields only on request; kubectl users
expect neither, so this module walks the descriptors itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from kubemu.api import kinds, openapi
from kubemu.api.quantity import ERR_FORMAT_WRONG, parse_quantity
from kubemu.pb import meta_pb2

_TIME = meta_pb2.Time.DESCRIPTOR.full_name
_MICRO_TIME = meta_pb2.MicroTime.DESCRIPTOR.full_name
_INT_OR_STRING = meta_pb2.IntOrString.DESCRIPTOR.full_name
_FIELDS_V1 = meta_pb2.FieldsV1.DESCRIPTOR.full_name
_EXTRA_VALUE = meta_pb2.ExtraValue.DESCRIPTOR.full_name
"""Any JSON object, kept as its bytes (scripts/gen_types.py makes such a message for a schema with no fields)."""
_INT_TYPES = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64,
}
_INT32_TYPES = {FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32}


class DecodeError(ValueError):
    """A manifest that does not fit the API types. `field` is the upstream field path."""

    def __init__(self, field: str, detail: str) -> None:
        self.field = field
        self.detail = detail
        super().__init__(f"{field}: {detail}" if field else detail)


# ---- time -------------------------------------------------------------------------------------------


def format_time(t: Message, micro: bool = False) -> str:
    when = dt.datetime.fromtimestamp(t.seconds, dt.UTC)  # type: ignore[attr-defined]
    if micro:
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{t.nanos // 1000:06d}Z"  # type: ignore[attr-defined]
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> tuple[int, int]:
    """RFC 3339 to (seconds, nanos)."""
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("time zone missing")
    ts = when.timestamp()
    seconds = int(ts // 1)
    return seconds, round((ts - seconds) * 1e6) * 1000


def set_time(t: Message, when: float) -> None:
    """Set a Time or MicroTime from a Unix timestamp in seconds."""
    seconds = int(when // 1)
    t.seconds = seconds  # type: ignore[attr-defined]
    t.nanos = int((when - seconds) * 1e9)  # type: ignore[attr-defined]


def time_value(t: Message) -> float:
    """A Time or MicroTime as a Unix timestamp; 0.0 when unset."""
    return float(t.seconds) + float(t.nanos) / 1e9  # type: ignore[attr-defined]


# ---- encode -----------------------------------------------------------------------------------------


def _scalar_out(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_BYTES:
        import base64

        return base64.b64encode(value).decode()
    return value


def _value_out(fd: FieldDescriptor, value: Any) -> Any:
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        return message_to_dict(value)
    return _scalar_out(fd, value)


def message_to_dict(msg: Message) -> Any:
    """Any API message (not only top-level objects) to its Kubernetes JSON value."""
    name = msg.DESCRIPTOR.full_name
    if name == _TIME:
        return format_time(msg)
    if name == _MICRO_TIME:
        return format_time(msg, micro=True)
    if name == _INT_OR_STRING:
        which = msg.WhichOneof("value")
        return msg.int_val if which == "int_val" else msg.str_val  # type: ignore[attr-defined]
    if name == _FIELDS_V1:
        return json.loads(msg.raw) if msg.raw else {}  # type: ignore[attr-defined]
    if name == _EXTRA_VALUE:
        return list(msg.items)  # type: ignore[attr-defined]
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            vfd = fd.message_type.fields_by_name["value"]
            out[fd.json_name] = {k: _value_out(vfd, v) for k, v in value.items()}
        elif fd.is_repeated:
            out[fd.json_name] = [_value_out(fd, v) for v in value]
        else:
            out[fd.json_name] = _value_out(fd, value)
    required = _required_scalars(msg.DESCRIPTOR)
    if required and any(fd.json_name not in out for fd in required):
        for fd in required:
            out.setdefault(fd.json_name, _scalar_out(fd, getattr(msg, fd.name)))
        order = _field_order(msg.DESCRIPTOR)
        out = dict(sorted(out.items(), key=lambda kv: order.get(kv[0], 0)))
    return out


@functools.cache
def _required_scalars(desc: Descriptor) -> tuple[FieldDescriptor, ...]:
    """The scalar fields upstream's JSON carries even when zero: its required ones, which have no omitempty, so the
    Go encoder writes `"restartCount": 0` and `"ready": false`. Clients with typed models refuse an object without
    them (the official Python client's ContainerStatus, ReplicaSetStatus, ...)."""
    definition = openapi.definition_of_message(desc.name)
    if definition is None:
        return ()
    required = set(definition.get("required", ()))
    return tuple(fd for fd in desc.fields if fd.json_name in required and fd.message_type is None
                 and not fd.is_repeated and not fd.has_presence)


@functools.cache
def _field_order(desc: Descriptor) -> dict[str, int]:
    return {fd.json_name: fd.number for fd in desc.fields}


def to_dict(obj: Message) -> dict[str, Any]:
    """A top-level object to the dict kubectl prints, with apiVersion and kind first."""
    info = kinds.of_message(obj)
    out: dict[str, Any] = {"apiVersion": info.api_version, "kind": info.kind}
    out.update(message_to_dict(obj))
    if "metadata" not in out:
        out["metadata"] = {}
    return out


# ---- decode -----------------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    if value is None:
        return "null"
    return type(value).__name__


_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _base64_in(value: str, path: str) -> bytes:
    """[]byte's JSON form, base64.StdEncoding, with Go's error: `illegal base64 data at input byte N`."""
    text = value.replace("\r", "").replace("\n", "")  # Go's decoder skips line breaks
    bad = next((i for i, c in enumerate(text) if c not in _BASE64_ALPHABET), None)
    if bad is None:
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error:
            bad = len(text) - len(text) % 4 if len(text) % 4 else max(text.find("="), 0)
    raise DecodeError(path, f"illegal base64 data at input byte {bad}")


def _scalar_in(fd: FieldDescriptor, value: Any, path: str) -> Any:
    t = fd.type
    if t == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
        raise DecodeError(path, f"expected string, got {_type_name(value)}")
    if t == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        raise DecodeError(path, f"expected bool, got {_type_name(value)}")
    if t in _INT_TYPES or t in _INT32_TYPES or t in (FieldDescriptor.TYPE_SFIXED64,):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            limit = 2**31 if t in _INT32_TYPES else 2**63
            if not -limit <= value < limit:
                raise DecodeError(path, f"value {value} out of range")
            return value
        raise DecodeError(path, f"expected integer, got {_type_name(value)}")
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise DecodeError(path, f"expected number, got {_type_name(value)}")
    if t == FieldDescriptor.TYPE_BYTES:
        if isinstance(value, str):
            return _base64_in(value, path)
        raise DecodeError(path, f"expected base64 string, got {_type_name(value)}")
    raise DecodeError(path, "unsupported field type")


_QUANTITY_REF = "io.k8s.apimachinery.pkg.api.resource.Quantity"


@functools.cache
def _quantity_fields(desc: Descriptor) -> frozenset[str]:
    """The JSON names of the fields of `desc` that hold a resource.Quantity (alone or as a map's values)."""
    definition = openapi.definition_of_message(desc.name)
    if definition is None:
        return frozenset()
    return frozenset(
        name for name, prop in definition.get("properties", {}).items()
        if prop.get("$ref") == _QUANTITY_REF or prop.get("additionalProperties", {}).get("$ref") == _QUANTITY_REF
    )


def _quantity_in(value: Any, path: str) -> str:
    """A Quantity's JSON value as upstream's Quantity.UnmarshalJSON reads it: a string, or a JSON number (`cpu: 1`
    in YAML), parsed and kept in its canonical form ("0.5" is stored as "500m"), as the Go object serializes. A
    string that does not parse is kept as written, for validation to refuse with the field's path."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DecodeError(path, f"expected string, got {_type_name(value)}")
    text = value if isinstance(value, str) else repr(value)
    try:
        return str(parse_quantity(text.strip()))
    except ValueError:
        if isinstance(value, str):
            return value
        raise DecodeError(path, ERR_FORMAT_WRONG) from None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def fill_message(msg: Message, data: Any, path: str = "") -> None:
    """Merge a Kubernetes JSON value into `msg`, rejecting unknown fields and wrong types by field path."""
    desc: Any = msg.DESCRIPTOR
    name = desc.full_name
    if name in (_TIME, _MICRO_TIME):
        if not isinstance(data, str):
            raise DecodeError(path, f"expected RFC 3339 time string, got {_type_name(data)}")
        try:
            msg.seconds, msg.nanos = parse_time(data)  # type: ignore[attr-defined]
        except ValueError:
            raise DecodeError(path, f'invalid time "{data}": expected RFC 3339, e.g. 2024-01-02T15:04:05Z') from None
        return
    if name == _INT_OR_STRING:
        if isinstance(data, bool) or not isinstance(data, int | str):
            raise DecodeError(path, f"expected integer or string, got {_type_name(data)}")
        if isinstance(data, int):
            msg.int_val = data  # type: ignore[attr-defined]
        else:
            msg.str_val = data  # type: ignore[attr-defined]
        return
    if name == _FIELDS_V1:
        if not isinstance(data, dict):
            raise DecodeError(path, f"expected object, got {_type_name(data)}")
        msg.raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()  # type: ignore[attr-defined]
        return
    if name == _EXTRA_VALUE:
        if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
            raise DecodeError(path, f"expected array of strings, got {_type_name(data)}")
        msg.items.extend(data)  # type: ignore[attr-defined]
        return
    if not isinstance(data, dict):
        raise DecodeError(path, f"expected object, got {_type_name(data)}")
    by_json = {fd.json_name: fd for fd in desc.fields}
    quantities = _quantity_fields(desc)
    for key, value in data.items():
        fpath = _join(path, str(key))
        fd = by_json.get(key) if isinstance(key, str) else None
        if fd is None:
            raise DecodeError("", f'unknown field "{fpath}"')
        if value is None:
            continue  # JSON null means "unset", as in Go
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            if not isinstance(value, dict):
                raise DecodeError(fpath, f"expected object, got {_type_name(value)}")
            target = getattr(msg, fd.name)
            vfd = fd.message_type.fields_by_name["value"]
            for k, v in value.items():
                kpath = f"{fpath}[{k}]"
                if not isinstance(k, str):
                    raise DecodeError(kpath, f"map key must be a string, got {_type_name(k)}")
                if vfd.type == FieldDescriptor.TYPE_MESSAGE:
                    fill_message(target[k], v, kpath)
                elif key in quantities and v is not None:
                    target[k] = _quantity_in(v, kpath)
                else:
                    if isinstance(v, bool | int | float) and vfd.type == FieldDescriptor.TYPE_STRING:
                        raise DecodeError(kpath, f"expected string, got {_type_name(v)}")
                    target[k] = _scalar_in(vfd, v, kpath)
        elif fd.is_repeated:
            if not isinstance(value, list):
                raise DecodeError(fpath, f"expected array, got {_type_name(value)}")
            target = getattr(msg, fd.name)
            for i, item in enumerate(value):
                ipath = f"{fpath}[{i}]"
                if fd.type == FieldDescriptor.TYPE_MESSAGE:
                    fill_message(target.add(), item, ipath)
                else:
                    target.append(_scalar_in(fd, item, ipath))
        elif fd.type == FieldDescriptor.TYPE_MESSAGE:
            sub = getattr(msg, fd.name)
            sub.SetInParent()
            fill_message(sub, value, fpath)
        elif key in quantities:
            setattr(msg, fd.name, _quantity_in(value, fpath))
        else:
            setattr(msg, fd.name, _scalar_in(fd, value, fpath))


def from_dict(data: Any) -> Any:
    """A manifest (parsed YAML or JSON) to its protobuf object, picking the class from apiVersion and kind."""
    if not isinstance(data, dict):
        raise DecodeError("", f"expected an object, got {_type_name(data)}")
    kind = data.get("kind")
    api_version = data.get("apiVersion")
    if not kind:
        raise DecodeError("kind", "Required value: kind not set")
    if not api_version:
        raise DecodeError("apiVersion", "Required value: apiVersion not set")
    try:
        info = kinds.by_kind(str(kind))
    except kinds.UnknownKind:
        raise DecodeError(
            "", f'no matches for kind "{kind}" in version "{api_version}"'
        ) from None
    if api_version != info.api_version:
        raise DecodeError("", f'no matches for kind "{kind}" in version "{api_version}"')
    body = {k: v for k, v in data.items() if k not in ("kind", "apiVersion")}
    obj = info.message()
    fill_message(obj, body)
    if not obj.HasField("metadata"):
        obj.metadata.SetInParent()
    return obj
