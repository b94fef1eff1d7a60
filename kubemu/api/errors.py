"""The API's one error type, StatusError, carrying what metav1.Status carries (reason, message, HTTP code, details),
with a subclass per StatusReason and upstream's constructors (apimachinery pkg/api/errors/errors.go)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

# metav1.StatusReason values (apimachinery pkg/apis/meta/v1/types.go).
REASON_UNKNOWN = "Unknown"
"""What a StatusError with no upstream reason names itself; upstream's StatusReasonUnknown is "" (kubemu's SDK has
always said "Unknown", and `kubemu` prints it as kubectl prints a reason)."""
REASON_NOT_FOUND = "NotFound"
REASON_ALREADY_EXISTS = "AlreadyExists"
REASON_CONFLICT = "Conflict"
REASON_INVALID = "Invalid"
REASON_BAD_REQUEST = "BadRequest"
REASON_EXPIRED = "Expired"
REASON_FORBIDDEN = "Forbidden"
REASON_SERVICE_UNAVAILABLE = "ServiceUnavailable"
REASON_TIMEOUT = "Timeout"
REASON_INTERNAL_ERROR = "InternalError"
REASON_TOO_MANY_REQUESTS = "TooManyRequests"
REASON_METHOD_NOT_ALLOWED = "MethodNotAllowed"
REASON_REQUEST_ENTITY_TOO_LARGE = "RequestEntityTooLarge"
REASON_UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
REASON_UNAUTHORIZED = "Unauthorized"


@dataclass(frozen=True)
class Cause:
    """One metav1.StatusCause: `type` is the CauseType (field.ErrorType for Invalid, e.g. `FieldValueRequired`),
    `message` the error's body and `field` its path (`spec.containers[0].image`)."""

    type: str = ""
    message: str = ""
    field: str = ""

    def to_dict(self) -> dict[str, str]:
        # StatusCause's JSON names the type "reason"; every field is omitempty.
        out = {"reason": self.type, "message": self.message, "field": self.field}
        return {k: v for k, v in out.items() if v}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Cause:
        return cls(str(d.get("reason", d.get("type", ""))), str(d.get("message", "")), str(d.get("field", "")))


