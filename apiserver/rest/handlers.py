"""The verbs on resources (get, list, watch, create, update, patch, delete, deletecollection) and the status,
scale and binding subresources: paths parsed as upstream's RequestInfoFactory does, the registry called, JSON out."""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from apiserver import errors
from apiserver.apis import install
from apiserver.registry import Registry
from apiserver.rest import decode, status, tables
from apiserver.rest.streams import Streams
from apiserver.rest.watch import WatchStream, send_initial_events
from apiserver.watch import WatchHub, make_filter
from kubemu.api import kinds
from kubemu.api.errors import StatusError, new_timeout_error
from kubemu.api.labels import from_label_selector
from kubemu.api.patch import apply, json_patch, merge_patch, record_update, strategic_merge_patch
from kubemu.api.patch.schema import UNKNOWN
from kubemu.api.patch.strategic import strategic_merge_map
from kubemu.api.serialization import DecodeError, fill_message, message_to_dict, to_dict
from kubemu.pb import authentication_pb2

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_SCALED = frozenset({"Deployment", "ReplicaSet", "ReplicationController"})
_DELETE_CONCURRENCY = 32


@dataclass(frozen=True)
class Target:
    """What a resource path names: the kind, the namespace ("" for cluster-scoped kinds or all namespaces), the
    object's name ("" for the collection) and the subresource ("" for the object itself)."""

    info: kinds.KindInfo
    namespace: str
    name: str
    subresource: str


DEPRECATED = {"Endpoints": "v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"}
"""The warning every request for a deprecated kind gets (the deprecation filter upstream), as a `Warning` header."""
DEPRECATION_KEY = "kubemu.deprecation"


def resolve(group: str, version: str, parts: list[str]) -> Target:
    """The target of the path after `/api/v1/` or `/apis/<g>/<v>/` (RequestInfoFactory's rules): 404 when it names
    no served kind, or a namespace for a cluster-scoped one."""
    namespace = ""
    if parts and parts[0] == "namespaces" and len(parts) > 1:
        namespace = parts[1]
        if len(parts) > 2 and parts[2] not in _NAMESPACE_SUBRESOURCES:
            parts = parts[2:]
    if not parts or len(parts) > 3 or not all(parts):
        raise status.path_not_found()
    info = next((k for k in kinds.all_kinds() if k.group == group and k.version == version and k.plural == parts[0]),
                None)
    if info is None:
        raise status.path_not_found()
    name = parts[1] if len(parts) > 1 else ""
    sub = parts[2] if len(parts) > 2 else ""
    if info.kind == "Namespace":
        namespace = ""
    elif not info.namespaced and namespace:
        raise status.path_not_found()
    if sub and sub not in info.subresources:
        raise status.path_not_found()
    return Target(info, namespace, name, sub)


def _dry_run(request: web.Request, body: dict[str, Any] | None = None) -> bool:
    values = request.query.getall("dryRun", [])
    if body and isinstance(body.get("dryRun"), list):
        values = [*values, *body["dryRun"]]
    for v in values:
        if v != "All":
            raise status.bad_request(f'Invalid value: "{v}": supported values: "All"')
    return bool(values)


def _int_query(request: web.Request, name: str) -> int | None:
    """An integer query parameter (limit, timeoutSeconds): 400 when it is not one, as upstream's parameter codec."""
    value = request.query.get(name, "")
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise status.bad_request(f'invalid value for {name}: "{value}"') from None


def _list_doc(info: kinds.KindInfo, items: list[dict[str, Any]], metadata: dict[str, Any]) -> dict[str, Any]:
    return {"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": metadata, "items": items}


# ---- continue tokens ---------------------------------------------------------------------------------------------


