"""Generate the API types in proto/kubemu/pb/{meta,core,apps,batch,coordination}.proto from the API's schema.

Input: kubemu/api/schema/kubernetes.json (fetched from a kube-apiserver by scripts/fetch_schema.py; its
`gitVersion` is the Kubernetes version kubemu's types follow) and the kinds listed in SERVED below. Every
definition those kinds reach becomes a message with every field of the upstream type, named as upstream names it
(snake_case in Python, upstream's JSON name on the wire via `json_name`).

What the schema cannot say, the previous output says, as go-to-protobuf keeps generated.proto stable upstream:
a field keeps the number it had, a new field takes the next free one, and a field upstream dropped leaves its
number reserved, so objects stored by an older kubemu still decode. Scalar presence follows Go: a field that
upstream always writes (kube-openapi gives it a zero `default`: a required value, not a pointer) is a plain proto3
scalar; any other scalar is `optional`, so a value set to zero or false round-trips as set. Fields that were
hand-written before the generator keep the presence they had.

    python scripts/gen_types.py          # rewrite the .proto files, then run scripts/gen_protos.py
    python scripts/gen_types.py --check  # exit 1 if the checked-in .proto files differ from a fresh generation
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "kubemu" / "api" / "schema" / "kubernetes.json"
PROTO_DIR = ROOT / "proto" / "kubemu" / "pb"
MESSAGES = ROOT / "kubemu" / "api" / "schema" / "messages.json"

_CORE = "io.k8s.api.core.v1."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."

SERVED: dict[str, tuple[str, ...]] = {
    "meta": (f"{_META}Status",),
    "core": tuple(f"{_CORE}{k}" for k in (
        "Namespace", "Pod", "Node", "Event", "ReplicationController",
        "ConfigMap", "Secret", "ServiceAccount", "Service", "Endpoints",
        "PersistentVolume", "PersistentVolumeClaim", "LimitRange", "ResourceQuota",
    )),
    "apps": tuple(f"io.k8s.api.apps.v1.{k}" for k in ("ReplicaSet", "Deployment", "DaemonSet")),
    "batch": ("io.k8s.api.batch.v1.Job",),
    "coordination": ("io.k8s.api.coordination.v1.Lease",),
    "discovery": ("io.k8s.api.discovery.v1.EndpointSlice",),
    "networking": tuple(f"io.k8s.api.networking.v1.{k}" for k in (
        "Ingress", "IngressClass", "NetworkPolicy", "IPAddress", "ServiceCIDR",
    )),
    "rbac": tuple(f"io.k8s.api.rbac.v1.{k}" for k in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")),
    "scheduling": ("io.k8s.api.scheduling.v1.PriorityClass",),
    "storage": tuple(f"io.k8s.api.storage.v1.{k}" for k in ("StorageClass", "CSINode", "CSIDriver")),
    "authentication": tuple(f"io.k8s.api.authentication.v1.{k}" for k in (
        "TokenRequest", "TokenReview", "SelfSubjectReview",
    )),
    "authorization": tuple(f"io.k8s.api.authorization.v1.{k}" for k in (
        "SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview", "SelfSubjectRulesReview",
    )),
}
"""Proto file -> the kinds (and other roots) it serves. A new built-in kind is one name here."""

_FILE_OF_PREFIX = {
    _CORE: "core",
    "io.k8s.api.apps.v1.": "apps",
    "io.k8s.api.batch.v1.": "batch",
    "io.k8s.api.coordination.v1.": "coordination",
    "io.k8s.api.discovery.v1.": "discovery",
    "io.k8s.api.networking.v1.": "networking",
    "io.k8s.api.rbac.v1.": "rbac",
    "io.k8s.api.scheduling.v1.": "scheduling",
    "io.k8s.api.storage.v1.": "storage",
    "io.k8s.api.authentication.v1.": "authentication",
    "io.k8s.api.authorization.v1.": "authorization",
    _META: "meta",
    "io.k8s.apimachinery.pkg.util.intstr.": "meta",
}
_FILE_DOC = {
    "meta": "ObjectMeta and the shared types of k8s.io/apimachinery (meta/v1, intstr).",
    "core": "core/v1 types.",
    "apps": "apps/v1 types.",
    "batch": "batch/v1 types.",
    "coordination": "coordination.k8s.io/v1 types.",
    "discovery": "discovery.k8s.io/v1 types.",
    "networking": "networking.k8s.io/v1 types.",
    "rbac": "rbac.authorization.k8s.io/v1 types.",
    "scheduling": "scheduling.k8s.io/v1 types.",
    "storage": "storage.k8s.io/v1 types.",
    "authentication": "authentication.k8s.io/v1 types.",
    "authorization": "authorization.k8s.io/v1 types.",
}
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"

_EXTRA_VALUE = f"{_META}ExtraValue"
"""Not in the schema: the message a map of string arrays needs, since a proto map's value cannot be repeated."""

