"""Who a request is from: kube-apiserver's static token file (`--token-auth-file`, `token,user,uid,"g1,g2"`) and
ServiceAccount tokens (apiserver/serviceaccount.py), tried in that order as upstream's union authenticator; and the
gRPC server interceptor that refuses a call without a token either accepts, as the REST face's filter does."""

from __future__ import annotations

import contextvars
import csv
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog

from apiserver import serviceaccount
from kubemu.api import errors
from kubemu.client import grpc_status

log = structlog.get_logger()

AUTHENTICATED_GROUP = "system:authenticated"
"""Upstream's AuthenticatedGroupAdder gives every authenticated user this group besides its own."""

UNAUTHORIZED_MESSAGE = "Unauthorized"
"""kube-apiserver's message (and reason) for a request no authenticator accepts."""

OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)
"""Calls served without a token: the health checks (kube-apiserver's /livez and /readyz are open to anyone too),
so that the launcher, compose and load balancers probe without credentials."""


@dataclass(frozen=True)
class UserInfo:
    """The user a token stands for (apiserver's user.DefaultInfo)."""

    name: str
    uid: str
    groups: tuple[str, ...] = ()
    extra: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """user.Info's extra: for a ServiceAccount token, its credential id and the pod and node it is bound to."""


_current_user: contextvars.ContextVar[UserInfo | None] = contextvars.ContextVar("kubemu_user", default=None)


def current_user() -> UserInfo | None:
    """The user the request being served was authenticated as (both faces), None when authentication is off or
    the request carried no token: what SelfSubjectReview answers."""
    return _current_user.get()


def set_current_user(user: UserInfo | None) -> contextvars.Token[UserInfo | None]:
    return _current_user.set(user)


class TokenFileError(Exception):
    """The token file cannot be read or is malformed; the message names the file."""


class TokenAuthenticator:
    """The static token file's tokens (upstream's plugin/pkg/authenticator/token/tokenfile)."""

    def __init__(self, tokens: dict[str, UserInfo]) -> None:
        self._tokens = dict(tokens)

    @classmethod
    def from_file(cls, path: str | Path) -> TokenAuthenticator:
        """Parse the file as upstream's tokenfile.NewCSV: at least three columns, the fourth a comma-separated group
        list; an empty token is skipped and a duplicate replaces the earlier record, each with a warning."""
        try:
            with open(path, newline="") as f:
                records = list(csv.reader(f))
        except OSError as e:
            raise TokenFileError(f"cannot read token file '{path}': {e.strerror or e}") from None
        except csv.Error as e:
            raise TokenFileError(f"token file '{path}': {e}") from None
        tokens: dict[str, UserInfo] = {}
        number = 0
        for record in records:
            if not record:  # Go's csv reader skips blank lines
                continue
            if len(record) < 3:
                raise TokenFileError(f"token file '{path}' must have at least 3 columns (token, user name, unique "
                                     f"user ID), found {len(record)}")
            number += 1
            if record[0] == "":
                log.warning("token_file.empty_token", message=f"empty token has been found in token file '{path}', "
                            f"record number '{number}'")
                continue
            if record[0] in tokens:
                log.warning("token_file.duplicate_token", message=f"duplicate token has been found in token file "
                            f"'{path}', record number '{number}'")
            groups = tuple(record[3].split(",")) if len(record) >= 4 else ()
            tokens[record[0]] = UserInfo(record[1], record[2], groups)
        return cls(tokens)

    def authenticate(self, token: str) -> UserInfo | None:
        """The user `token` stands for, with system:authenticated added; None when it is not in the file."""
        user = self._tokens.get(token) if token else None
        if user is None:
            return None
        groups = user.groups if AUTHENTICATED_GROUP in user.groups else (*user.groups, AUTHENTICATED_GROUP)
        return UserInfo(user.name, user.uid, groups)

    def __len__(self) -> int:
        return len(self._tokens)


class Authenticator:
    """kube-apiserver's union of token authenticators: the static token file first, then ServiceAccount tokens.
    With a token file, every request must carry a token one of them accepts (`required`); without one, a request
    is served anonymously, but a ServiceAccount token it carries still names its user."""

    def __init__(self, tokens: TokenAuthenticator | None = None,
                 service_accounts: serviceaccount.Validator | None = None) -> None:
        self.tokens = tokens
        self.service_accounts = service_accounts
        self.log = log.bind(component="apiserver")

    @property
    def required(self) -> bool:
        return self.tokens is not None

    async def authenticate(self, token: str) -> UserInfo | None:
        """The user `token` stands for, with system:authenticated added; None when no authenticator accepts it."""
        if not token:
            return None
        if self.tokens is not None:
            user = self.tokens.authenticate(token)
            if user is not None:
                return user
        if self.service_accounts is not None and self.service_accounts.looks_like(token):
            try:
                sa = await self.service_accounts.validate(token)
            except serviceaccount.TokenInvalid as e:
                self.log.info("token.refused", reason=str(e))
                return None
            return UserInfo(sa.name, sa.uid, (*sa.groups, AUTHENTICATED_GROUP), dict(sa.extra))
        return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, None for any other (upstream's bearertoken: the
    scheme is case-insensitive and an empty token is no token)."""
    if not authorization:
        return None
    parts = authorization.strip().split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
        return None
    return parts[1]


Continuation = Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]]


class TokenInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """When the authenticator requires a token (there is a token file), every call but the health checks must carry
    `authorization: Bearer <token>` metadata with a token it accepts; any other ends UNAUTHENTICATED `Unauthorized`
    before its handler runs (or its request is even parsed). The handler runs with its user as `current_user()`."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = details.method or ""
        if method.startswith(OPEN_METHOD_PREFIXES):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        value = metadata.get("authorization")
        token = bearer_token(value if isinstance(value, str) else None)
        user = await self.authenticator.authenticate(token) if token is not None else None
        if user is not None or not self.authenticator.required:
            # Without a token file every call is served, as before there were ServiceAccount tokens: a token the
            # authenticator does not know is ignored rather than refused (so is it on the REST face).
            handler = await continuation(details)
            return handler if handler is None or user is None else _as_user(handler, user)
        handler = await continuation(details)
        return None if handler is None else _refusal(handler)


def _as_user(handler: grpc.RpcMethodHandler, user: UserInfo) -> grpc.RpcMethodHandler:
    """`handler` run with `user` as the current user (the interceptor runs outside the handler's context), whatever
    its shape: the authorizer asks every call who made it."""
    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    for attr, make in (("unary_unary", grpc.unary_unary_rpc_method_handler),
                       ("unary_stream", grpc.unary_stream_rpc_method_handler),
                       ("stream_unary", grpc.stream_unary_rpc_method_handler),
                       ("stream_stream", grpc.stream_stream_rpc_method_handler)):
        inner = getattr(handler, attr)
        if inner is not None:
            return make(_with_user(inner, user), **kwargs)
    return handler


def _with_user(inner: Callable[..., Any], user: UserInfo) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(inner):
        async def stream(request: Any, context: Any) -> Any:
            set_current_user(user)
            async for item in inner(request, context):
                yield item
        return stream

    async def call(request: Any, context: Any) -> Any:
        set_current_user(user)
        return await inner(request, context)
    return call


_TRAILERS = grpc_status.trailers(errors.Unauthorized(UNAUTHORIZED_MESSAGE))


async def _deny(_request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, UNAUTHORIZED_MESSAGE, trailing_metadata=_TRAILERS)


def _refusal(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that refuses the call; the request stays raw bytes, unparsed."""
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(_deny)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(_deny)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(_deny)
    return grpc.unary_unary_rpc_method_handler(_deny)