def encode_continue(rv: int, start: str) -> str:
    """Upstream's continue token: base64 of {"v":"meta.k8s.io/v1","rv":<list revision>,"start":<next key>}."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if raw.get("v") != "meta.k8s.io/v1":
            raise ValueError(raw.get("v"))
        return int(raw["rv"]), str(raw["start"])
    except (ValueError, KeyError, TypeError, binascii.Error, AttributeError):
        raise status.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None


def _item(obj: Any) -> dict[str, Any]:
    """An item of a typed list: without apiVersion and kind, which the list says once (as upstream encodes it)."""
    out: dict[str, Any] = message_to_dict(obj)
    out.setdefault("metadata", {})
    return out


def _key(obj: Any) -> str:
    return f"{obj.metadata.namespace}/{obj.metadata.name}"


# ---- scale ---------------------------------------------------------------------------------------------------------


def _scale_of(obj: Any) -> dict[str, Any]:
    """The autoscaling/v1 Scale of a Deployment, ReplicaSet or ReplicationController."""
    spec = obj.spec
    if obj.DESCRIPTOR.name == "ReplicationController":
        selector = ",".join(f"{k}={v}" for k, v in sorted(spec.selector.items()))
    else:
        selector = str(from_label_selector(spec.selector)) if spec.HasField("selector") else ""
    meta = message_to_dict(obj.metadata)
    meta = {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in meta}
    st: dict[str, Any] = {"replicas": obj.status.replicas}
    if selector:
        st["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
            "spec": {"replicas": spec.replicas if spec.HasField("replicas") else 1}, "status": st}


# ---- patches and managedFields ----------------------------------------------------------------------------------

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = frozenset({JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH})
"""What PATCH takes; apply-patch+cbor is upstream's only behind the CBORServingAndStorage gate, so it is a 415 here."""
_PATCH_RETRIES = 8
_FIELD_MANAGER_MAX_LENGTH = 128
_SCHEME = "pkg/api/legacyscheme/scheme.go:30"


def _manager_from_user_agent(agent: str) -> str:
    """prefixFromUserAgent: the user agent's first path segment (`kubectl`, `python`), printable characters only,
    at most 128 bytes: the manager of a write that names none."""
    out = ""
    for c in agent.split("/")[0]:
        if not c.isprintable():
            continue
        if len((out + c).encode()) > _FIELD_MANAGER_MAX_LENGTH:
            break
        out += c
    return out


def _manager(request: web.Request) -> str:
    """managerOrUserAgent: the request's fieldManager, else what the User-Agent says."""
    return request.query.get("fieldManager", "") or _manager_from_user_agent(request.headers.get("User-Agent", ""))


def _options_invalid(kind: str, causes: builtins.list[errors.Cause]) -> errors.Invalid:
    """NewInvalid for the options of a request (PatchOptions.meta.k8s.io "" is invalid: ...)."""
    what = causes[0].field + ": " + causes[0].message if len(causes) == 1 else \
        "[" + ", ".join(f"{c.field}: {c.message}" for c in causes) + "]"
    return errors.Invalid(f'{kind}.meta.k8s.io "" is invalid: {what}',
                          details=errors.StatusDetails(group="meta.k8s.io", kind=kind, causes=tuple(causes)))


def _patch_options(request: web.Request, ptype: str) -> tuple[str, bool]:
    """ValidatePatchOptions: apply needs a fieldManager, the other patch types take no `force`; the manager and
    whether to force."""
    q = request.query
    causes: builtins.list[errors.Cause] = []
    manager = q.get("fieldManager", "")
    if ptype == APPLY_PATCH:
        if not manager:
            causes.append(errors.Cause("FieldValueRequired", "Required value: is required for apply patch",
                                       "fieldManager"))
    elif "force" in q:
        causes.append(errors.Cause("FieldValueForbidden", "Forbidden: may not be specified for non-apply patch",
                                   "force"))
    if len(manager.encode()) > _FIELD_MANAGER_MAX_LENGTH:
        causes.append(errors.Cause("FieldValueTooLong", f"Too long: may not be more than "
                                   f"{_FIELD_MANAGER_MAX_LENGTH} bytes", "fieldManager"))
    if causes:
        raise _options_invalid("PatchOptions", causes)
    force = q.get("force", "false")
    if force not in ("true", "false", "1", "0", "True", "False"):
        raise status.bad_request(f'strconv.ParseBool: parsing "{force}": invalid syntax')
    return manager or _manager(request), force in ("true", "1", "True")


