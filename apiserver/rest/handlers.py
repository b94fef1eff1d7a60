"""The verbs on resources (get, list, watch, create, update, patch, delete, deletecollection) and the status,
scale and binding subresources: paths parsed as upstream's RequestInfoFactory does, the registry called, JSON out."""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import copy
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from apiserver import errors
from apiserver.registry import Registry
from apiserver.rest import decode, status, tables
from apiserver.rest.watch import WatchStream
from apiserver.watch import WatchHub, make_filter
from kubemu.api import kinds
from kubemu.api.errors import new_timeout_error
from kubemu.api.labels import from_label_selector
from kubemu.api.serialization import message_to_dict, to_dict

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


# ---- merge patch (RFC 7386) ---------------------------------------------------------------------------------------


def _merge_patch(doc: Any, patch: Any) -> Any:
    # TODO: use kubemu.api.patch.merge_patch (and json_patch, strategic_merge_patch, apply) once it lands.
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


class Resources:
    """The handlers of every served kind's paths, over one registry and watch hub."""

    def __init__(self, registry: Registry, hub: WatchHub, bookmark_interval: float) -> None:
        self.registry = registry
        self.watch = WatchStream(registry, hub, bookmark_interval)

    async def handle(self, request: web.Request, group: str, version: str, parts: list[str]) -> web.StreamResponse:
        t = resolve(group, version, parts)
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
        if t.subresource == "scale" and t.info.kind in _SCALED:
            if method == "GET":
                return await self.get_scale(request, t)
            if method == "PUT":
                return await self.update_scale(request, t)
            raise status.method_not_allowed()
        if t.subresource == "binding" and t.info.kind == "Pod":
            if method == "POST":
                return await self.bind(request, t)
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

    async def create(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        if t.info.namespaced and not t.namespace:
            raise status.method_not_allowed()
        warnings: builtins.list[str] = []
        obj = await self._body(request, t, warnings)
        self._check_namespace(t, obj)
        created = await self.registry.create(obj, dry_run=_dry_run(request))
        return decode.render(request, accept, to_dict(created), 201, self._headers(warnings))

    async def update(self, request: web.Request, t: Target) -> web.Response:
        accept = decode.negotiate(request)
        warnings: builtins.list[str] = []
        obj = await self._body(request, t, warnings)
        if obj.metadata.name != t.name:
            raise status.bad_request(
                f"the name of the object ({obj.metadata.name}) does not match the name on the URL ({t.name})")
        self._check_namespace(t, obj)
        updated = await self.registry.update(obj, status=t.subresource == "status", dry_run=_dry_run(request))
        return decode.render(request, accept, to_dict(updated), 200, self._headers(warnings))

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        """merge-patch only, for now; the other patch types answer 415 until kubemu.api.patch serves them."""
        accept = decode.negotiate(request)
        ctype = request.content_type.lower()
        if ctype != "application/merge-patch+json":
            raise status.unsupported_patch_type()
        raw = await decode.read_body(request, patch=True)
        try:
            patch = json.loads(raw)
        except ValueError as e:
            raise status.bad_request(f"error decoding patch: {e}") from None
        validation, dry = decode.field_validation(request), _dry_run(request)
        for _ in range(8):  # a write between our read and our update: patch the newer object (upstream retries)
            warnings: builtins.list[str] = []
            current = await self.registry.get(t.info.kind, t.namespace, t.name)
            doc = _merge_patch(to_dict(current), patch)
            decode.check_kind(doc, t.info)
            obj = decode.to_object(doc, t.info, validation, warnings)
            if obj.metadata.name != t.name:
                raise status.bad_request(
                    f"the name of the object ({obj.metadata.name}) does not match the name on the URL ({t.name})")
            if not (isinstance(patch, dict) and isinstance(patch.get("metadata"), dict)
                    and "resourceVersion" in patch["metadata"]):
                obj.metadata.resource_version = current.metadata.resource_version
            try:
                updated = await self.registry.update(obj, status=t.subresource == "status", dry_run=dry)
            except errors.Conflict:
                if obj.metadata.resource_version != current.metadata.resource_version:
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
        obj = await self.registry.get(t.info.kind, t.namespace, t.name)
        if meta.get("resourceVersion"):
            obj.metadata.resource_version = str(meta["resourceVersion"])
        else:
            obj.metadata.resource_version = ""
        obj.spec.replicas = replicas
        updated = await self.registry.update(obj, status=False, dry_run=_dry_run(request))
        return decode.render(request, accept, _scale_of(updated))

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
