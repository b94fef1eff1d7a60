"""Request bodies and content negotiation: JSON, YAML or Kubernetes protobuf bodies read at most once and decoded
into API objects with upstream's messages (kind/version mismatch, strict decoding with every unknown field named),
and what the client accepts in return (JSON, YAML, a Table, protobuf when it takes nothing else, or 406)."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from aiohttp import web
from google.protobuf.descriptor import Descriptor

from apiserver.rest import status
from kubemu.api import k8sproto, kinds
from kubemu.api.serialization import DecodeError, from_dict
from kubemu.pb import meta_pb2

_LEAVES = frozenset(m.DESCRIPTOR.full_name for m in (meta_pb2.Time, meta_pb2.MicroTime, meta_pb2.IntOrString,
                                                       meta_pb2.FieldsV1))
"""Messages that are one JSON value (a string, a number or any object), not objects with fields of their own."""

JSON_TYPES = frozenset({"application/json", ""})
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml"})
PROTOBUF = "application/vnd.kubernetes.protobuf"


# ---- what the client accepts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accept:
    """What an answer is encoded as: "json", "yaml", "table" (a meta.k8s.io/v1 Table) or "protobuf" (only for a
    client that accepts nothing else: JSON is answered whenever it is listed at all)."""

    form: str


def negotiate(request: web.Request, *, table: bool = False) -> Accept:
    """The first form in the Accept header that we serve, in the client's order (kubectl lists the Table first and
    JSON as its fallback); StatusError 406 when it names only forms we do not (protobuf)."""
    header = request.headers.get("Accept", "")
    if not header.strip():
        return Accept("json")
    protobuf = False
    for part in header.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        args = dict(p.partition("=")[::2] for p in params)
        media = media.lower()
        if "as" in args:
            if (table and args["as"] == "Table" and args.get("g") == "meta.k8s.io"
                    and args.get("v") in ("v1", "v1beta1") and media in ("application/json", "*/*")):
                return Accept("table")
            continue  # another transformation (PartialObjectMetadata, discovery) that this endpoint does not make
        if media in ("application/json", "*/*", "application/*"):
            return Accept("json")
        if media in YAML_TYPES:
            return Accept("yaml")
        protobuf = protobuf or media == PROTOBUF
    if protobuf:
        return Accept("protobuf")
    raise status.not_acceptable()


def render(request: web.Request, accept: Accept, doc: Any, code: int = 200,
           headers: Mapping[str, str] | None = None) -> web.Response:
    if accept.form == "yaml":
        return web.Response(status=code, body=yaml.safe_dump(doc, sort_keys=False).encode(),
                            content_type="application/yaml", headers=headers)
    if accept.form == "protobuf" and isinstance(doc, dict):
        try:
            body = k8sproto.encode(doc)
        except k8sproto.ProtobufError:
            pass  # a kind whose numbers were not learned (a list, a Status): JSON, which every client reads
        else:
            return web.Response(status=code, body=body, content_type=PROTOBUF, headers=headers)
    return web.Response(status=code, body=status.encode(doc, status.pretty(request)), content_type=status.JSON,
                        headers=headers)


# ---- request bodies ----------------------------------------------------------------------------------------------


async def read_body(request: web.Request, patch: bool = False) -> bytes:
    """The body, refused with 413 past 3 MiB (by its Content-Length before reading it, or while reading a
    chunked one) and with 415 for a content type we do not take."""
    if not patch:
        ctype = request.content_type.lower() if "Content-Type" in request.headers else ""
        if ctype not in JSON_TYPES and ctype not in YAML_TYPES and ctype != PROTOBUF:
            raise status.unsupported_media_type()
    if request.content_length is not None and request.content_length > status.MAX_BODY:
        raise status.too_large()
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise status.too_large() from None


def parse(request: web.Request, body: bytes, kind: str) -> Any:
    """The body as a JSON value (JSON or YAML by Content-Type): 400 with upstream's words when it does not parse."""
    ctype = request.content_type.lower() if "Content-Type" in request.headers else ""
    if ctype == PROTOBUF:
        return parse_protobuf(body, kind)
    if ctype in YAML_TYPES:
        try:
            return yaml.safe_load(body)
        except RecursionError:
            # Nesting deeper than the parser's stack: upstream's decoders refuse past a depth too.
            raise status.bad_request(
                f"the object provided is unrecognized (must be of type {kind}): yaml: exceeded max depth") from None
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e)
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise status.bad_request(
                f"the object provided is unrecognized (must be of type {kind}): yaml: {where}{problem}") from None
    try:
        return json.loads(body)
    except RecursionError:
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                                 "version/kind; json parse error: exceeded max depth") from None
    except (ValueError, UnicodeDecodeError) as e:
        snippet = body[:100].decode(errors="replace")
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                                 f"version/kind; json parse error: {e} ({snippet})") from None