def _decode_patch(ptype: str, raw: bytes) -> Any:
    """The patch body as a JSON value, refused with the words of upstream's patch handler: `error decoding patch:`
    before encoding/json's error for JSON and merge patches, the bare error for a strategic one."""
    if ptype == APPLY_PATCH:
        return decode.parse_apply(raw)
    try:
        return decode.parse_json(raw)
    except ValueError as e:
        raise status.bad_request(str(e) if ptype == STRATEGIC_PATCH else f"error decoding patch: {e}") from None


def _patched_doc(info: kinds.KindInfo, ptype: str, doc: dict[str, Any], patch: Any) -> dict[str, Any]:
    if ptype == JSON_PATCH:
        return json_patch(doc, patch)
    if ptype == MERGE_PATCH:
        return merge_patch(doc, patch)
    return strategic_merge_patch(info, doc, patch)


def _patch_invalid(doc: Any, why: str) -> errors.Invalid:
    """What a patched document that does not decode into the kind gets: a 422 about the field `patch`, with the
    whole document as its value (upstream's NewInvalid(GroupKind{}, "", patch: Invalid value))."""
    value = json.dumps(json.dumps(doc, separators=(",", ":"), ensure_ascii=False), ensure_ascii=False)
    message = f"Invalid value: {value}: {why}"
    return errors.Invalid(f' "" is invalid: patch: {message}',
                          details=errors.StatusDetails(causes=(errors.Cause("FieldValueInvalid", message, "patch"),)))


