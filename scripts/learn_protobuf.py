"""Learn upstream's protobuf field numbers from a running kube-apiserver into kubemu/api/schema/protobuf.json.

kubemu's own protos number their fields their own way; kubectl's typed clients send upstream's protobuf. Run this
by hand (like scripts/fetch_schema.py) to move the pinned version:

    eval "$(../shared/k8s-peer/peer env)" && python scripts/learn_protobuf.py

For each served kind it builds the every-field objects of tests/integration/test_every_field.py, creates them in a
namespace of its own, reads each back as JSON and as protobuf, and matches the protobuf's tags against the JSON
values field by field (recursing into messages, lists and maps), definition by definition. What one object leaves
ambiguous (two sibling booleans both true) is settled across all objects, then by the apiserver itself: a tag of
the wrong wire type makes its decoder name the Go field (`proto: wrong wireType = 5 for field Spec`). The request
bodies kubectl sends but no GET answers (DeleteOptions, Eviction) are learned that second way. No upstream file is
read or copied: only the peer's answers.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import re
import ssl
import struct
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubemu.api import kinds  # noqa: E402
from kubemu.api.serialization import parse_time, to_dict  # noqa: E402

SCHEMA = ROOT / "kubemu" / "api" / "schema" / "kubernetes.json"
OUT = ROOT / "kubemu" / "api" / "schema" / "protobuf.json"
RECORDINGS = ROOT / "tests" / "unit" / "data" / "k8sproto"
PROTOBUF = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
LEAVES = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    META + "Time": "time",
    META + "MicroTime": "microtime",
    META + "FieldsV1": "fieldsv1",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "raw",
}
"""Definitions that are one JSON value but a small message of their own on the wire."""
EXTRA = ["io.k8s.api.autoscaling.v1.Scale", "io.k8s.api.policy.v1.Eviction", META + "DeleteOptions"]
"""Subresource and option bodies kubectl sends besides the kinds."""

DEFS: dict[str, Any] = json.loads(SCHEMA.read_text())["definitions"]


# ---- the peer ----------------------------------------------------------------------------------------------


class Peer:
    """A kube-apiserver reached with the kubeconfig's admin client certificate."""

    def __init__(self) -> None:
        cfg = yaml.safe_load(Path(os.environ["KUBECONFIG"]).read_text())
        ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
        cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"])
        self.ssl = ssl.create_default_context(cafile=cluster["certificate-authority"])
        self.ssl.load_cert_chain(user["client-certificate"], user["client-key"])
        url = urlsplit(cluster["server"])
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl)

    def call(self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json",
             accept: str = "application/json") -> tuple[int, bytes]:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = ctype
        for attempt in range(3):
            try:
                self.conn.request(method, path, body, headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.conn = http.client.HTTPSConnection(self.host, self.port, context=self.ssl)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, doc: Any = None) -> Any:
        code, out = self.call(method, path, None if doc is None else json.dumps(doc).encode())
        if code >= 300:
            raise RuntimeError(f"{method} {path}: {code} {out[:600].decode(errors='replace')}")
        return json.loads(out)


# ---- the wire ----------------------------------------------------------------------------------------------


def varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def tags(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of each tag; ValueError when the bytes are no message."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    try:
        while i < len(data):
            key, i = varint(data, i)
            num, wt = key >> 3, key & 7
            if num == 0:
                raise ValueError("field 0")
            if wt == 0:
                v, i = varint(data, i)
            elif wt == 1:
                v, i = data[i:i + 8], i + 8
            elif wt == 5:
                v, i = data[i:i + 4], i + 4
            elif wt == 2:
                n, i = varint(data, i)
                v, i = data[i:i + n], i + n
            else:
                raise ValueError(f"wire type {wt}")
            if i > len(data):
                raise ValueError("truncated")
            out.append((num, wt, v))
    except IndexError:
        raise ValueError("truncated") from None
    return out


def enc_varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def ld(num: int, data: bytes) -> bytes:
    return enc_varint(num << 3 | 2) + enc_varint(len(data)) + data


def signed(v: Any) -> Any:
    if not isinstance(v, int):
        return None
    return v - (1 << 64) if v >= 1 << 63 else v


def unwrap(data: bytes) -> bytes:
    """The raw object inside the magic and the runtime.Unknown."""
    assert data[:4] == MAGIC, data[:20]
    return next(v for n, wt, v in tags(data[4:]) if n == 2)


def wrap(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + ld(1, ld(1, api_version.encode()) + ld(2, kind.encode())) + ld(2, raw)


# ---- the schema --------------------------------------------------------------------------------------------


def shape(prop: dict[str, Any]) -> dict[str, Any]:
    """How a schema property is carried on the wire: {"type": ..., "repeated"/"map": ..., "ref": ...}."""
    if prop.get("type") == "array":
        return {**shape(prop.get("items", {})), "repeated": True}
    if prop.get("type") == "object" and "additionalProperties" in prop:
        return {"map": True, "value": shape(prop["additionalProperties"])}
    ref = prop.get("$ref")
    if ref in LEAVES:
        return {"type": LEAVES[ref]}
    if ref:
        return {"type": "message", "ref": ref}
    t, fmt = prop.get("type"), prop.get("format")
    if t == "string":
        return {"type": "bytes" if fmt == "byte" else "string"}
    if t == "integer":
        return {"type": "int"}
    if t == "boolean":
        return {"type": "bool"}
    if t == "number":
        return {"type": "double"}
    return {"type": "raw"}


def props(defn: str) -> dict[str, dict[str, Any]]:
    """The JSON fields of a definition; `<definition>/<n>` is the struct embedded at number n (Go's inline
    `ProbeHandler` of a Probe), whose fields are its parent's in JSON. A kind's apiVersion and kind travel in the
    runtime.Unknown, not in the object."""
    d = DEFS[defn.split("/")[0]]
    typed = "x-kubernetes-group-version-kind" in d
    return {k: v for k, v in d.get("properties", {}).items() if not (typed and k in ("apiVersion", "kind"))}


# ---- matching a tag against a JSON value --------------------------------------------------------------------

_memo: dict[tuple[str, str, bytes], bool] = {}


def _strings(v: Any) -> Iterator[bytes]:
    if isinstance(v, str):
        yield v.encode()
    elif isinstance(v, dict):
        for x in v.values():
            yield from _strings(x)
    elif isinstance(v, list):
        for x in v:
            yield from _strings(x)


def single(sh: dict[str, Any], v: Any, wt: int, raw: Any) -> bool:
    t = sh["type"]
    try:
        if t == "string":
            return wt == 2 and isinstance(v, str) and raw == v.encode()
        if t == "bytes":
            return wt == 2 and isinstance(v, str) and raw == base64.b64decode(v)
        if t == "int":
            return wt == 0 and not isinstance(v, bool) and isinstance(v, int) and signed(raw) == v
        if t == "bool":
            return wt == 0 and isinstance(v, bool) and raw == int(v)
        if t == "double":
            return wt == 1 and isinstance(v, (int, float)) and struct.unpack("<d", raw)[0] == v
        if wt != 2:
            return False
        sub = {n: x for n, _, x in tags(raw)}
        if t == "quantity":
            return sub.get(1, b"").decode() == str(v)
        if t == "intorstring":
            return (sub.get(2, 0) == v) if isinstance(v, int) else (sub.get(3, b"").decode() == v)
        if t in ("time", "microtime"):
            s, n = parse_time(v)
            return signed(sub.get(1, 0)) == s and sub.get(2, 0) == n
        if t in ("fieldsv1", "raw"):
            return json.loads(sub.get(1, b"null")) == v
        if t == "message":
            return isinstance(v, dict) and matches(sh["ref"], v, raw)
    except (ValueError, TypeError, AttributeError, UnicodeDecodeError, struct.error):
        return False
    return False


def compatible(sh: dict[str, Any], v: Any, occs: list[tuple[int, Any]]) -> bool:
    if sh.get("map"):
        if not isinstance(v, dict) or len(occs) != len(v):
            return False
        for wt, raw in occs:
            if wt != 2:
                return False
            try:
                entry = {n: (w, x) for n, w, x in tags(raw)}
                key = entry.get(1, (2, b""))[1].decode()
            except (ValueError, AttributeError, UnicodeDecodeError):
                return False
            if key not in v or not single(sh["value"], v[key], *entry.get(2, (2, b""))):
                return False
        return True
    if sh.get("repeated"):
        return (isinstance(v, list) and len(v) == len(occs)
                and all(single(sh, x, wt, raw) for x, (wt, raw) in zip(v, occs, strict=True)))
    return len(occs) == 1 and single(sh, v, *occs[0])


def _empty(v: Any) -> bool:
    return v in ({}, [], "", 0, False, None)


def matches(defn: str, v: dict[str, Any], raw: bytes) -> bool:
    """Every tag of `raw` has a field of `v` it fits, and every non-empty field of `v` a tag."""
    key = (defn, json.dumps(v, sort_keys=True), raw)
    if key not in _memo:
        _memo[key] = False
        used = _used(defn, v, raw) if all(s in raw for s in _strings(v)) else None
        _memo[key] = used is not None and all(p in used or _empty(x) for p, x in v.items())
    return _memo[key]


def _used(defn: str, v: dict[str, Any], raw: bytes) -> set[str] | None:
    """The fields of `v` that the tags of `raw` carry; None when a tag fits none of them. A tag that fits none
    but carries some of them as a message of its own is an embedded struct (Go's inline ProbeHandler)."""
    ps = props(defn)
    groups: dict[int, list[tuple[int, Any]]] = {}
    try:
        for n, wt, x in tags(raw):
            groups.setdefault(n, []).append((wt, x))
    except ValueError:
        return None
    used: set[str] = set()
    for occs in groups.values():
        fits = [p for p in v if p in ps and compatible(shape(ps[p]), v[p], occs)]
        if not fits and len(occs) == 1 and occs[0][0] == 2 and not _zero(*occs[0]):
            inner = _used(defn, v, occs[0][1])
            if inner:
                used |= inner
                continue
        if not fits and not all(_zero(wt, x) for wt, x in occs):
            return None
        used.update(fits)
    return used


def _zero(wt: int, x: Any) -> bool:
    """A tag that carries nothing: Go writes its non-pointer fields even when they are empty."""
    if wt == 0:
        return bool(x == 0)
    if wt == 2:
        try:
            return all(_zero(w, y) for _, w, y in tags(x))
        except ValueError:
            return False
    return False


# ---- learning ----------------------------------------------------------------------------------------------


class Learner:
    def __init__(self) -> None:
        self.cands: dict[tuple[str, int], set[str]] = {}
        self.wire: dict[tuple[str, int], int] = {}
        self.samples: list[tuple[str, dict[str, Any], str]] = []
        """(definition, JSON, create path) of each object learned from, for the perturbations."""
        self.numbers: dict[str, dict[str, int]] = {}
        self.embedded: set[tuple[str, int]] = set()
        self.zeros: dict[tuple[str, int], set[str]] = {}
        """(definition, number) seen empty on the wire -> the JSON fields its message had each time: a field
        absent from all of them is one Go writes even when empty, and JSON omits then (omitempty)."""
        """(definition, number) of the embedded structs: their fields are the definition's own in JSON."""

    def learn(self, defn: str, v: dict[str, Any], raw: bytes, sample: int, path: list[Any]) -> None:
        ps = props(defn)
        groups: dict[int, list[tuple[int, Any]]] = {}
        for n, wt, x in tags(raw):
            groups.setdefault(n, []).append((wt, x))
        for n, occs in groups.items():
            if all(_zero(wt, x) for wt, x in occs):
                self.zeros.setdefault((defn, n), set()).update(v)
                empties = {shape(ps[p]).get("ref") for p in v if p in ps and v[p] == {}}
                if len(occs) == 1 and occs[0][1] and len(empties) == 1 and None not in empties:
                    self.learn(empties.pop() or "", {}, occs[0][1], sample, path)  # what it holds is empty too
                continue  # an empty non-pointer field: it fits every empty value, so it says nothing
            fits = {p for p in v if p in ps and compatible(shape(ps[p]), v[p], occs)}
            key = (defn, n)
            if not fits and len(occs) == 1 and occs[0][0] == 2 and _used(defn, v, occs[0][1]):
                self.embedded.add(key)
                self.learn(f"{defn}/{n}", v, occs[0][1], sample, path)
                continue
            if not fits:
                continue
            self.cands[key] = self.cands[key] & fits if key in self.cands and self.cands[key] & fits else fits
            self.wire[key] = occs[0][0]
            p = min(fits)
            if any(v[q] != v[p] for q in fits):
                continue  # which one this is stays open: descend only where the value is the same
            self.descend(shape(ps[p]), v[p], occs, sample, [*path, p])

    def descend(self, sh: dict[str, Any], v: Any, occs: list[tuple[int, Any]], sample: int,
                path: list[Any]) -> None:
        if sh.get("map"):
            if sh["value"]["type"] == "message":
                for _, raw in occs:
                    entry = {n: x for n, _, x in tags(raw)}
                    k = entry.get(1, b"").decode()
                    self.learn(sh["value"]["ref"], v[k], entry.get(2, b""), sample, [*path, k])
            return
        if sh["type"] != "message":
            return
        if sh.get("repeated"):
            for i, (x, (_, raw)) in enumerate(zip(v, occs, strict=True)):
                self.learn(sh["ref"], x, raw, sample, [*path, i])
        else:
            self.learn(sh["ref"], v, occs[0][1], sample, path)

    def resolve(self) -> None:
        """Settle each number whose candidates narrowed to one, removing that field from its siblings'."""
        changed = True
        while changed:
            changed = False
            for (defn, n), cs in self.cands.items():
                if len(cs) == 1:
                    p = next(iter(cs))
                    self.numbers.setdefault(defn, {})[p] = n
                    for (d2, n2), c2 in self.cands.items():
                        if d2 == defn and n2 != n and p in c2:
                            c2.discard(p)
                            changed = True


def oracle(peer: Peer, create: str, api_version: str, kind: str, prefix: list[int], limit: int) -> dict[int, str]:
    """Field numbers -> Go field names of the message at `prefix` (numbers from the object down), asked of the
    apiserver's decoder: a fixed32 where no field has that wire type makes it name the field."""
    out: dict[int, str] = {}
    for n in range(1, limit + 1):
        body = enc_varint(n << 3 | 5) + b"\0\0\0\0"
        for p in reversed(prefix):
            body = ld(p, body)
        method = "PUT" if create.endswith("/scale") else "POST"
        _, answer = peer.call(method, create + "?dryRun=All", wrap(api_version, kind, body), PROTOBUF)
        m = re.search(r"wrong wireType = 5 for field (\w+)", answer.decode(errors="replace"))
        if m:
            out[n] = m.group(1)
    return out


EMBEDDED = {"LocalObjectReference", "ProbeHandler", "VolumeSource", "EphemeralContainerCommon",
            "PersistentVolumeSource", "IngressRuleValue"}
"""Go structs embedded inline: their fields are their parent's in JSON."""
RENAMED = {"ReportingController": "reportingComponent", "DoNotUseExternalID": "externalID",
           "DeprecatedServiceAccount": "serviceAccount", "LastTerminationState": "lastState", "APIVersion":
           "apiVersion", "DataDiskURI": "diskURI", "EndpointsName": "endpoints", "DiscoveryCHAPAuth":
           "chapAuthDiscovery", "SessionCHAPAuth": "chapAuthSession", "CephMonitors": "monitors", "RBDImage": "image",
           "RBDPool": "pool", "RadosUser": "user"}
"""Go field names whose JSON name is not their lower-camel form."""


def go_to_json(go: str, names: list[str]) -> str | None:
    """The JSON field a Go field name stands for (`GracePeriodSeconds` -> `gracePeriodSeconds`, `PodIPs` ->
    `podIPs`, `ObjectMeta` -> `metadata`)."""
    special = {"ObjectMeta": "metadata", "ListMeta": "metadata", "TypeMeta": "", **RENAMED}
    if go in special:
        return special[go] if special[go] in names else None
    low = go.lower()
    found = [n for n in names if n.lower() == low]
    return found[0] if len(found) == 1 else None


# ---- the objects -------------------------------------------------------------------------------------------


def every_field_objects(namespace: str) -> Iterator[tuple[kinds.KindInfo, dict[str, Any]]]:
    from tests.integration import test_every_field as ef  # the filler: every field, valid values

    for info in kinds.all_kinds():
        for i, obj in enumerate(ef._variants(info)):
            doc = json.loads(json.dumps(to_dict(obj)).replace('"NS"', json.dumps(namespace)))
            if info.kind not in ef.NAMED_BY_VALUE:
                doc["metadata"]["name"] = f"lp-{info.kind.lower()}-{i}"
            if not info.namespaced:
                if info.kind not in ef.NAMED_BY_VALUE:
                    doc["metadata"]["name"] = f"{namespace}-{info.kind.lower()}-{i}"
                doc["metadata"].pop("namespace", None)
            else:
                doc["metadata"]["namespace"] = namespace
            yield info, _admissible(doc)


def minimal_objects(namespace: str) -> Iterator[tuple[kinds.KindInfo, dict[str, Any]]]:
    """Objects as kubectl's generators make them (create deployment, run): most fields unset, so the wire shows
    which empty fields Go writes anyway and JSON omits."""
    labels = {"app": "minimal"}
    pod_spec = {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}
    template = {"metadata": {"labels": labels}, "spec": pod_spec}
    selector = {"matchLabels": labels}
    specs: dict[str, dict[str, Any]] = {
        "Pod": pod_spec,
        "ReplicationController": {"selector": labels, "template": template},
        "ReplicaSet": {"selector": selector, "template": template},
        "Deployment": {"selector": selector, "template": template},
        "DaemonSet": {"selector": selector, "template": template},
        "Job": {"template": {**template, "spec": {**pod_spec, "restartPolicy": "Never"}}},
        "Lease": {},
    }
    for kind, spec in specs.items():
        info = kinds.by_kind(kind)
        yield info, {"apiVersion": info.api_version, "kind": kind,
                     "metadata": {"name": f"lp-minimal-{kind.lower()}", "namespace": namespace}, "spec": spec}


ANSWERED_NOT_STORED = {"LimitRange"}
"""Namespaced kinds created with a dry run, like the cluster-scoped ones: a stored LimitRange would default the
resources of the minimal pods that follow it."""

_NEEDS_OTHER_OBJECTS = ("priorityClassName", "priority", "preemptionPolicy", "runtimeClassName", "overhead")


def _admissible(doc: Any) -> Any:
    """Without what the peer's admission refuses for want of other objects (a PriorityClass "high"): the
    decoder teaches those numbers instead."""
    if isinstance(doc, dict):
        return {k: _admissible(v) for k, v in doc.items() if k not in _NEEDS_OTHER_OBJECTS}
    if isinstance(doc, list):
        return [_admissible(v) for v in doc]
    return doc


def collection(info: kinds.KindInfo, namespace: str) -> str:
    base = "/api/v1" if not info.group else f"/apis/{info.api_version}"
    return f"{base}/namespaces/{namespace}/{info.plural}" if info.namespaced else f"{base}/{info.plural}"


def defn_of(api_version: str, kind: str) -> str:
    group, _, version = api_version.rpartition("/")
    for name, d in DEFS.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            if gvk.get("group", "") == group and gvk["version"] == version and gvk["kind"] == kind:
                return name
    raise KeyError(f"{api_version} {kind}")


def _drop_rejected(doc: dict[str, Any], message: str) -> bool:
    """Remove the fields a create was refused for (`spec.containers[0].foo: Invalid value`); False if none."""
    paths = set(re.findall(r"((?:metadata|spec|status)(?:\.[A-Za-z]+|\[\d+\])+)(?:\[[^\]]*\])?: ", message))
    dropped = False
    for p in paths:
        parts = re.findall(r"[A-Za-z]+|\d+", p)
        node: Any = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.get(part, {})
        last = parts[-1]
        if isinstance(node, dict) and last in node:
            del node[last]
            dropped = True
        elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
            del node[int(last)]
            dropped = True
    return dropped


def main() -> None:
    peer = Peer()
    version = peer.json("GET", "/version")["gitVersion"]
    namespace = f"learn-protobuf-{os.getpid()}"
    peer.json("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": namespace}})
    learner = Learner()
    records: dict[str, tuple[bytes, Any]] = {}
    created: list[str] = []
    try:
        # The pods need it before the service account controller may have made it (409 when it has).
        peer.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                  json.dumps({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}).encode())
        for info, doc in [*every_field_objects(namespace), *minimal_objects(namespace)]:
            coll = collection(info, namespace)
            stored = info.namespaced and info.kind not in ANSWERED_NOT_STORED
            dry = "" if stored else "?dryRun=All"
            for _ in range(30):
                code, out = peer.call("POST", coll + dry, json.dumps(doc).encode())
                if code < 300 or not _drop_rejected(doc, out.decode(errors="replace")):
                    break
            if code >= 300:
                print(f"skip {info.kind} {doc['metadata']['name']}: {out[:300]!r}", file=sys.stderr)
                continue
            name = doc["metadata"]["name"]
            if stored:
                item = f"{coll}/{name}"
                created.append(item)
                got_json = peer.json("GET", item)
                _, got_pb = peer.call("GET", item, accept=PROTOBUF)
            else:
                # A cluster-scoped object (or a LimitRange) is answered, not stored: one dry run per encoding (uid
                # and times differ).
                got_json = json.loads(out)
                _, got_pb = peer.call("POST", coll + dry, json.dumps(doc).encode(), accept=PROTOBUF)
            defn = defn_of(info.api_version, info.kind)
            learner.samples.append((defn, got_json, coll))
            learner.learn(defn, got_json, unwrap(got_pb), len(learner.samples) - 1, [])
            if stored:  # a dry run's two answers differ in uid and times
                records.setdefault(info.kind, (got_pb, copy.deepcopy(got_json)))
            if stored and "status" in props(defn):
                status = _status_of(info, namespace)
                if status:
                    for _ in range(5):  # a controller may write the object between the read and the write
                        got_json["status"] = status
                        code, out = peer.call("PUT", item + "/status", json.dumps(got_json).encode())
                        if code != 409:
                            break
                        got_json = peer.json("GET", item)
                    if code < 300:
                        got_json = peer.json("GET", item)
                        _, got_pb = peer.call("GET", item, accept=PROTOBUF)
                        learner.samples.append((defn, got_json, coll))
                        learner.learn(defn, got_json, unwrap(got_pb), len(learner.samples) - 1, [])
                    else:
                        print(f"status of {info.kind}: {out[:300]!r}", file=sys.stderr)
            if info.kind == "Deployment" and "Scale" not in records:
                scale = peer.json("GET", item + "/scale")
                _, body = peer.call("GET", item + "/scale", accept=PROTOBUF)
                learner.learn("io.k8s.api.autoscaling.v1.Scale", scale, unwrap(body), -1, [])
                records["Scale"] = (body, scale)
        learner.resolve()
        _ask_the_decoder(peer, learner, namespace)
    finally:
        for item in created:  # their finalizers (example.com/keep) would hold the namespace in Terminating
            peer.call("PATCH", item, b'{"metadata":{"finalizers":null}}', "application/merge-patch+json")
        peer.call("DELETE", f"/api/v1/namespaces/{namespace}")
    _write(learner, version)
    RECORDINGS.mkdir(parents=True, exist_ok=True)
    for kind in ("Lease", "Event", "Scale", "Deployment", "ConfigMap", "Secret", "Service", "Ingress", "NetworkPolicy"):
        if kind in records:
            pb, doc = records[kind]
            (RECORDINGS / f"{kind.lower()}.bin").write_bytes(pb)
            (RECORDINGS / f"{kind.lower()}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def _status_of(info: kinds.KindInfo, namespace: str) -> dict[str, Any] | None:
    from tests.integration import test_every_field as ef

    doc = json.loads(json.dumps(to_dict(ef._status_object(info))).replace('"NS"', json.dumps(namespace)))
    status: dict[str, Any] | None = doc.get("status")
    return status


def _ask_the_decoder(peer: Peer, learner: Learner, namespace: str) -> None:
    """Check every definition's numbers with the decoder's wire type errors, which also settle what the values
    left open and teach the option bodies no GET answers (DeleteOptions, inside an Eviction). Where the two
    disagree the decoder wins: a chain of nested singletons can fit the wrong field by value."""
    queue: list[tuple[str, tuple[str, str, str, list[int]]]] = []
    for info in kinds.all_kinds():
        queue.append((defn_of(info.api_version, info.kind), (collection(info, namespace), info.api_version,
                                                              info.kind, [])))
    queue.append(("io.k8s.api.policy.v1.Eviction",
                  (f"/api/v1/namespaces/{namespace}/pods/lp-pod-0/eviction", "policy/v1", "Eviction", [])))
    queue.append(("io.k8s.api.autoscaling.v1.Scale",
                  (f"/apis/apps/v1/namespaces/{namespace}/deployments/lp-deployment-0/scale", "autoscaling/v1",
                   "Scale", [])))
    done: set[str] = set()
    while queue:
        defn, (create, api, kind, prefix) = queue.pop(0)
        if defn in done or len(prefix) > 14:
            continue
        done.add(defn)
        names = list(props(defn))
        known = learner.numbers.get(defn, {})
        found = oracle(peer, create, api, kind, prefix, max(len(names) + 12, max(known.values(), default=0) + 6))
        decoded: dict[str, int] = {}
        learner.embedded -= {(d, n) for d, n in learner.embedded if d == defn}  # the decoder says which
        for n, go in found.items():
            j = go_to_json(go, names)
            if j is None and go in EMBEDDED:
                learner.embedded.add((defn, n))
                queue.append((f"{defn}/{n}", (create, api, kind, [*prefix, n])))
            elif j is None:
                print(f"{defn}: field {n} ({go}) has no JSON name", file=sys.stderr)
            else:
                decoded[j] = n
        for j, n in decoded.items():
            if known.get(j, n) != n:
                print(f"{defn}.{j}: values said {known[j]}, the decoder {n}", file=sys.stderr)
        taken = set(decoded.values()) | {n for d, n in learner.embedded if d == defn}
        learner.numbers[defn] = {**{j: n for j, n in known.items() if j not in decoded and n not in taken},
                                 **decoded}
        for p, n in learner.numbers[defn].items():
            sh = shape(props(defn)[p])
            if sh.get("type") == "message" and not sh.get("map"):
                queue.append((sh["ref"], (create, api, kind, [*prefix, n])))
    for defn, n in sorted(learner.embedded):
        # The fields of an embedded struct are not the parent's own.
        inline = set(learner.numbers.get(f"{defn}/{n}", {}))
        learner.numbers[defn] = {j: m for j, m in learner.numbers.get(defn, {}).items() if j not in inline}


def _write(learner: Learner, version: str) -> None:
    definitions: dict[str, Any] = {}
    unknown: dict[str, list[str]] = {}
    reachable = _reachable()
    for defn in sorted(reachable):
        fields: dict[str, Any] = {}
        for p, n in sorted(learner.numbers.get(defn, {}).items(), key=lambda x: x[1]):
            fields[p] = {"number": n, **shape(props(defn)[p]), **_omit(learner, defn, p, n)}
        inline: set[str] = set()
        for d, n in sorted(learner.embedded):
            if d == defn:
                sub = {p: {"number": m, **shape(props(defn)[p]), **_omit(learner, f"{defn}/{n}", p, m)}
                       for p, m in sorted(learner.numbers.get(f"{defn}/{n}", {}).items(), key=lambda x: x[1])}
                fields[f"/{n}"] = {"number": n, "type": "embedded", "fields": sub}
                inline |= set(sub)
        definitions[defn] = fields
        missing = sorted(set(props(defn)) - set(fields) - inline)
        if missing:
            unknown[defn] = missing
    data = {
        "source": "numbers learned from a kube-apiserver's answers (scripts/learn_protobuf.py)",
        "gitVersion": version,
        "learned": time.strftime("%Y-%m-%d"),
        "definitions": definitions,
        "unknown": unknown,
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    count = sum(len(f) for f in definitions.values())
    print(f"{count} field numbers of {len(definitions)} definitions from {version} -> {OUT.relative_to(ROOT)}; "
          f"{sum(map(len, unknown.values()))} fields unknown", file=sys.stderr)


def _omit(learner: Learner, defn: str, p: str, n: int) -> dict[str, bool]:
    seen = learner.zeros.get((defn, n))
    return {"omitEmpty": True} if seen is not None and p not in seen else {}


def _reachable() -> set[str]:
    roots = [defn_of(i.api_version, i.kind) for i in kinds.all_kinds()] + EXTRA
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        d = todo.pop()
        if d in seen or d in LEAVES or d not in DEFS:
            continue
        seen.add(d)
        for prop in props(d).values():
            sh = shape(prop)
            sub = sh["value"] if sh.get("map") else sh
            if sub.get("type") == "message":
                todo.append(sub["ref"])
    return seen


if __name__ == "__main__":
    main()
