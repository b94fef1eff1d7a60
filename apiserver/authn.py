"""Who a request is from: kube-apiserver's static token file (`--token-auth-file`, `token,user,uid,"g1,g2"`), and
the gRPC server interceptor that refuses a call without one of its bearer tokens, as the REST face's filter does."""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import structlog

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
    """Every call but the health checks must carry `authorization: Bearer <token>` metadata with a token of the
    file; any other ends UNAUTHENTICATED `Unauthorized` before its handler runs (or its request is even parsed)."""

    def __init__(self, authenticator: TokenAuthenticator) -> None:
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
        if token is not None and self.authenticator.authenticate(token) is not None:
            return await continuation(details)
        handler = await continuation(details)
        return None if handler is None else _refusal(handler)


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
