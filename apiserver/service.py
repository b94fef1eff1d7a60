"""The gRPC face of the apiserver: decodes requests, calls the registry, maps errors to status codes, and
streams watches (initial list or store backlog first, then the hub's live events, batched)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError

from apiserver import errors
from apiserver.authn import Authenticator, UserInfo, current_user
from apiserver.authz import ANONYMOUS, Attributes, Union
from apiserver.authz.escalation import REQUEST_USER
from apiserver.proxy import KubeletProxy
from apiserver.registry import Registry
from apiserver.storage import StreamEvent
from apiserver.watch import WatchHub, make_filter
from kubemu.api import kinds
from kubemu.client import grpc_status
from kubemu.pb import api_pb2, api_pb2_grpc, authentication_pb2

log = structlog.get_logger()

MAX_EVENTS_PER_MESSAGE = 500
MAX_ITEMS = 500
"""Objects one CreateMany, bindings one BindMany may carry."""


def _kind(name: str) -> kinds.KindInfo:
    try:
        return kinds.by_kind(name)
    except kinds.UnknownKind as e:
        raise errors.NotFound(str(e)) from None


def _at_most(field: str, n: int) -> None:
    if n > MAX_ITEMS:
        raise errors.BadRequest(f"{field}: Too many: {n}: must have at most {MAX_ITEMS} items")


async def _item(verb: Callable[[], Awaitable[Any]]) -> api_pb2.ItemResult:
    """One item of a CreateMany or BindMany: the stored object, or the error the single call would have ended
    with (as a status code, reason, message and details)."""
    try:
        try:
            return api_pb2.ItemResult(object=kinds.wrap(await verb()))
        except kinds.UnknownKind as e:
            raise errors.NotFound(str(e)) from None
    except errors.ApiError as e:
        # The item's causes field carries the whole StatusDetails, as the kubemu-details trailer does.
        return api_pb2.ItemResult(code=grpc_status.grpc_code(e).value[0], reason=e.reason, message=e.message,
                                  causes=grpc_status.details_json(e))


async def _abort(context: grpc.aio.ServicerContext[Any, Any], e: errors.ApiError) -> None:
    context.set_trailing_metadata(grpc_status.trailers(e))
    await context.abort(grpc_status.grpc_code(e), e.message)


class ApiService(api_pb2_grpc.APIServicer):
    def __init__(self, registry: Registry, hub: WatchHub, bookmark_interval: float = 5.0, *,
                 authenticator: Authenticator | None = None, authorizer: Union | None = None) -> None:
        self.registry = registry
        self.hub = hub
        self.bookmark_interval = bookmark_interval
        self.proxy = KubeletProxy(registry)
        self.authenticator = authenticator
        self.authorizer = authorizer
        """None: every call is allowed (AlwaysAllow) without working out who made it."""
        self.log = log.bind(component="apiserver")

    def _user(self, context: Any) -> UserInfo:
        """Who made the call: the user the interceptor authenticated its bearer token as (the token file's or a
        ServiceAccount's; it refused a call without a valid one when there is a token file), else
        system:anonymous."""
        if self.authenticator is None:
            return ANONYMOUS
        return current_user() or ANONYMOUS

    def _authorize(self, context: Any, verb: str, kind: str, namespace: str = "", name: str = "",
                   subresource: str = "") -> None:
        """Raise the 403 of a call its user may not make (the REST face's words: `pods "x" is forbidden: ...`)."""
        if self.authorizer is None:
            return
        info = _kind(kind)
        user = self._user(context)
        REQUEST_USER.set(user)  # for RBAC's escalation check on role and binding writes
        self.authorizer.check(Attributes(user, verb, namespace=namespace if info.namespaced else "",
                                         api_group=info.group, api_version=info.version, resource=info.plural,
                                         subresource=subresource, name=name))

    async def _run(self, context: grpc.aio.ServicerContext[Any, Any], coro: Any) -> Any:
        try:
            return await coro
        except errors.ApiError as e:
            await _abort(context, e)
        except kinds.UnknownKind as e:
            await _abort(context, errors.NotFound(str(e)))

    @staticmethod
    def _object(request_object: api_pb2.Object) -> Any:
        if not request_object.kind:
            raise errors.BadRequest("object: Required value: the request carries no object")
        try:
            return kinds.unwrap(request_object)
        except DecodeError:
            raise errors.BadRequest(
                f"object: Invalid value: the bytes are not a {request_object.kind} in protobuf encoding") from None
        except ValueError as e:
            raise errors.BadRequest(f"object: {e}") from None

    def _check_object(self, context: Any, verb: str, obj: Any, subresource: str = "") -> None:
        self._authorize(context, verb, obj.DESCRIPTOR.name, obj.metadata.namespace or "default", obj.metadata.name,
                        subresource)

    async def _create(self, context: Any, request_object: api_pb2.Object, dry_run: bool) -> Any:
        obj = self._object(request_object)
        # A create names no object (a POST to the collection upstream): its 403 says `pods is forbidden`.
        self._authorize(context, "create", obj.DESCRIPTOR.name, obj.metadata.namespace or "default")
        return await self.registry.create(obj, dry_run=dry_run)

    async def Create(self, request: api_pb2.CreateRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            return kinds.wrap(await self._create(context, request.object, request.dry_run))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def CreateMany(self, request: api_pb2.CreateManyRequest, context: Any) -> api_pb2.CreateManyResponse:
        """Each object created as Create would, concurrently, so their store writes share round trips."""

        async def go() -> api_pb2.CreateManyResponse:
            _at_most("objects", len(request.objects))
            results = await asyncio.gather(*(
                _item(partial(self._create, context, o, request.dry_run)) for o in request.objects))
            return api_pb2.CreateManyResponse(results=results)

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def Get(self, request: api_pb2.GetRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            info = _kind(request.kind)
            self._authorize(context, "get", info.kind, request.namespace, request.name)
            return kinds.wrap(await self.registry.get(info.kind, request.namespace, request.name))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def List(self, request: api_pb2.ListRequest, context: Any) -> api_pb2.ListResponse:
        async def go() -> api_pb2.ListResponse:
            info = _kind(request.kind)
            self._authorize(context, "list", info.kind, request.namespace)
            flt = make_filter(info.kind, request.namespace, request.label_selector, request.field_selector)
            items, rev = await self.registry.list(info.kind, request.namespace, flt)
            return api_pb2.ListResponse(items=[kinds.wrap(o) for o in items], resource_version=str(rev))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def Update(self, request: api_pb2.UpdateRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            obj = self._object(request.object)
            self._check_object(context, "update", obj)
            return kinds.wrap(await self.registry.update(obj, status=False, dry_run=request.dry_run))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def UpdateStatus(self, request: api_pb2.UpdateRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            obj = self._object(request.object)
            self._check_object(context, "update", obj, "status")
            return kinds.wrap(await self.registry.update(obj, status=True, dry_run=request.dry_run))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def Finalize(self, request: api_pb2.UpdateRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            obj = self._object(request.object)
            if kinds.of_message(obj).kind != "Namespace":
                raise errors.NotFound(f"the server could not find the requested resource: {request.object.kind} "
                                      "has no finalize subresource")
            return kinds.wrap(await self.registry.finalize(obj, dry_run=request.dry_run))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def Delete(self, request: api_pb2.DeleteRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            info = _kind(request.kind)
            self._authorize(context, "delete", info.kind, request.namespace, request.name)
            pre = request.preconditions
            obj = await self.registry.delete(
                info.kind,
                request.namespace,
                request.name,
                grace_period_seconds=(
                    request.grace_period_seconds if request.HasField("grace_period_seconds") else None
                ),
                uid=pre.uid if pre.HasField("uid") else None,
                resource_version=pre.resource_version if pre.HasField("resource_version") else None,
                propagation_policy=request.propagation_policy,
            )
            return kinds.wrap(obj)

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def _bind(self, context: Any, request: api_pb2.BindRequest) -> Any:
        self._authorize(context, "create", "Pod", request.namespace, request.name, "binding")
        return await self.registry.bind(request.namespace, request.name, request.node_name,
                                  request.uid if request.HasField("uid") else None)

    async def Bind(self, request: api_pb2.BindRequest, context: Any) -> api_pb2.Object:
        async def go() -> api_pb2.Object:
            return kinds.wrap(await self._bind(context, request))

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def BindMany(self, request: api_pb2.BindManyRequest, context: Any) -> api_pb2.BindManyResponse:
        """Each binding made as Bind would, concurrently, so their store writes share round trips."""

        async def go() -> api_pb2.BindManyResponse:
            _at_most("bindings", len(request.bindings))
            results = await asyncio.gather(*(_item(partial(self._bind, context, b)) for b in request.bindings))
            return api_pb2.BindManyResponse(results=results)

        return await self._run(context, go())  # type: ignore[no-any-return]

    async def CreateToken(
        self, request: api_pb2.CreateTokenRequest, context: Any
    ) -> authentication_pb2.TokenRequest:
        """The serviceaccounts/token subresource (TokenRequest), as the REST face's POST .../token."""
        return await self._run(context, self.registry.create_token(  # type: ignore[no-any-return]
            request.namespace, request.name, request.token_request))

    # -- logs and exec, proxied to the pod's kubelet -------------------------------------------------

    async def Logs(
        self, request: api_pb2.LogsRequest, context: Any
    ) -> AsyncIterator[api_pb2.LogChunk]:
        try:
            self._authorize(context, "get", "Pod", request.namespace, request.name, "log")
            stub, container = await self.proxy.stub_for(request.namespace, request.name, request.container)
        except errors.ApiError as e:
            await _abort(context, e)
            return
        forwarded = api_pb2.LogsRequest()
        forwarded.CopyFrom(request)
        forwarded.container = container
        try:
            async for chunk in stub.Logs(forwarded):
                yield chunk
        except grpc.aio.AioRpcError as e:
            await context.abort(e.code(), e.details() or "kubelet error")

    async def Exec(self, request: api_pb2.ExecRequest, context: Any) -> api_pb2.ExecResponse:
        try:
            self._authorize(context, "create", "Pod", request.namespace, request.name, "exec")
            stub, container = await self.proxy.stub_for(request.namespace, request.name, request.container)
        except errors.ApiError as e:
            await _abort(context, e)
            raise AssertionError("unreachable") from e
        forwarded = api_pb2.ExecRequest()
        forwarded.CopyFrom(request)
        forwarded.container = container
        try:
            return await stub.Exec(forwarded, timeout=60)  # type: ignore[no-any-return]
        except grpc.aio.AioRpcError as e:
            await context.abort(e.code(), e.details() or "kubelet error")
            raise AssertionError("unreachable") from e

    async def ExecStream(
        self, request_iterator: AsyncIterator[api_pb2.ExecStreamRequest], context: Any
    ) -> AsyncIterator[api_pb2.ExecStreamResponse]:
        requests = aiter(request_iterator)
        first = await anext(requests, None)
        if first is None:
            return
        try:
            self._authorize(context, "create", "Pod", first.start.namespace, first.start.name, "exec")
            stub, container = await self.proxy.stub_for(first.start.namespace, first.start.name, first.start.container)
        except errors.ApiError as e:
            await _abort(context, e)
            return
        first.start.container = container

        async def forwarded() -> AsyncIterator[api_pb2.ExecStreamRequest]:
            yield first
            async for message in requests:
                yield message

        try:
            async for response in stub.ExecStream(forwarded()):
                yield response
        except grpc.aio.AioRpcError as e:
            await context.abort(e.code(), e.details() or "kubelet error")

    async def PortForward(
        self, request_iterator: AsyncIterator[api_pb2.PortForwardRequest], context: Any
    ) -> AsyncIterator[api_pb2.PortForwardResponse]:
        requests = aiter(request_iterator)
        first = await anext(requests, None)
        if first is None:
            return
        try:
            self._authorize(context, "create", "Pod", first.namespace or "default", first.name, "portforward")
            stub = await self.proxy.stub_of(await self.registry.get("Pod", first.namespace or "default", first.name))
        except errors.ApiError as e:
            await _abort(context, e)
            return

        async def forwarded() -> AsyncIterator[api_pb2.PortForwardRequest]:
            yield first
            async for message in requests:
                yield message

        try:
            async for response in stub.PortForward(forwarded()):
                yield response
        except grpc.aio.AioRpcError as e:
            await context.abort(e.code(), e.details() or "kubelet error")

    # -- watch ------------------------------------------------------------------------------------

    def _event(self, info: kinds.KindInfo, etype: str, ev: StreamEvent) -> api_pb2.WatchEvent:
        """The event as sent; decoded once per stream event however many watchers it goes to."""
        cached = ev.memo.get(etype)
        if cached is None:
            obj = self.registry.decode(info, ev.data, ev.revision)
            cached = ev.memo[etype] = api_pb2.WatchEvent(type=etype, object=kinds.wrap(obj))
        return cached

    async def Watch(
        self, request: api_pb2.WatchRequest, context: Any
    ) -> AsyncIterator[api_pb2.WatchResponse]:
        try:
            info = _kind(request.kind)
            self._authorize(context, "watch", info.kind, request.namespace)
            flt = make_filter(info.kind, request.namespace, request.label_selector, request.field_selector)
            rv = request.resource_version
            if rv not in ("", "0") and not rv.isdigit():
                raise errors.BadRequest(f'invalid resource version "{rv}"')
        except errors.ApiError as e:
            await _abort(context, e)
            return
        sub, position = self.hub.subscribe(info.kind, flt)
        try:
            try:
                if rv in ("", "0"):
                    items, start = await self.registry.list(info.kind, request.namespace, flt)
                    for i in range(0, len(items), MAX_EVENTS_PER_MESSAGE):
                        chunk = items[i : i + MAX_EVENTS_PER_MESSAGE]
                        yield api_pb2.WatchResponse(
                            events=[api_pb2.WatchEvent(type="ADDED", object=kinds.wrap(o)) for o in chunk]
                        )
                else:
                    start = int(rv)
                    if start < position:
                        backlog = await self.hub.store.events_between(info.kind, start, position)
                        events = [
                            self._event(info, t, ev) for ev in backlog if (t := flt.translate(ev)) is not None
                        ]
                        for i in range(0, len(events), MAX_EVENTS_PER_MESSAGE):
                            yield api_pb2.WatchResponse(events=events[i : i + MAX_EVENTS_PER_MESSAGE])
            except errors.ApiError as e:
                await _abort(context, e)
                return
            last = max(start, position)
            bookmarked = start  # the first bookmark tells the client how far the hub has read past it
            while True:
                try:
                    batch = await asyncio.wait_for(sub.queue.get(), timeout=self.bookmark_interval)
                except TimeoutError:
                    pos = self.hub.position(info.kind)
                    if request.allow_watch_bookmarks and pos > bookmarked:
                        bookmarked = pos
                        yield api_pb2.WatchResponse(
                            events=[api_pb2.WatchEvent(type="BOOKMARK", resource_version=str(pos))]
                        )
                    continue
                if batch is None:
                    return  # this watcher fell too far behind: the client re-watches from its last revision
                out: list[api_pb2.WatchEvent] = []
                while batch is not None:
                    for t, ev in batch:
                        if ev.revision > last:
                            out.append(self._event(info, t, ev))
                            last = ev.revision
                    if len(out) >= MAX_EVENTS_PER_MESSAGE or sub.queue.empty():
                        break
                    batch = sub.queue.get_nowait()
                if out:
                    yield api_pb2.WatchResponse(events=out)
                if batch is None:
                    return
        finally:
            self.hub.unsubscribe(sub)

