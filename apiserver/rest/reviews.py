"""The review resources that are answered, never stored (create-only, as upstream's registry/authorization and
registry/authentication): SelfSubjectAccessReview, SubjectAccessReview, LocalSubjectAccessReview and
SelfSubjectRulesReview ask the authorizer, SelfSubjectReview says who the caller is; JSON or protobuf bodies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from apiserver.authn import UserInfo
from apiserver.authz import Attributes, Union
from apiserver.rest import decode, status
from kubemu.api import errors
from kubemu.api.labels import go_quote

AUTHORIZATION = ("authorization.k8s.io", "v1")
AUTHENTICATION = ("authentication.k8s.io", "v1")
GROUP_VERSIONS = frozenset({AUTHORIZATION, AUTHENTICATION})

RESOURCES = {
    (AUTHORIZATION, "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    (AUTHORIZATION, "subjectaccessreviews"): "SubjectAccessReview",
    (AUTHORIZATION, "localsubjectaccessreviews"): "LocalSubjectAccessReview",
    (AUTHORIZATION, "selfsubjectrulesreviews"): "SelfSubjectRulesReview",
    (AUTHENTICATION, "selfsubjectreviews"): "SelfSubjectReview",
}
"""(group, version), resource -> kind; LocalSubjectAccessReview is the one namespaced resource."""

# ---- Kubernetes protobuf bodies (kubectl's typed clients send them): upstream's field numbers --------------------

_RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource",
                        7: "name"}
_NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}
_SAR_SPEC: dict[int, Any] = {1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
                             2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
                             3: "user", 4: ["groups"], 6: "uid"}
_SPECS: dict[str, dict[int, Any]] = {
    "SelfSubjectAccessReview": {1: _SAR_SPEC[1], 2: _SAR_SPEC[2]},
    "SubjectAccessReview": _SAR_SPEC,
    "LocalSubjectAccessReview": _SAR_SPEC,
    "SelfSubjectRulesReview": {1: "namespace"},
    "SelfSubjectReview": {},
}
_OBJECT_META = {1: "name", 2: "generateName", 3: "namespace"}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _wire(data: bytes) -> list[tuple[int, int | bytes]]:
    """The (field number, value) pairs of a message; varints as ints, length-delimited fields as bytes."""
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire_type == 2:
            n, i = _varint(data, i)
            if i + n > len(data):
                raise ValueError("truncated field")
            out.append((number, data[i:i + n]))
            i += n
        elif wire_type in (1, 5):
            i += 8 if wire_type == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire_type}")
    return out


def _message(data: bytes, spec: dict[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, value in _wire(data):
        field = spec.get(number)
        if field is None or not isinstance(value, bytes):
            continue
        if isinstance(field, str):
            out[field] = value.decode()
        elif isinstance(field, list):
            out.setdefault(field[0], []).append(value.decode())
        else:
            out[field[0]] = _message(value, field[1])
    return out


def parse_protobuf(body: bytes, kind: str) -> dict[str, Any]:
    """A `k8s\\x00` runtime.Unknown around one of the review kinds, as its JSON dict."""
    if not body.startswith(b"k8s\x00"):
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): no protobuf magic")
    try:
        unknown = dict(_wire(body[4:]))
        raw = unknown.get(2, b"")
        assert isinstance(raw, bytes)
        doc: dict[str, Any] = {}
        for number, value in _wire(raw):
            if number == 1 and isinstance(value, bytes):
                doc["metadata"] = _message(value, _OBJECT_META)
            elif number == 2 and isinstance(value, bytes) and _SPECS[kind]:
                doc["spec"] = _message(value, _SPECS[kind])
    except (ValueError, UnicodeDecodeError, AssertionError) as e:
        raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): {e}") from None
    return doc


# ---- the answers ------------------------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _invalid(group: str, field: str, value: str, why: str) -> errors.Invalid:
    """NewInvalid as the review's REST storage makes it: its GroupKind carries the group alone (`.authorization.k8s.io
    "" is invalid: ...`)."""
    cause = errors.Cause("FieldValueInvalid", f"Invalid value: {value}: {why}", field)
    return errors.new_invalid("", group, "", [cause])


def _attributes(kind: str, group: str, user: UserInfo, spec: dict[str, Any]) -> Attributes:
    """The Attributes a SubjectAccessReview spec asks about (ResourceAttributesFrom / NonResourceAttributesFrom)."""
    ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (ra is None) == (nra is None):
        raise _invalid(group, "spec.resourceAttributes", "null" if ra is None else '"{...}"',
                       "exactly one of nonResourceAttributes or resourceAttributes must be specified")
    if isinstance(nra, dict):
        return Attributes(user, str(nra.get("verb", "")), resource_request=False, path=str(nra.get("path", "")))
    ra = ra if isinstance(ra, dict) else {}
    return Attributes(user, str(ra.get("verb", "")), namespace=str(ra.get("namespace", "")),
                      api_group=str(ra.get("group", "")), api_version=str(ra.get("version", "")),
                      resource=str(ra.get("resource", "")), subresource=str(ra.get("subresource", "")),
                      name=str(ra.get("name", "")))


class Reviews:
    def __init__(self, authorizer: Union) -> None:
        self.authorizer = authorizer

    async def handle(self, request: web.Request, group: str, tail: str) -> web.Response:
        parts = tail.split("/")
        namespace = ""
        if len(parts) == 3 and parts[0] == "namespaces":
            namespace, parts = parts[1], parts[2:]
        kind = RESOURCES.get(((group, "v1"), parts[0])) if len(parts) == 1 else None
        if kind is None or (kind == "LocalSubjectAccessReview") != bool(namespace):
            raise status.path_not_found()
        if request.method != "POST":
            raise status.method_not_allowed()
        accept = decode.negotiate(request)
        body = await decode.read_body(request)
        ctype = request.content_type.lower() if "Content-Type" in request.headers else ""
        doc = parse_protobuf(body, kind) if ctype == decode.PROTOBUF else decode.parse(request, body, kind)
        if not isinstance(doc, dict):
            raise status.bad_request(f"the object provided is unrecognized (must be of type {kind}): couldn't get "
                                     "version/kind; json parse error: expected an object")
        user: UserInfo = request["user"]
        out = self.review(kind, group, user, doc, namespace)
        return decode.render(request, accept, out, 201)

    def review(self, kind: str, group: str, user: UserInfo, doc: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        """The answered object of a review `doc` of `kind` made by `user`."""
        spec: dict[str, Any] = dict(doc.get("spec") or {})
        out: dict[str, Any] = {"kind": kind, "apiVersion": f"{group}/v1",
                               "metadata": {"creationTimestamp": _now()} if kind == "SelfSubjectReview" else {}}
        if kind == "SelfSubjectReview":
            info: dict[str, Any] = {"username": user.name}
            if user.uid:
                info["uid"] = user.uid
            if user.groups:
                info["groups"] = list(user.groups)
            if user.extra:  # a ServiceAccount token's credential id and the pod and node it is bound to
                info["extra"] = {key: list(values) for key, values in user.extra.items()}
            out["status"] = {"userInfo": info}
            return out
        if kind == "SelfSubjectRulesReview":
            ns = str(spec.get("namespace", ""))
            if not ns:
                raise status.bad_request("no namespace on request")
            out["spec"] = {}
            out["status"] = self.rules_status(user, ns)
            return out
        if kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
            if not spec.get("user") and not spec.get("groups"):
                raise _invalid(group, "spec.user", '""', "at least one of user or group must be specified")
            subject = UserInfo(str(spec.get("user", "")), str(spec.get("uid", "")),
                               tuple(str(g) for g in spec.get("groups") or ()))
            if kind == "LocalSubjectAccessReview":
                meta = doc.get("metadata") or {}
                if meta.get("namespace", namespace) != namespace:
                    raise status.bad_request("the namespace of the provided object does not match the namespace sent "
                                             "on the request")
                ra, nra = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
                if nra is not None:
                    raise _invalid(group, "spec.nonResourceAttributes", '"{...}"', "disallowed on this kind of request")
                if isinstance(ra, dict) and ra.get("namespace", "") != namespace:
                    raise _invalid(group, "spec.resourceAttributes.namespace", go_quote(str(ra.get("namespace", ""))),
                                   "must match metadata.namespace")
                out["metadata"] = {"namespace": namespace}
        else:
            subject = user  # a SelfSubjectAccessReview's spec has no user: it is always the caller
        a = _attributes(kind, group, subject, spec)
        decision, reason = self.authorizer.authorize(a)
        out["spec"] = spec
        st: dict[str, Any] = {"allowed": decision == "allow"}
        if decision == "deny":
            st["denied"] = True
        if reason:
            st["reason"] = reason
        out["status"] = st
        return out

    def rules_status(self, user: UserInfo, namespace: str) -> dict[str, Any]:
        """SubjectRulesReviewStatus: the user's rules in `namespace`, split into resource and non-resource ones."""
        rules, errs = self.authorizer.rules_for(user, namespace)
        resource_rules: list[dict[str, Any]] = []
        non_resource_rules: list[dict[str, Any]] = []
        for rule in rules:
            if rule.resources:
                r: dict[str, Any] = {"verbs": list(rule.verbs), "apiGroups": list(rule.api_groups),
                                     "resources": list(rule.resources)}
                if rule.resource_names:
                    r["resourceNames"] = list(rule.resource_names)
                resource_rules.append(r)
            if rule.non_resource_urls:
                non_resource_rules.append({"verbs": list(rule.verbs), "nonResourceURLs": list(rule.non_resource_urls)})
        st: dict[str, Any] = {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules,
                              "incomplete": bool(errs)}
        if errs:
            st["evaluationError"] = errors.aggregate(errs)
        return st