@dataclass(frozen=True)
class StatusDetails:
    """metav1.StatusDetails: which object the error is about (`kind` holds the resource, `pods`, for NotFound,
    AlreadyExists and Conflict, and the kind, `Pod`, for Invalid, as upstream fills it) and why."""

    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: tuple[Cause, ...] = ()
    retry_after_seconds: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "group": self.group, "kind": self.kind, "uid": self.uid}
        out = {k: v for k, v in out.items() if v}
        if self.causes:
            out["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds:
            out["retryAfterSeconds"] = self.retry_after_seconds
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StatusDetails:
        return cls(str(d.get("name", "")), str(d.get("group", "")), str(d.get("kind", "")), str(d.get("uid", "")),
                   tuple(Cause.from_dict(c) for c in d.get("causes") or ()), int(d.get("retryAfterSeconds") or 0))


class StatusError(Exception):
    """An error the API returns, whatever carries it (gRPC today, HTTP next): upstream's StatusError. The class
    says the reason and HTTP code; a bare StatusError may be given any reason and code."""

    reason: str = REASON_UNKNOWN
    code: int = 500
    _about: ClassVar[re.Pattern[str] | None] = None
    """How upstream's constructor for this reason names the resource and object in its message, when it does."""

    def __init__(self, message: str, *, details: StatusDetails | None = None, reason: str | None = None,
                 code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if details is None and self._about is not None:
            details = _details_in(self._about, message)
        self.details = details
        if reason is not None:
            self.reason = reason
        if code is not None:
            self.code = code

    @property
    def causes(self) -> tuple[Cause, ...]:
        return self.details.causes if self.details else ()

    def to_status_dict(self) -> dict[str, Any]:
        """The metav1.Status this error is, as JSON (the body of an HTTP error response)."""
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": self.message}
        if self.reason:
            out["reason"] = self.reason
        if self.details is not None:
            out["details"] = self.details.to_dict()
        out["code"] = self.code
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, reason={self.reason!r}, code={self.code}, " \
               f"details={self.details!r})"


def _details_in(about: re.Pattern[str], message: str) -> StatusDetails | None:
    """The details upstream's constructor attaches, read back from the message it wrote: a raise site that gives
    only the message (`NotFound('pods "x" not found')`) carries the same details as `new_not_found`."""
    m = about.match(message)
    if m is None:
        return None
    resource, _, group = m["resource"].partition(".")
    return StatusDetails(name=m["name"], group=group, kind=resource)


ApiError = StatusError
"""The name kubemu's code has always caught."""


class NotFound(StatusError):
    reason = REASON_NOT_FOUND
    code = 404
    _about = re.compile(r'^(?P<resource>[^\s"]+) "(?P<name>[^"]*)" not found$')


class AlreadyExists(StatusError):
    reason = REASON_ALREADY_EXISTS
    code = 409
    _about = re.compile(r'^(?P<resource>[^\s"]+) "(?P<name>[^"]*)" already exists$')


class Conflict(StatusError):
    reason = REASON_CONFLICT
    code = 409
    _about = re.compile(r'^Operation cannot be fulfilled on (?P<resource>[^\s"]+) "(?P<name>[^"]*)": ')


class Invalid(StatusError):
    reason = REASON_INVALID
    code = 422


class BadRequest(StatusError):
    reason = REASON_BAD_REQUEST
    code = 400


class Expired(StatusError):
    """The resource version asked for is older than the store keeps (a watch or list from a trimmed revision):
    relist and rewatch."""

    reason = REASON_EXPIRED
    code = 410


Gone = Expired
"""The SDK's name for a watch from a revision the store no longer holds."""


class Forbidden(StatusError):
    reason = REASON_FORBIDDEN
    code = 403
    _about = re.compile(r'^(?P<resource>[^\s"]+) "(?P<name>[^"]*)" is forbidden: ')


class Unavailable(StatusError):
    """The apiserver or its store cannot be reached; calls are retried with backoff before this surfaces."""

    reason = REASON_SERVICE_UNAVAILABLE
    code = 503


class Timeout(StatusError):
    reason = REASON_TIMEOUT
    code = 504


class InternalError(StatusError):
    reason = REASON_INTERNAL_ERROR
    code = 500


class TooManyRequests(StatusError):
    reason = REASON_TOO_MANY_REQUESTS
    code = 429


class MethodNotAllowed(StatusError):
    reason = REASON_METHOD_NOT_ALLOWED
    code = 405


class RequestEntityTooLarge(StatusError):
    """A request body, or a JSON patch's list of operations, over upstream's limits."""

    reason = REASON_REQUEST_ENTITY_TOO_LARGE
    code = 413


class UnsupportedMediaType(StatusError):
    """A body in a content type the request does not take (a patch type the kind does not support)."""

    reason = REASON_UNSUPPORTED_MEDIA_TYPE
    code = 415
class Unauthorized(StatusError):
    """The request carried no credentials the apiserver accepts (no bearer token, or one not in its token file)."""

    reason = REASON_UNAUTHORIZED
    code = 401


_CLASSES: tuple[type[StatusError], ...] = (
    NotFound, AlreadyExists, Conflict, Invalid, BadRequest, Expired, Forbidden, Unavailable, Timeout, InternalError,
    TooManyRequests, MethodNotAllowed, RequestEntityTooLarge, UnsupportedMediaType, Unauthorized,
)
BY_REASON: dict[str, type[StatusError]] = {c.reason: c for c in _CLASSES}
"""The class of each upstream reason kubemu returns."""


def from_reason(reason: str, message: str, code: int = 500, details: StatusDetails | None = None) -> StatusError:
    """The error a metav1.Status describes: its reason's class, or a bare StatusError for any other reason."""
    cls: type[StatusError] | None = BY_REASON.get(reason)
    if cls is None:
        return StatusError(message, details=details, reason=reason or REASON_UNKNOWN, code=code)
    return cls(message, details=details)


# ---- constructors, named as upstream's -------------------------------------------------------------------------


def qualified(name: str, group: str) -> str:
    """A GroupResource's or GroupKind's String(): `pods`, `deployments.apps`, `Deployment.apps`."""
    return f"{name}.{group}" if group else name


def not_found_message(resource: str, name: str) -> str:
    return f'{resource} "{name}" not found'


def conflict_message(resource: str, name: str) -> str:
    return (
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )


def aggregate(messages: Iterable[str]) -> str:
    """utilerrors.Aggregate's Error() over a field.ErrorList.ToAggregate() (duplicates dropped): the one message
    alone, or `[a, b]`."""
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def invalid_message(qualified_kind: str, name: str, causes: Iterable[Cause]) -> str:
    """NewInvalid's message: `Pod "x" is invalid: spec.containers[0].image: Required value`."""
    errs = [f"{c.field}: {c.message}" for c in causes]
    if not errs:
        return f'{qualified_kind} "{name}" is invalid'
    return f'{qualified_kind} "{name}" is invalid: {aggregate(errs)}'


def new_not_found(resource: str, group: str, name: str) -> NotFound:
    return NotFound(not_found_message(qualified(resource, group), name),
                    details=StatusDetails(name=name, group=group, kind=resource))


def new_already_exists(resource: str, group: str, name: str) -> AlreadyExists:
    return AlreadyExists(f'{qualified(resource, group)} "{name}" already exists',
                         details=StatusDetails(name=name, group=group, kind=resource))


def new_conflict(resource: str, group: str, name: str, err: str) -> Conflict:
    """NewConflict: `err` says what conflicted (for a stale resourceVersion, see `new_stale_conflict`)."""
    return Conflict(f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {err}',
                    details=StatusDetails(name=name, group=group, kind=resource))


def new_stale_conflict(resource: str, group: str, name: str) -> Conflict:
    """The Conflict of an update from a stale resourceVersion (registry's OptimisticLockErrorMsg)."""
    return Conflict(conflict_message(qualified(resource, group), name),
                    details=StatusDetails(name=name, group=group, kind=resource))


def new_invalid(kind: str, group: str, name: str, causes: Iterable[Cause]) -> Invalid:
    """NewInvalid: `causes` are the field errors, each with its field.ErrorType as type and its body as message."""
    causes = tuple(causes)
    return Invalid(invalid_message(qualified(kind, group), name, causes),
                   details=StatusDetails(name=name, group=group, kind=kind, causes=causes))


def new_bad_request(reason: str) -> BadRequest:
    return BadRequest(reason)


def new_forbidden(resource: str, group: str, name: str, err: str) -> Forbidden:
    qr = qualified(resource, group)
    if not qr:
        message = f"forbidden: {err}"
    elif not name:
        message = f"{qr} is forbidden: {err}"
    else:
        message = f'{qr} "{name}" is forbidden: {err}'
    return Forbidden(message, details=StatusDetails(name=name, group=group, kind=resource))


def new_service_unavailable(reason: str) -> Unavailable:
    return Unavailable(reason)


def new_resource_expired(message: str) -> Expired:
    return Expired(message)


def new_timeout_error(message: str, retry_after_seconds: int) -> Timeout:
    return Timeout(f"Timeout: {message}", details=StatusDetails(retry_after_seconds=retry_after_seconds))


def new_too_many_requests(message: str, retry_after_seconds: int) -> TooManyRequests:
    return TooManyRequests(f"Too many requests: {message}",
                           details=StatusDetails(retry_after_seconds=retry_after_seconds))


def new_internal_error(err: str) -> InternalError:
    return InternalError(f"Internal error occurred: {err}", details=StatusDetails(causes=(Cause(message=err),)))


def new_request_entity_too_large(message: str) -> RequestEntityTooLarge:
    """NewRequestEntityTooLargeError."""
    return RequestEntityTooLarge(f"Request entity too large: {message}")


def new_apply_conflict(causes: Iterable[Cause], message: str) -> Conflict:
    """NewApplyConflict: a server-side apply that would change fields other managers own (causes of type
    FieldManagerConflict, one per field), with no resource or name in the details."""
    return Conflict(message, details=StatusDetails(causes=tuple(causes)))


def new_method_not_supported(resource: str, group: str, action: str) -> MethodNotAllowed:
    return MethodNotAllowed(f'{action} is not supported on resources of kind "{qualified(resource, group)}"',
                            details=StatusDetails(group=group, kind=resource))