def parse_protobuf(body: bytes, kind: str) -> Any:
    """A Kubernetes protobuf body (magic, runtime.Unknown, the object in upstream's numbers) as the JSON value it
    stands for; 400 naming the definition and number of a field we do not know, as strict decoding."""
    try:
        return k8sproto.decode(body)
    except k8sproto.ProtobufError as e:
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): {e}") from None


def _internal(info: kinds.KindInfo) -> str:
    """The internal type upstream converts to, as its conversion error names it: `core.Pod`, `apps.Deployment`."""
    return f"{info.group.split('.')[0] if info.group else 'core'}.{info.kind}"


def check_kind(doc: Any, info: kinds.KindInfo, expected_kind: str = "", expected_version: str = "") -> None:
    """The body's apiVersion and kind must be the path's (or absent, when they default from it)."""
    kind = expected_kind or info.kind
    api_version = expected_version or info.api_version
    if not isinstance(doc, dict):
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                                 f"version/kind; json parse error: expected an object")
    # Upstream's create and update decode with the path's group, version and kind as defaults for what the body
    # leaves out (the json serializer's gvkWithDefaults): the official Python client sends neither unless told.
    body_kind, body_version = doc.get("kind") or kind, doc.get("apiVersion")
    if body_kind != kind or (body_version and body_version != api_version):
        version = str(body_version or api_version).rpartition("/")[2]
        internal = _internal(info) if not expected_kind else f"autoscaling.{kind}"
        raise status.bad_request(f'{body_kind} in version "{version}" cannot be handled as a {kind}: converting '
                                 f"({version}.{body_kind}) to ({internal}): unknown conversion")


_SCALAR, _MESSAGE, _LIST, _MAP = 0, 1, 2, 3


@functools.cache
def _fields_of(desc: Descriptor) -> dict[str, tuple[int, Descriptor | None]]:
    """JSON name -> (how its value nests, the message inside it), once per message type: a request's walk
    only looks them up."""
    out: dict[str, tuple[int, Descriptor | None]] = {}
    for fd in desc.fields:
        sub = fd.message_type
        if sub is None or sub.full_name in _LEAVES:
            out[fd.json_name] = (_SCALAR, None)
        elif sub.GetOptions().map_entry:
            vsub = sub.fields_by_name["value"].message_type
            out[fd.json_name] = (_MAP, vsub) if vsub is not None and vsub.full_name not in _LEAVES else (_SCALAR, None)
        else:
            out[fd.json_name] = (_LIST if fd.is_repeated else _MESSAGE, sub)
    return out


def unknown_fields(desc: Descriptor, data: Any, path: str = "", drop: bool = False) -> list[str]:
    """The paths of the fields in `data` that the message has not (`spec.containers[0].bar`), as upstream's strict
    decoder names them; with `drop`, they are removed from `data` too."""
    if desc.full_name in _LEAVES or not isinstance(data, dict):
        return []
    fields = _fields_of(desc)
    found: list[str] = []
    for key in list(data):
        known = fields.get(key) if isinstance(key, str) else None
        if known is None:
            found.append(f"{path}.{key}" if path else str(key))
            if drop:
                del data[key]
            continue
        how, sub = known
        if how == _SCALAR or sub is None:
            continue
        value = data[key]
        fpath = f"{path}.{key}" if path else key
        if how == _MESSAGE:
            if isinstance(value, dict):
                found += unknown_fields(sub, value, fpath, drop)
        elif how == _LIST:
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, dict):
                        found += unknown_fields(sub, item, f"{fpath}[{i}]", drop)
        elif isinstance(value, dict):
            for k, v in value.items():
                found += unknown_fields(sub, v, f"{fpath}[{k}]", drop)
    return found


