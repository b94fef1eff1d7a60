"""The SDK's typed errors, mapped from gRPC status codes by one table (unary and streaming calls alike)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import grpc


@dataclass(frozen=True)
class Cause:
    field: str
    message: str


class ApiError(Exception):
    """An error the apiserver (or the channel to it) returned. `reason` is upstream's StatusReason."""

    reason = "Unknown"

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class NotFound(ApiError):
    reason = "NotFound"


class AlreadyExists(ApiError):
    reason = "AlreadyExists"


class Conflict(ApiError):
    reason = "Conflict"


class Invalid(ApiError):
    reason = "Invalid"

    def __init__(self, message: str, code: grpc.StatusCode | None = None, causes: tuple[Cause, ...] = ()) -> None:
        super().__init__(message, code)
        self.causes = causes


class BadRequest(ApiError):
    reason = "BadRequest"


class Gone(ApiError):
    """A watch from a revision the store no longer holds (410 Expired upstream): relist and rewatch."""

    reason = "Expired"


class Forbidden(ApiError):
    reason = "Forbidden"


class Unavailable(ApiError):
    """The apiserver or its store cannot be reached; calls are retried with backoff before this surfaces."""

    reason = "ServiceUnavailable"


class Timeout(ApiError):
    reason = "Timeout"


_BY_CODE: dict[grpc.StatusCode, type[ApiError]] = {
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExists,
    grpc.StatusCode.ABORTED: Conflict,
    grpc.StatusCode.INVALID_ARGUMENT: Invalid,
    grpc.StatusCode.OUT_OF_RANGE: Gone,
    grpc.StatusCode.FAILED_PRECONDITION: Forbidden,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: Timeout,
}


def from_grpc(e: grpc.aio.AioRpcError) -> ApiError:
    """The typed error for a failed call; raise it `from e`."""
    code = e.code()
    trailing = dict(e.trailing_metadata() or ())
    reason, causes = trailing.get("kubemu-reason"), trailing.get("kubemu-causes")
    return from_status(code, e.details() or code.name, reason if isinstance(reason, str) else "",
                       causes if isinstance(causes, str) else "")


def from_status(code: grpc.StatusCode, message: str, reason: str = "", causes: str = "") -> ApiError:
    """The typed error for a status code, upstream reason and causes (JSON), as a failed call or one failed
    item of a CreateMany carries them."""
    cls = _BY_CODE.get(code, ApiError)
    if cls is Invalid and reason == "BadRequest":
        cls = BadRequest
    if cls is Invalid:
        parsed = tuple(Cause(c["field"], c["message"]) for c in json.loads(causes)) if causes else ()
        return Invalid(message, code, parsed)
    return cls(message, code)


_CODES = {c.value[0]: c for c in grpc.StatusCode}


def code_of(value: int) -> grpc.StatusCode:
    """The StatusCode whose number is `value` (UNKNOWN for a number gRPC does not define)."""
    return _CODES.get(value, grpc.StatusCode.UNKNOWN)
