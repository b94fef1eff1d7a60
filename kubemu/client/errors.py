"""The SDK's typed errors (kubemu.api.errors' StatusError and its subclasses), made from failed gRPC calls, unary
and streaming alike, by grpc_status' one table."""

from __future__ import annotations

import grpc

from kubemu.api.errors import (
    AlreadyExists,
    ApiError,
    BadRequest,
    Cause,
    Conflict,
    Expired,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    StatusDetails,
    StatusError,
    Timeout,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from kubemu.client import grpc_status

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Cause",
    "Conflict",
    "Expired",
    "Forbidden",
    "Gone",
    "InternalError",
    "Invalid",
    "MethodNotAllowed",
    "NotFound",
    "StatusDetails",
    "StatusError",
    "Timeout",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "code_of",
    "from_grpc",
    "from_status",
]

code_of = grpc_status.code_of


def from_grpc(e: grpc.aio.AioRpcError) -> StatusError:
    """The typed error for a failed call; raise it `from e`."""
    return grpc_status.from_rpc_error(e)


def from_status(code: grpc.StatusCode, message: str, reason: str = "", causes: str = "") -> StatusError:
    """The typed error for a status code, upstream reason and details (JSON), as a failed call or one failed
    item of a CreateMany carries them."""
    return grpc_status.to_error(code, message, reason, causes)