def _without_managed_fields(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or "managedFields" not in meta:
        return doc
    return {**doc, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}


def _set_managed_fields(obj: Any, doc: dict[str, Any]) -> None:
    """The object's managedFields become those of `doc` (what record_update or apply made)."""
    entries = (doc.get("metadata") or {}).get("managedFields") or []
    meta = type(obj.metadata)()
    fill_message(meta, {"managedFields": entries})
    obj.metadata.ClearField("managed_fields")
    obj.metadata.managed_fields.extend(meta.managed_fields)


class Resources:
    """The handlers of every served kind's paths, over one registry and watch hub."""

    def __init__(self, registry: Registry, hub: WatchHub, bookmark_interval: float) -> None:
        self.registry = registry
        self.watch = WatchStream(registry, hub, bookmark_interval)
        self.streams = Streams(registry)

    async def handle(self, request: web.Request, group: str, version: str, parts: list[str]) -> web.StreamResponse:
        t = resolve(group, version, parts)
        deprecation = DEPRECATED.get(t.info.kind)
        if deprecation is not None:
            request[DEPRECATION_KEY] = deprecation
        method = request.method
        if not t.name:
            if method == "GET":
                if request.query.get("watch") in ("true", "1"):
                    return await self.watch_collection(request, t)
                return await self.list(request, t)
            if method == "POST":
                return await self.create(request, t)
            if method == "DELETE" and "deletecollection" in t.info.verbs:
                return await self.delete_collection(request, t)
            raise status.method_not_allowed()
        if t.subresource in ("", "status"):
            if method == "GET":
                return await self.get(request, t)
            if method == "PUT":
                return await self.update(request, t)
            if method == "PATCH":
                return await self.patch(request, t)
            if method == "DELETE" and not t.subresource:
                return await self.delete(request, t)
            raise status.method_not_allowed()
        if t.subresource == "finalize" and t.info.kind == "Namespace":
            if method == "PUT":
                return await self.update(request, t)
            raise status.method_not_allowed()
        if t.subresource == "scale" and t.info.kind in _SCALED:
            if method == "GET":
                return await self.get_scale(request, t)
            if method == "PUT":
                return await self.update_scale(request, t)
            if method == "PATCH":
                return await self.patch(request, t)
            raise status.method_not_allowed()
        if t.info.kind == "Pod" and t.subresource in Streams.SUBRESOURCES:
            return await self.streams.handle(request, t.namespace, t.name, t.subresource)
        if t.subresource == "binding" and t.info.kind == "Pod":
            if method == "POST":
                return await self.bind(request, t)
            raise status.method_not_allowed()
        if t.subresource == "token" and t.info.kind == "ServiceAccount":
            if self.registry.token_issuer is None:
                raise status.path_not_found()  # kube-apiserver without a signing key does not serve it
            if method == "POST":
                return await self.create_token(request, t)
            raise status.method_not_allowed()
        raise status.path_not_found()  # a subresource discovery lists that this face does not serve yet

    # -- reads --------------------------------------------------------------------------------------------------------

    def _filter(self, request: web.Request, t: Target) -> Any:
        q = request.query
        return make_filter(t.info.kind, t.namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""))

    async def get(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request, table=True)
        obj = await self.registry.get(t.info.kind, t.namespace, t.name)
        if accept.form == "table":
            include = self._include(request)
            return decode.render(request, accept, tables.table(
                t.info, [obj], include, {"resourceVersion": obj.metadata.resource_version}))
        return decode.render(request, accept, to_dict(obj))

    @staticmethod
    def _include(request: web.Request) -> str:
        include = request.query.get("includeObject", "") or "Metadata"
        if include not in tables.INCLUDE:
            raise status.bad_request(f'Unsupported value: "{include}": supported values: "Metadata", "None", "Object"')
        return include

    async def list(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request, table=True)
        q = request.query
        flt = self._filter(request, t)
        rv, match = q.get("resourceVersion", ""), q.get("resourceVersionMatch", "")
        if match and not rv:
            raise status.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if match not in ("", "Exact", "NotOlderThan"):
            raise status.bad_request(f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"')
        if rv and not rv.isdigit():
            raise errors.BadRequest(f'invalid resource version "{rv}"')
        _int_query(request, "timeoutSeconds")  # a list ends at once, but refuses what a watch would refuse
        send_initial_events(q, watch=False)
        limit = _int_query(request, "limit")
        items, rev = await self.registry.list(t.info.kind, t.namespace, flt)
        # The store keeps only the latest state: a list at an exact older revision is gone, as after compaction.
        if match == "Exact" and int(rv) != rev:
            raise errors.Expired(f"too old resource version: {rv} ({rev})")
        if match == "NotOlderThan" and int(rv) > rev:
            # Upstream waits a while for the store to catch up first; ours is never behind its own revision.
            raise new_timeout_error(f"Too large resource version: {rv}, current: {rev}", 1)
        start = ""
        if q.get("continue"):
            if rv not in ("", "0"):
                raise status.bad_request('specifying resource version is not allowed when using continue')
            _, start = decode_continue(q["continue"])
            items = [o for o in items if _key(o) >= start]
        metadata: dict[str, Any] = {"resourceVersion": str(rev)}
        limit = max(limit or 0, 0)  # upstream lists everything for a negative limit
        if limit and len(items) > limit:
            # A continuation is served from the store's latest state (no snapshot at the first page's revision):
            # objects keep their order by namespace/name, so none is listed twice.
            metadata["continue"] = encode_continue(rev, _key(items[limit]))
            metadata["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if accept.form == "table":
            return decode.render(request, accept, tables.table(t.info, items, self._include(request), metadata))
        return decode.render(request, accept, _list_doc(t.info, [_item(o) for o in items], metadata))

    async def watch_collection(self, request: web.Request, t: Target) -> web.StreamResponse:
        accept = decode.negotiate(request, table=True)
        flt = self._filter(request, t)
        include = self._include(request) if accept.form == "table" else None
        return await self.watch.serve(request, t.info, t.namespace, flt, include)

    # -- writes ------------------------------------------------------------------------------------------------------

    async def _body(self, request: web.Request, t: Target, warnings: builtins.list[str]) -> Any:
        raw = await decode.read_body(request)
        doc = decode.parse(request, raw, t.info.kind)
        decode.check_kind(doc, t.info)
        return decode.to_object(doc, t.info, decode.field_validation(request), warnings)

    def _check_namespace(self, t: Target, obj: Any) -> None:
        if not t.info.namespaced:
            return
        if obj.metadata.namespace and obj.metadata.namespace != t.namespace:
            raise status.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        obj.metadata.namespace = t.namespace

    @staticmethod
    def _headers(warnings: builtins.list[str]) -> CIMultiDict[str] | None:
        return CIMultiDict(decode.warning_headers(warnings)) if warnings else None

    def _now(self) -> str:
        """The time managedFields record, from the registry's clock (RFC 3339, seconds)."""
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.registry.clock()))

    def _record(self, t: Target, obj: Any, old: Any, manager: str, subresource: str = "") -> None:
        """managedFields of a create (old None) or an update by `manager`, recorded on the object as the client sent
        it: before the strategy's defaulting, as upstream's field manager runs before mutating admission."""
        doc = record_update(t.info, to_dict(old) if old is not None else None, to_dict(obj), manager, self._now(),
                            subresource)
        _set_managed_fields(obj, doc)

    async def create(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        if t.info.namespaced and not t.namespace:
            raise status.method_not_allowed()
        warnings: builtins.list[str] = []
        obj = await self._body(request, t, warnings)
        self._check_namespace(t, obj)
        self._record(t, obj, None, _manager(request))
        created = await self.registry.create(obj, dry_run=_dry_run(request))
        warnings += install.for_kind(t.info.kind).warnings_on_create(created)
        return decode.render(request, accept, to_dict(created), 201, self._headers(warnings))

    async def update(self, request: web.Request, t: Target) -> web.Response:
        """PUT, as GuaranteedUpdate: managedFields are recorded against the object read, and the write is a
        compare-and-swap on its resourceVersion (the client's, when it sent one: then a Conflict is final)."""
        accept = decode.negotiate(request)
        warnings: builtins.list[str] = []
        sent = await self._body(request, t, warnings)
        if sent.metadata.name != t.name:
            raise status.bad_request(
                f"the name of the object ({sent.metadata.name}) does not match the name on the URL ({t.name})")
        self._check_namespace(t, sent)
        manager, dry = _manager(request), _dry_run(request)
        requested = sent.metadata.resource_version
        for _ in range(_PATCH_RETRIES):
            current = await self.registry.get(t.info.kind, t.namespace, t.name)
            obj = type(sent)()
            obj.CopyFrom(sent)
            self._record(t, obj, current, manager, t.subresource)
            obj.metadata.resource_version = requested or current.metadata.resource_version
            try:
                if t.subresource == "finalize":
                    updated = await self.registry.finalize(obj, dry_run=dry)
                else:
                    updated = await self.registry.update(obj, status=t.subresource == "status", dry_run=dry)
            except errors.Conflict:
                if requested:
                    raise
                continue
            return decode.render(request, accept, to_dict(updated), 200, self._headers(warnings))
        raise errors.Conflict(errors.conflict_message(t.info.resource, t.name))

    def _patched_object(self, t: Target, doc: Any, validation: str, warnings: builtins.list[str]) -> Any:
        """The typed object of a patched document (nulls and empty maps dropped as decoding drops them), with the
        name and namespace of the URL; upstream's 422 about `patch` when it is not an object of the path's kind."""
        info = t.info
        if not isinstance(doc, dict):
            raise _patch_invalid(doc, "Object 'Kind' is missing")
        kind, version = doc.get("kind"), doc.get("apiVersion")
        if kind != info.kind or version != info.api_version:
            raise _patch_invalid(doc, f'no kind "{kind}" is registered for version "{version}" in scheme '
                                      f'"{_SCHEME}"')
        try:
            obj = decode.to_object(doc, info, validation, warnings)
        except StatusError as e:
            raise _patch_invalid(doc, e.message.partition(f"cannot be handled as a {info.kind}: ")[2]
                                 or e.message) from None
        if obj.metadata.name != t.name:
            raise status.bad_request(
                f"the name of the object ({obj.metadata.name}) does not match the name on the URL ({t.name})")
        self._check_namespace(t, obj)
        return obj

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        """PATCH of every type (patch.go's PatchResource): the patch is applied to the object as read and written
        with a compare-and-swap on its resourceVersion; on a Conflict the object is read and patched again, as
        GuaranteedUpdate does. Server-side apply of a missing object creates it."""
        ptype = request.content_type.lower() if "Content-Type" in request.headers else ""
        if ptype not in PATCH_TYPES:
            raise status.unsupported_patch_type()
        accept = decode.negotiate(request)
        raw = await decode.read_body(request, patch=True)
        manager, force = _patch_options(request, ptype)
        validation, dry = decode.field_validation(request), _dry_run(request)
        patch = _decode_patch(ptype, raw)
        if t.subresource == "scale":
            return await self._patch_scale(request, t, accept, ptype, patch, manager, dry)
        for _ in range(_PATCH_RETRIES):
            warnings: builtins.list[str] = []
            now = self._now()
            try:
                current = await self.registry.get(t.info.kind, t.namespace, t.name)
            except errors.NotFound:
                if ptype != APPLY_PATCH or t.subresource:
                    raise
                obj = self._patched_object(t, apply(t.info, None, patch, manager, force, now), validation, warnings)
                try:
                    created = await self.registry.create(obj, dry_run=dry)
                except errors.AlreadyExists:
                    continue  # created meanwhile: apply to it
                warnings += install.for_kind(t.info.kind).warnings_on_create(created)
                return decode.render(request, accept, to_dict(created), 201, self._headers(warnings))
            live = to_dict(current)
            if ptype == APPLY_PATCH:
                doc = apply(t.info, live, patch, manager, force, now)
            else:
                # The patch sees the object without its managedFields, unless it is about them (patch.go).
                base = live if (not t.subresource and b"managedFields" in raw) else _without_managed_fields(live)
                doc = record_update(t.info, live, _patched_doc(t.info, ptype, base, patch), manager, now,
                                    t.subresource)
            obj = self._patched_object(t, doc, validation, warnings)
            read_rv = current.metadata.resource_version
            requested = obj.metadata.resource_version  # the object's own, unless the patch set another
            obj.metadata.resource_version = requested or read_rv
            try:
                updated = await self.registry.update(obj, status=t.subresource == "status", dry_run=dry)
            except errors.Conflict:
                if requested and requested != read_rv:
                    raise
                continue
            return decode.render(request, accept, to_dict(updated), 200, self._headers(warnings))
        raise errors.Conflict(errors.conflict_message(t.info.resource, t.name))

    def _delete_options(self, request: web.Request, body: dict[str, Any] | None) -> dict[str, Any]:
        q = request.query
        body = body or {}
        grace: Any = body.get("gracePeriodSeconds", q.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                grace = int(grace)
            except (TypeError, ValueError):
                raise status.bad_request(f'invalid value for gracePeriodSeconds: "{grace}"') from None
        pre = body.get("preconditions") or {}
        if not isinstance(pre, dict):
            raise status.bad_request("preconditions: expected an object")
        policy = body.get("propagationPolicy", q.get("propagationPolicy", "")) or ""
        if body.get("orphanDependents") is True or q.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        return {"grace_period_seconds": grace, "uid": pre.get("uid"), "resource_version": pre.get("resourceVersion"),
                "propagation_policy": str(policy)}

    async def _delete_body(self, request: web.Request) -> dict[str, Any] | None:
        if not request.can_read_body:
            return None
        raw = await decode.read_body(request)
        if not raw.strip():
            return None
        doc = decode.parse(request, raw, "DeleteOptions")
        if not isinstance(doc, dict):
            raise status.bad_request("the object provided is unrecognized (must be of type DeleteOptions)")
        return doc

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        body = await self._delete_body(request)
        opts = self._delete_options(request, body)
        if _dry_run(request, body):
            obj = await self.registry.get(t.info.kind, t.namespace, t.name)
            return decode.render(request, accept, to_dict(obj))
        obj = await self.registry.delete(t.info.kind, t.namespace, t.name, **opts)
        return decode.render(request, accept, to_dict(obj))

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        body = await self._delete_body(request)
        opts = self._delete_options(request, body)
        opts.update(uid=None, resource_version=None)
        items, rev = await self.registry.list(t.info.kind, t.namespace, self._filter(request, t))
        if _dry_run(request, body):
            return decode.render(request, accept, _list_doc(t.info, [_item(o) for o in items],
                                                            {"resourceVersion": str(rev)}))
        gate = asyncio.Semaphore(_DELETE_CONCURRENCY)

        async def one(obj: Any) -> Any:
            async with gate:
                try:
                    return await self.registry.delete(t.info.kind, obj.metadata.namespace, obj.metadata.name, **opts)
                except errors.NotFound:
                    return None

        deleted = [o for o in await asyncio.gather(*(one(o) for o in items)) if o is not None]
        return decode.render(request, accept, _list_doc(t.info, [_item(o) for o in deleted],
                                                        {"resourceVersion": str(rev)}))

    # -- subresources ------------------------------------------------------------------------------------------------

    async def get_scale(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        return decode.render(request, accept, _scale_of(await self.registry.get(t.info.kind, t.namespace, t.name)))

    async def update_scale(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        raw = await decode.read_body(request)
        doc = decode.parse(request, raw, "Scale")
        decode.check_kind(doc, t.info, "Scale", "autoscaling/v1")
        parent = await self.registry.get(t.info.kind, t.namespace, t.name)
        updated = await self._write_scale(t, parent, doc, _manager(request), _dry_run(request), precondition=True)
        return decode.render(request, accept, _scale_of(updated))

    async def _write_scale(self, t: Target, parent: Any, doc: Any, manager: str, dry: bool, *,
                           precondition: bool) -> Any:
        """Write a Scale's replicas into its parent, recorded for `manager` with subresource `scale`. The parent is
        written with the Scale's resourceVersion when it has one (a precondition), else with the one read
        (`precondition` False: the caller re-reads on a Conflict) or with none (True: unconditional)."""
        if not isinstance(doc, dict):
            raise _patch_invalid(doc, "Object 'Kind' is missing")
        meta = doc.get("metadata") or {}
        if meta.get("name", t.name) != t.name:
            raise status.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({t.name})")
        replicas = (doc.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise status.bad_request("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: "
                                     "expected integer")
        if replicas < 0:
            raise errors.Invalid(f'Scale.autoscaling "{t.name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                                 "must be greater than or equal to 0",
                                 details=errors.StatusDetails(name=t.name, group="autoscaling", kind="Scale",
                                                              causes=(errors.Cause("FieldValueInvalid",
                                                                      f"Invalid value: {replicas}: must be greater "
                                                                      "than or equal to 0", "spec.replicas"),)))
        obj = type(parent)()
        obj.CopyFrom(parent)
        obj.spec.replicas = replicas
        self._record(t, obj, parent, manager, "scale")
        if meta.get("resourceVersion"):
            obj.metadata.resource_version = str(meta["resourceVersion"])
        elif precondition:
            obj.metadata.resource_version = ""
        return await self.registry.update(obj, status=False, dry_run=dry)

    async def _patch_scale(self, request: web.Request, t: Target, accept: decode.Accept, ptype: str, patch: Any,
                           manager: str, dry: bool) -> web.Response:
        """A patch of the scale subresource: applied to the parent's Scale, whose replicas are then written into the
        parent. A Scale has no lists, so a strategic merge patch is a merge patch with directives; server-side
        apply merges the configuration the same way (no field ownership inside the Scale itself)."""
        for _ in range(_PATCH_RETRIES):
            parent = await self.registry.get(t.info.kind, t.namespace, t.name)
            scale = _scale_of(parent)
            if ptype == JSON_PATCH:
                doc: Any = json_patch(scale, patch)
            elif ptype == MERGE_PATCH:
                doc = merge_patch(scale, patch)
            else:
                if ptype == APPLY_PATCH:
                    decode.check_kind(patch, t.info, "Scale", "autoscaling/v1")
                elif not isinstance(patch, dict):
                    raise status.bad_request("json: cannot unmarshal array into Go value of type "
                                             "map[string]interface {}")
                doc = strategic_merge_map(UNKNOWN, scale, patch)
            rv = (doc.get("metadata") or {}).get("resourceVersion") if isinstance(doc, dict) else None
            try:
                updated = await self._write_scale(t, parent, doc, manager, dry, precondition=False)
            except errors.Conflict:
                if rv and rv != parent.metadata.resource_version:
                    raise
                continue
            return decode.render(request, accept, _scale_of(updated))
        raise errors.Conflict(errors.conflict_message(t.info.resource, t.name))

    async def bind(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        raw = await decode.read_body(request)
        doc = decode.parse(request, raw, "Binding")
        if not isinstance(doc, dict):
            raise status.bad_request("the object provided is unrecognized (must be of type Binding)")
        if doc.get("kind", "Binding") != "Binding":
            decode.check_kind(doc, t.info, "Binding", "v1")
        meta = doc.get("metadata") or {}
        target = doc.get("target") or {}
        if meta.get("name", t.name) != t.name:
            raise status.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({t.name})")
        if meta.get("namespace", t.namespace) != t.namespace:
            raise status.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        uid = meta.get("uid") or None
        if not _dry_run(request):
            await self.registry.bind(t.namespace, t.name, str(target.get("name", "")), uid)
        return decode.render(request, accept, status.success(201), 201)

    async def create_token(self, request: web.Request, t: Target) -> web.Response:
        """POST serviceaccounts/NAME/token: a TokenRequest in, the same with its token in status out (201)."""
        accept = decode.negotiate(request)
        raw = await decode.read_body(request)
        doc = decode.parse(request, raw, "TokenRequest")
        if not isinstance(doc, dict):
            raise status.bad_request("the object provided is unrecognized (must be of type TokenRequest)")
        if doc.get("kind", "TokenRequest") != "TokenRequest":
            decode.check_kind(doc, t.info, "TokenRequest", "authentication.k8s.io/v1")
        doc.pop("kind", None)
        doc.pop("apiVersion", None)
        req = authentication_pb2.TokenRequest()
        try:
            fill_message(req, _without_nulls(doc))
        except DecodeError as e:
            raise status.bad_request(f"TokenRequest in version \"v1\" cannot be handled as a TokenRequest: {e}") \
                from None
        out = await self.registry.create_token(t.namespace, t.name, req)
        body: dict[str, Any] = {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1"}
        body.update(message_to_dict(out))
        return decode.render(request, accept, body, 201)


def _without_nulls(value: Any) -> Any:
    """A JSON value without its nulls, which Go's decoder takes as absent (kubectl sends `audiences: null`)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value
