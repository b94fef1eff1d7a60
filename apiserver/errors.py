"""The apiserver's error types; each names the gRPC status code it maps to (see design.md, "gRPC errors")."""

from __future__ import annotations

import grpc


class ApiError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL
    reason: str = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApiError):
    code = grpc.StatusCode.NOT_FOUND
    reason = "NotFound"


class AlreadyExists(ApiError):
    code = grpc.StatusCode.ALREADY_EXISTS
    reason = "AlreadyExists"


class Conflict(ApiError):
    code = grpc.StatusCode.ABORTED
    reason = "Conflict"


class Invalid(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "Invalid"


class BadRequest(ApiError):
    code = grpc.StatusCode.INVALID_ARGUMENT
    reason = "BadRequest"


class Expired(ApiError):
    code = grpc.StatusCode.OUT_OF_RANGE
    reason = "Expired"


class Forbidden(ApiError):
    code = grpc.StatusCode.FAILED_PRECONDITION
    reason = "Forbidden"


class Unavailable(ApiError):
    code = grpc.StatusCode.UNAVAILABLE
    reason = "ServiceUnavailable"


def conflict_message(resource: str, name: str) -> str:
    return (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def not_found_message(resource: str, name: str) -> str:
    return f'{resource} "{name}" not found'