_SPECIAL = {
    f"{_META}Time": (
        "// Time is metav1.Time: RFC 3339 with second precision in JSON.",
        ["int64 seconds = 1;", "int32 nanos = 2;"],
    ),
    f"{_META}MicroTime": (
        "// MicroTime is metav1.MicroTime: RFC 3339 with microseconds in JSON.",
        ["int64 seconds = 1;", "int32 nanos = 2;"],
    ),
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": (
        "// IntOrString is intstr.IntOrString: a number or a string in JSON.",
        ["oneof value {", "  int32 int_val = 1;", "  string str_val = 2;", "}"],
    ),
    _EXTRA_VALUE: (
        "// ExtraValue is a list of strings as the value of a map (UserInfo.extra): a JSON array. Upstream's protobuf\n"
        "// form has this message in each group that needs it (authentication, authorization).",
        ["repeated string items = 1;"],
    ),
    f"{_META}FieldsV1": (
        "// FieldsV1 is metav1.FieldsV1: any JSON object (a managed-fields set), kept as its JSON bytes.",
        ["bytes raw = 1;"],
    ),
}
"""Types whose JSON form is not an object of fields: the codec (kubemu/api/serialization.py) maps them."""

_SCALARS = {
    ("string", None): "string", ("string", "byte"): "bytes", ("string", "date-time"): "string",
    ("integer", "int32"): "int32", ("integer", "int64"): "int64", ("integer", None): "int64",
    ("number", "double"): "double", ("number", None): "double", ("boolean", None): "bool",
}
_ZERO = {"string": "", "bytes": "", "int32": 0, "int64": 0, "double": 0, "bool": False}


# ---- the previous output --------------------------------------------------------------------------


@dataclass
class _Prev:
    number: int
    name: str
    optional: bool


@dataclass
class _PrevMessage:
    fields: dict[str, _Prev] = field(default_factory=dict)
    """By JSON name."""
    reserved: dict[int, str] = field(default_factory=dict)
    """Numbers of fields upstream dropped, with the JSON name they had."""


_FIELD_RE = re.compile(
    r"^\s*(optional\s+|repeated\s+)?(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*(\d+)(?:\s*\[json_name\s*=\s*\"([^\"]+)\"\])?;"
)
_RESERVED_RE = re.compile(r"^\s*reserved\s+(\d+);\s*//\s*(\S+)")


