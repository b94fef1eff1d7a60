"""The typed client: `client.pods.create(pod)`, `.get`, `.list`, `.watch`, `.update`, `.update_status`,
`.delete`, `.bind`, the same for every kind, over one gRPC channel to one or more apiserver replicas."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

import grpc

from kubemu import kubeconfig
from kubemu.api import kinds
from kubemu.client import errors
from kubemu.pb import api_pb2, api_pb2_grpc, apps_pb2, authentication_pb2, batch_pb2, coordination_pb2, core_pb2

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ObjectList(Generic[T]):
    items: list[T]
    resource_version: str


@dataclass(frozen=True)
class WatchEvent(Generic[T]):
    type: str
    """ADDED, MODIFIED, DELETED or BOOKMARK."""
    object: T | None
    resource_version: str


def channel_target(addresses: str | Sequence[str]) -> str:
    """A gRPC target for one address or several replicas (`127.0.0.1:1,127.0.0.1:2`): with several, the
    channel fails over to the next when one dies."""
    parts = [a.strip() for a in (addresses.split(",") if isinstance(addresses, str) else addresses) if a.strip()]
    if not parts:
        raise ValueError("no apiserver address given")
    if len(parts) == 1:
        return parts[0]
    hosts = [p.rsplit(":", 1)[0] for p in parts]
    if all(h.replace(".", "").isdigit() for h in hosts):
        return "ipv4:" + ",".join(parts)
    return parts[0]


class Client:
    """One connection to the apiserver(s). Use `async with Client(addr) as c:` or call `close()`."""

    def __init__(
        self,
        addresses: str | Sequence[str],
        *,
        timeout: float = 10.0,
        retry_for: float = 10.0,
        token: str | None = None,
    ) -> None:
        """`timeout` bounds each unary call; calls that fail UNAVAILABLE are retried with backoff for up to
        `retry_for` seconds (0 disables). `token` goes with every call, unary and streaming, as
        `authorization: Bearer <token>` metadata (an apiserver with --token-auth-file refuses calls without);
        when None, the token of the kubeconfig context (kubectl's loading order) whose cluster has this gRPC
        address, as `kubemu up` writes it; "" sends none."""
        self.target = channel_target(addresses)
        self.timeout = timeout
        self.retry_for = retry_for
        if token is None:
            joined = addresses if isinstance(addresses, str) else ",".join(addresses)
            token = kubeconfig.token_for(joined)
        self.metadata: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {token}"),) if token else ()
        self.channel = grpc.aio.insecure_channel(
            self.target,
            options=[
                ("grpc.max_receive_message_length", 64 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024),
                ("grpc.lb_policy_name", "pick_first"),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 2000),
                ("grpc.keepalive_time_ms", 10_000),
                ("grpc.keepalive_timeout_ms", 5_000),
                ("grpc.keepalive_permit_without_calls", 1),
            ],
        )
        self.stub = api_pb2_grpc.APIStub(self.channel)
        self._resources: dict[str, ResourceClient[Any]] = {}
        self.namespaces: NamespaceClient = NamespaceClient(self, "Namespace")
        self.pods: PodClient = PodClient(self, "Pod")
        self.nodes: ResourceClient[core_pb2.Node] = ResourceClient(self, "Node")
        self.events: ResourceClient[core_pb2.Event] = ResourceClient(self, "Event")
        self.replication_controllers: ResourceClient[core_pb2.ReplicationController] = ResourceClient(
            self, "ReplicationController"
        )
        self.replica_sets: ResourceClient[apps_pb2.ReplicaSet] = ResourceClient(self, "ReplicaSet")
        self.deployments: ResourceClient[apps_pb2.Deployment] = ResourceClient(self, "Deployment")
        self.daemon_sets: ResourceClient[apps_pb2.DaemonSet] = ResourceClient(self, "DaemonSet")
        self.jobs: ResourceClient[batch_pb2.Job] = ResourceClient(self, "Job")
        self.leases: ResourceClient[coordination_pb2.Lease] = ResourceClient(self, "Lease")
        self.service_accounts: ServiceAccountClient = ServiceAccountClient(self, "ServiceAccount")

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        context: str | None = None,
        server: str | None = None,
        **kwargs: Any,
    ) -> Client:
        """A client for a kubeconfig context (default: the current one of `path`, else of $KUBECONFIG, else of
        ~/.kube/config): its cluster's gRPC address (the kubemu extension) and its user's token. `server` overrides
        the address and keeps the token, as kubectl's --server does."""
        found = kubeconfig.resolve(path, context)
        address = server or found.grpc_server
        if not address:
            raise kubeconfig.KubeconfigError(
                f'cluster of context "{found.context}" has no kubemu gRPC address (extension '
                f"{kubeconfig.EXTENSION}/{kubeconfig.GRPC_SERVER}): is it a kubemu cluster?")
        return cls(address, token=found.token or "", **kwargs)

    def resource(self, kind: str) -> ResourceClient[Any]:
        """The client for any registered kind by name (`Pod`), as the CLI and the garbage collector need: the typed
        attribute's (`c.pods`) where there is one, else one made on first use and kept (UnknownKind if the kind is
        not registered)."""
        found = self._resources.get(kind)
        if found is not None and found.info is kinds.by_kind(kind):
            return found
        info = kinds.by_kind(kind)
        for value in vars(self).values():
            if isinstance(value, ResourceClient) and value.info is info:
                found = value
                break
        else:
            found = ResourceClient(self, kind)
        self._resources[kind] = found
        return found

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, fn: Callable[..., Awaitable[R]], request: Any) -> R:
        """A unary call with the typed errors and UNAVAILABLE retries."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.retry_for
        delay = 0.05
        while True:
            try:
                return await fn(request, timeout=self.timeout, metadata=self.metadata)
            except grpc.aio.AioRpcError as e:
                if e.code() == grpc.StatusCode.UNAVAILABLE and loop.time() + delay < deadline:
                    await asyncio.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                raise errors.from_grpc(e) from e


DEFAULT_ADDRESS = "127.0.0.1:6443"


def connect(apiserver: str | None, kubeconfig_path: str | None, **kwargs: Any) -> Client:
    """A component's client from its flags, as kube-scheduler's --master and --kubeconfig: the kubeconfig's gRPC
    address and token, `apiserver` overriding the address; without a kubeconfig, `apiserver` and no token."""
    if kubeconfig_path:
        return Client.from_kubeconfig(kubeconfig_path, server=apiserver, **kwargs)
    return Client(apiserver or DEFAULT_ADDRESS, **kwargs)  # a token only from the kubeconfig that has its address


class ResourceClient(Generic[T]):
    def __init__(self, client: Client, kind: str) -> None:
        self.client = client
        self.info = kinds.by_kind(kind)

    def _ns(self, namespace: str | None) -> str:
        if not self.info.namespaced:
            return ""
        return namespace or "default"

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        req = api_pb2.CreateRequest(object=kinds.wrap(obj), dry_run=dry_run)  # type: ignore[arg-type]
        resp = await self.client.call(self.client.stub.Create, req)
        return kinds.unwrap(resp)  # type: ignore[no-any-return]

    async def create_many(self, objs: Sequence[T], *, dry_run: bool = False) -> list[T | errors.ApiError]:
        """Create each object as `create` would, in one call (not a transaction): per object, in order, the
        created object or the error its create ended with."""
        req = api_pb2.CreateManyRequest(objects=[kinds.wrap(o) for o in objs], dry_run=dry_run)  # type: ignore[arg-type]
        return _outcomes(await self.client.call(self.client.stub.CreateMany, req))

    async def get(self, name: str, namespace: str | None = None) -> T:
        req = api_pb2.GetRequest(kind=self.info.kind, namespace=self._ns(namespace), name=name)
        return kinds.unwrap(await self.client.call(self.client.stub.Get, req))  # type: ignore[no-any-return]

    async def list(
        self, namespace: str | None = None, *, label_selector: str = "", field_selector: str = ""
    ) -> ObjectList[T]:
        """Objects of this kind (all namespaces when `namespace` is None) and the snapshot's revision."""
        req = api_pb2.ListRequest(
            kind=self.info.kind,
            namespace=namespace or "" if self.info.namespaced else "",
            label_selector=label_selector,
            field_selector=field_selector,
        )
        resp = await self.client.call(self.client.stub.List, req)
        return ObjectList([kinds.unwrap(o) for o in resp.items], resp.resource_version)

    async def update(self, obj: T, *, dry_run: bool = False) -> T:
        req = api_pb2.UpdateRequest(object=kinds.wrap(obj), dry_run=dry_run)  # type: ignore[arg-type]
        return kinds.unwrap(await self.client.call(self.client.stub.Update, req))  # type: ignore[no-any-return]

    async def update_status(self, obj: T) -> T:
        req = api_pb2.UpdateRequest(object=kinds.wrap(obj))  # type: ignore[arg-type]
        return kinds.unwrap(await self.client.call(self.client.stub.UpdateStatus, req))  # type: ignore[no-any-return]

    async def delete(
        self,
        name: str,
        namespace: str | None = None,
        *,
        grace_period_seconds: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str = "",
    ) -> T:
        """Delete; returns the object as it was last stored (with deletionTimestamp while graceful)."""
        req = api_pb2.DeleteRequest(
            kind=self.info.kind, namespace=self._ns(namespace), name=name, propagation_policy=propagation_policy
        )
        if grace_period_seconds is not None:
            req.grace_period_seconds = grace_period_seconds
        if uid is not None:
            req.preconditions.uid = uid
        if resource_version is not None:
            req.preconditions.resource_version = resource_version
        return kinds.unwrap(await self.client.call(self.client.stub.Delete, req))  # type: ignore[no-any-return]

    async def watch(
        self,
        namespace: str | None = None,
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[WatchEvent[T]]:
        """Events after `resource_version` (or synthetic ADDED for what exists, then changes, when empty).
        The iterator ends when the server ends the stream; an error raises the typed exception (`Gone` for
        a trimmed revision)."""
        req = api_pb2.WatchRequest(
            kind=self.info.kind,
            namespace=namespace or "" if self.info.namespaced else "",
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            allow_watch_bookmarks=allow_bookmarks,
        )
        call = self.client.stub.Watch(req, metadata=self.client.metadata)
        try:
            async for resp in call:
                for ev in resp.events:
                    if ev.type == "BOOKMARK":
                        yield WatchEvent("BOOKMARK", None, ev.resource_version)
                    else:
                        obj = kinds.unwrap(ev.object)
                        yield WatchEvent(ev.type, obj, obj.metadata.resource_version)
        except grpc.aio.AioRpcError as e:
            raise errors.from_grpc(e) from e
        finally:
            call.cancel()


def _outcomes(resp: api_pb2.CreateManyResponse | api_pb2.BindManyResponse) -> list[Any]:
    """A CreateMany's or BindMany's results, in order: each stored object, or the error its item ended with."""
    return [kinds.unwrap(r.object) if r.code == 0 else
            errors.from_status(errors.code_of(r.code), r.message, r.reason, r.causes) for r in resp.results]


class Binding(NamedTuple):
    """One pod's assignment to a node, for PodClient.bind_many."""

    name: str
    node_name: str
    namespace: str | None = None
    uid: str | None = None


class NamespaceClient(ResourceClient[core_pb2.Namespace]):
    async def finalize(self, ns: core_pb2.Namespace, *, dry_run: bool = False) -> core_pb2.Namespace:
        """The finalize subresource: write the namespace's spec.finalizers, which `update` keeps as they were. A
        terminating namespace goes once they and metadata.finalizers are empty."""
        req = api_pb2.UpdateRequest(object=kinds.wrap(ns), dry_run=dry_run)
        return kinds.unwrap(await self.client.call(self.client.stub.Finalize, req))  # type: ignore[no-any-return]


class PodClient(ResourceClient[core_pb2.Pod]):
    async def bind(
        self, name: str, node_name: str, namespace: str | None = None, *, uid: str | None = None
    ) -> core_pb2.Pod:
        """Assign a pending pod to a node (the pods/binding subresource)."""
        req = self._bind_request(Binding(name, node_name, namespace, uid))
        return kinds.unwrap(await self.client.call(self.client.stub.Bind, req))  # type: ignore[no-any-return]

    async def bind_many(self, bindings: Sequence[Binding]) -> list[core_pb2.Pod | errors.ApiError]:
        """Make each binding as `bind` would, in one call (not a transaction; at most 500): per binding, in
        order, the bound pod or the error its bind ended with."""
        req = api_pb2.BindManyRequest(bindings=[self._bind_request(b) for b in bindings])
        return _outcomes(await self.client.call(self.client.stub.BindMany, req))

    def _bind_request(self, b: Binding) -> api_pb2.BindRequest:
        req = api_pb2.BindRequest(namespace=self._ns(b.namespace), name=b.name, node_name=b.node_name)
        if b.uid is not None:
            req.uid = b.uid
        return req

    async def logs(
        self, name: str, namespace: str | None = None, *, container: str = "", previous: bool = False,
        follow: bool = False, tail_lines: int | None = None,
    ) -> AsyncIterator[str]:
        """The container's log lines, from its kubelet through the apiserver; with follow, until it exits."""
        req = api_pb2.LogsRequest(namespace=self._ns(namespace), name=name, container=container,
                                  previous=previous, follow=follow)
        if tail_lines is not None:
            req.tail_lines = tail_lines
        call = self.client.stub.Logs(req, metadata=self.client.metadata)
        try:
            async for chunk in call:
                for line in chunk.lines:
                    yield line
        except grpc.aio.AioRpcError as e:
            raise errors.from_grpc(e) from e
        finally:
            call.cancel()

    async def exec(
        self, name: str, command: Sequence[str], namespace: str | None = None, *, container: str = ""
    ) -> tuple[list[str], int]:
        """Run a command in the container's simulated shell: (output lines, exit code)."""
        req = api_pb2.ExecRequest(namespace=self._ns(namespace), name=name, container=container, command=command)
        resp = await self.client.call(self.client.stub.Exec, req)
        return list(resp.output), resp.exit_code

    async def port_forward(self, name: str, port: int, data: bytes, namespace: str | None = None) -> tuple[bytes, str]:
        """Send `data` (one request) to the pod's `port` through the apiserver and its kubelet (pods/portforward):
        (what the pod's server answered, "") or (b"", the kubelet's error when nothing listens there)."""
        request = api_pb2.PortForwardRequest(namespace=self._ns(namespace), name=name, port=port, data=data)

        async def requests() -> AsyncIterator[api_pb2.PortForwardRequest]:
            yield request

        call = self.client.stub.PortForward(requests(), metadata=self.client.metadata)
        out, error = b"", ""
        try:
            async for response in call:
                out += response.data
                error = error or response.error
        except grpc.aio.AioRpcError as e:
            raise errors.from_grpc(e) from e
        finally:
            call.cancel()
        return out, error


class ServiceAccountClient(ResourceClient[core_pb2.ServiceAccount]):
    async def create_token(
        self, name: str, namespace: str | None = None, request: authentication_pb2.TokenRequest | None = None
    ) -> authentication_pb2.TokenRequest:
        """A token for ServiceAccount `name` (the serviceaccounts/token subresource, `kubectl create token`): the
        request's spec says its audiences, expirationSeconds and the object it is bound to; the answer's status
        carries the token and its expirationTimestamp."""
        req = api_pb2.CreateTokenRequest(namespace=self._ns(namespace), name=name,
                                         token_request=request or authentication_pb2.TokenRequest())
        return await self.client.call(self.client.stub.CreateToken, req)


async def retry_on_conflict(fn: Callable[[], Awaitable[R]], *, attempts: int = 5) -> R:
    """Run a read-modify-write `fn` again when it loses a race (Conflict), like client-go's RetryOnConflict
    with DefaultRetry (5 steps from 10 ms, factor 1, jitter 0.1)."""
    for i in range(attempts):
        try:
            return await fn()
        except errors.Conflict:
            if i == attempts - 1:
                raise
            await asyncio.sleep(0.01 * (1 + 0.1 * random.random()))
    raise AssertionError("unreachable")