def field_validation(request: web.Request) -> str:
    """`fieldValidation`: Strict, Warn (kube-apiserver's default when the client says nothing) or Ignore."""
    value = request.query.get("fieldValidation", "") or "Warn"
    if value not in ("Strict", "Warn", "Ignore"):
        raise status.bad_request(f"fieldValidation must be one of Ignore, Warn or Strict, got {value}")
    return value


def to_object(doc: dict[str, Any], info: kinds.KindInfo, validation: str, warnings: list[str]) -> Any:
    """The typed object of a body already checked by check_kind, unknown fields handled as `validation` says."""
    body = {k: v for k, v in doc.items() if k not in ("kind", "apiVersion")}
    unknown = unknown_fields(info.message.DESCRIPTOR, body, drop=validation != "Strict")
    prefix = f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
    if unknown and validation == "Strict":
        raise status.bad_request(prefix + "strict decoding error: " +
                                 ", ".join(f'unknown field "{u}"' for u in unknown))
    if validation == "Warn":
        warnings += [f'unknown field "{u}"' for u in unknown]
    try:
        return from_dict({"apiVersion": info.api_version, "kind": info.kind, **body})
    except DecodeError as e:
        raise status.bad_request(prefix + str(e)) from None


def warning_headers(warnings: list[str]) -> list[tuple[str, str]]:
    """`Warning: 299 - "<text>"` headers, one per warning, as kube-apiserver sends them."""
    return [("Warning", f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"') for w in warnings]


# ---- patch bodies ------------------------------------------------------------------------------------------------


def _go_quote_char(c: str) -> str:
    """encoding/json's quoteChar: `'b'`, `'\\''`, `'"'`, `'\\n'`."""
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    quoted = json.dumps(c)[1:-1]
    return f"'{quoted}'"


def _open_container(text: str, end: int) -> str:
    """The innermost object ("{") or array ("[") open at `end`, strings skipped: what Go's scanner was inside."""
    stack: list[str] = []
    in_string = escaped = False
    for c in text[:end]:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            stack.append(c)
        elif c in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_json_error(text: str, e: json.JSONDecodeError) -> str:
    """encoding/json's SyntaxError text for the first error Python's decoder found: the words kube-apiserver's
    messages carry (`invalid character 'b' looking for beginning of object key string`)."""
    pos = e.pos
    if pos >= len(text.rstrip()) or e.msg.startswith("Unterminated string"):
        return "unexpected end of JSON input"
    c = _go_quote_char(text[pos])
    if e.msg.startswith("Expecting property name"):
        return f"invalid character {c} looking for beginning of object key string"
    if e.msg.startswith("Expecting ':'"):
        return f"invalid character {c} after object key"
    if e.msg.startswith("Expecting ','"):
        inside = _open_container(text, pos)
        return f"invalid character {c} after {'array element' if inside == '[' else 'object key:value pair'}"
    if e.msg.startswith("Extra data"):
        return f"invalid character {c} after top-level value"
    if e.msg.startswith("Invalid control character"):
        return f"invalid character {c} in string literal"
    if e.msg.startswith("Invalid \\escape"):
        return f"invalid character {_go_quote_char(text[pos + 1:pos + 2] or text[pos])} in string escape code"
    return f"invalid character {c} looking for beginning of value"


def _no_constants(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are Python's extensions, not JSON


def parse_json(body: bytes) -> Any:
    """A JSON body as Go's decoder takes it; ValueError with encoding/json's words when it does not parse."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ValueError("invalid character in string literal") from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as e:
        raise ValueError(go_json_error(text, e)) from None
    except ValueError as e:
        at = text.find(str(e))
        raise ValueError(f"invalid character {_go_quote_char(text[max(at, 0)])} looking for beginning of value") \
            from None


def parse_apply(body: bytes) -> Any:
    """An apply-patch+yaml body (YAML, or JSON, which is YAML): 400 with upstream's words when it does not parse.
    Values YAML has and JSON has not (timestamps, dates) become strings, as YAML-to-JSON conversion makes them."""
    try:
        doc = yaml.safe_load(body)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e)
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise status.bad_request(f"error decoding YAML: error converting YAML to JSON: yaml: {where}{problem}") \
            from None
    return json.loads(json.dumps(doc, default=str))