def _default_json_name(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def read_previous(directory: Path) -> dict[str, _PrevMessage]:
    """Field numbers, names and presence of every message in the .proto files there (generated or hand-written)."""
    out: dict[str, _PrevMessage] = {}
    for path in sorted(directory / f"{name}.proto" for name in SERVED):
        if not path.exists():
            continue
        current: _PrevMessage | None = None
        depth = 0
        for line in path.read_text().splitlines():
            stripped = line.split("//")[0] if "reserved" not in line else line
            m = re.match(r"^message\s+(\w+)\s*\{", stripped)
            if m and depth == 0:
                current = out.setdefault(m.group(1), _PrevMessage())
                if stripped.rstrip().endswith("}"):  # one-line message
                    inner = stripped[stripped.index("{") + 1: stripped.rindex("}")]
                    fm = _FIELD_RE.match(inner + ("" if inner.strip().endswith(";") else ";"))
                    if fm:
                        _remember(current, fm)
                    current = None
                    continue
                depth = 1
                continue
            if current is None:
                continue
            depth += stripped.count("{") - stripped.count("}")
            if depth <= 0:
                current, depth = None, 0
                continue
            rm = _RESERVED_RE.match(line)
            if rm:
                current.reserved[int(rm.group(1))] = rm.group(2)
                continue
            fm = _FIELD_RE.match(stripped)
            if fm and depth == 1:
                _remember(current, fm)
    return out


def _remember(msg: _PrevMessage, m: re.Match[str]) -> None:
    label, _type, name, number, json_name = m.groups()
    msg.fields[json_name or _default_json_name(name)] = _Prev(int(number), name, (label or "").strip() == "optional")


# ---- names --------------------------------------------------------------------------------------------


def snake(json_name: str) -> str:
    """`hostPID` -> host_pid, `podIPs` -> pod_ips, `Port` -> port, `httpGet` -> http_get."""
    text = re.sub(r"([A-Z]+)s(?=[A-Z]|$)", lambda m: "_" + m.group(1).lower() + "s", json_name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    return text.lower().lstrip("_")


_RENAMED = {
    "io.k8s.api.discovery.v1.EndpointPort": "DiscoveryEndpointPort",
    "io.k8s.api.storage.v1.TokenRequest": "CSIDriverTokenRequest",
}
"""Definitions whose last segment another served definition already has (all messages share one proto package):
the message takes this name instead. kubemu/api/schema/messages.json maps every message back to its definition."""


def message_name(definition: str) -> str:
    return _RENAMED.get(definition) or definition.rsplit(".", 1)[1]


def file_of(definition: str) -> str:
    for prefix, name in _FILE_OF_PREFIX.items():
        if definition.startswith(prefix):
            return name
    raise SystemExit(f"no proto file for {definition}: add its package to _FILE_OF_PREFIX")


# ---- generation ---------------------------------------------------------------------------------------


class Generator:
    def __init__(self, schema: dict[str, Any], previous: dict[str, _PrevMessage]) -> None:
        self.defs: dict[str, Any] = schema["definitions"]
        self.version: str = schema["gitVersion"]
        self.previous = previous
        self.reached: dict[str, str] = {}  # definition -> file

    def reach(self) -> None:
        stack = [root for roots in SERVED.values() for root in roots]
        while stack:
            name = stack.pop()
            if name in self.reached or name == _QUANTITY:
                continue
            if name not in self.defs and name != _EXTRA_VALUE:
                raise SystemExit(f"{name} is not in {SCHEMA.relative_to(ROOT)}")
            self.reached[name] = file_of(name)
            if name not in _SPECIAL:
                stack.extend(_refs(self.defs[name]))
                for prop in self.defs[name].get("properties", {}).values():
                    values = prop.get("additionalProperties", {})
                    if values.get("type") == "array" and values["items"].get("type") == "string":
                        self.reached[_EXTRA_VALUE] = "meta"
        by_message: dict[str, str] = {}
        for name in self.reached:
            other = by_message.setdefault(message_name(name), name)
            if other != name:
                raise SystemExit(f"two definitions make message {message_name(name)}: {other} and {name}; "
                                 "give one a name in _RENAMED")

    def _type(self, prop: dict[str, Any], where: str) -> tuple[str, bool]:
        """(proto type, is scalar) of a property schema that is not an array or a map."""
        ref = prop.get("$ref")
        if ref == _QUANTITY:
            return "string", True
        if ref:
            return message_name(ref), False
        key = (prop.get("type"), prop.get("format"))
        if key not in _SCALARS:
            key = (prop.get("type"), None)
        if key not in _SCALARS:
            raise SystemExit(f"{where}: no proto type for {json.dumps(prop)}")
        return _SCALARS[key], True

    def field_line(self, message: str, json_name: str, prop: dict[str, Any], number: int, name: str,
                   prev: _Prev | None) -> str:
        where = f"{message}.{json_name}"
        label = ""
        if prop.get("type") == "array":
            type_, _ = self._type(prop["items"], where)
            label = "repeated "
        elif prop.get("type") == "object" and "additionalProperties" in prop:
            values = prop["additionalProperties"]
            if values.get("type") == "array" and values["items"].get("type") == "string":
                value = message_name(_EXTRA_VALUE)
            else:
                value, _ = self._type(values, where)
            type_ = f"map<string, {value}>"
        else:
            type_, scalar = self._type(prop, where)
            if scalar:
                if prev is not None:
                    optional = prev.optional
                else:
                    optional = "default" not in prop or prop["default"] != _ZERO[type_]
                label = "optional " if optional else ""
        option = f' [json_name = "{json_name}"]' if _default_json_name(name) != json_name else ""
        return f"{label}{type_} {name} = {number}{option};"

    def message(self, definition: str) -> list[str]:
        name = message_name(definition)
        if definition in _SPECIAL:
            doc, body = _SPECIAL[definition]
            return [doc, f"message {name} {{", *(f"  {line}" for line in body), "}"]
        schema = self.defs[definition]
        prev = self.previous.get(name, _PrevMessage())
        used = {p.number for p in prev.fields.values()} | set(prev.reserved)
        next_number = max(used, default=0) + 1
        lines = [f"message {name} {{"]
        body: list[tuple[int, str]] = []
        properties: dict[str, Any] = schema.get("properties", {})
        for json_name, prop in properties.items():
            if json_name in ("apiVersion", "kind") and "metadata" in properties:
                continue  # the envelope names the kind (kubemu.pb.Object), as the protobuf form upstream does
            old = prev.fields.get(json_name)
            if old is not None:
                number, field_name = old.number, old.name
            else:
                number, field_name = next_number, snake(json_name)
                next_number += 1
            body.append((number, self.field_line(name, json_name, prop, number, field_name, old)))
        for json_name, old in prev.fields.items():
            if json_name not in properties and not (json_name in ("apiVersion", "kind") and "metadata" in properties):
                body.append((old.number, f"reserved {old.number};  // {json_name}"))
        for number, json_name in prev.reserved.items():
            body.append((number, f"reserved {number};  // {json_name}"))
        lines += [f"  {text}" for _, text in sorted(body)]
        lines.append("}")
        return lines

    def files(self) -> dict[str, str]:
        self.reach()
        out: dict[str, str] = {}
        for file in SERVED:
            members = sorted((d for d, f in self.reached.items() if f == file), key=message_name)
            imports = sorted({
                self.reached[r] for d in members if d not in _SPECIAL for r in _refs(self.defs[d])
                if r != _QUANTITY and self.reached[r] != file
            })
            lines = [
                f"// {_FILE_DOC[file]}",
                f"// Generated by scripts/gen_types.py from kubemu/api/schema/kubernetes.json ({self.version}):",
                "// do not edit; change the generator or the schema and run it again.",
                'syntax = "proto3";',
                "package kubemu.pb;",
                "",
                *(f'import "kubemu/pb/{i}.proto";' for i in imports),
            ]
            for definition in members:
                lines += ["", *self.message(definition)]
            out[f"{file}.proto"] = "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"
        return out

    def messages(self) -> str:
        """messages.json: each message's schema definition, for the codec (which fields upstream requires)."""
        mapping = {message_name(d): d for d in self.reached if d not in _SPECIAL}
        return json.dumps(dict(sorted(mapping.items())), indent=1) + "\n"


def _refs(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            found.append(schema["$ref"])
        for key, value in schema.items():
            if key != "$ref":
                found += _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            found += _refs(value)
    return found


def generate(previous_dir: Path = PROTO_DIR) -> dict[str, str]:
    """The .proto files' text by file name, from the schema and the .proto files in `previous_dir`."""
    schema = json.loads(SCHEMA.read_text())
    return Generator(schema, read_previous(previous_dir)).files()


def generate_messages() -> str:
    """messages.json's text: message name -> the schema definition it was generated from."""
    generator = Generator(json.loads(SCHEMA.read_text()), read_previous(PROTO_DIR))
    generator.files()
    return generator.messages()


def main(argv: list[str]) -> int:
    files = generate()
    messages = generate_messages()
    if "--check" in argv:
        stale = [n for n, text in files.items() if (PROTO_DIR / n).read_text() != text]
        if MESSAGES.read_text() != messages:
            stale.append(str(MESSAGES.relative_to(ROOT)))
        if stale:
            print(f"stale: {stale}; run python scripts/gen_types.py", file=sys.stderr)
            return 1
        return 0
    for name, text in files.items():
        (PROTO_DIR / name).write_text(text)
    MESSAGES.write_text(messages)
    print(f"wrote {', '.join(files)} to {PROTO_DIR.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
