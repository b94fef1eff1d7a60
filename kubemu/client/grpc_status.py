"""StatusError over gRPC: one table from upstream's StatusReason to a gRPC status code and back, and the trailers
(kubemu-reason, kubemu-details, kubemu-causes) that carry the rest of a metav1.Status across a call."""

from __future__ import annotations

import json
from typing import Any

import grpc

from kubemu.api import errors

CODE_BY_REASON: dict[str, grpc.StatusCode] = {
    errors.REASON_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    errors.REASON_ALREADY_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    errors.REASON_CONFLICT: grpc.StatusCode.ABORTED,
    errors.REASON_INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    errors.REASON_BAD_REQUEST: grpc.StatusCode.INVALID_ARGUMENT,
    errors.REASON_EXPIRED: grpc.StatusCode.OUT_OF_RANGE,
    errors.REASON_FORBIDDEN: grpc.StatusCode.FAILED_PRECONDITION,
    errors.REASON_SERVICE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    errors.REASON_TIMEOUT: grpc.StatusCode.DEADLINE_EXCEEDED,
    errors.REASON_INTERNAL_ERROR: grpc.StatusCode.INTERNAL,
    errors.REASON_TOO_MANY_REQUESTS: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.REASON_METHOD_NOT_ALLOWED: grpc.StatusCode.UNIMPLEMENTED,
    errors.REASON_UNAUTHORIZED: grpc.StatusCode.UNAUTHENTICATED,
    # gRPC itself answers RESOURCE_EXHAUSTED to a message over its size limit: the same words for a body over ours.
    # TooManyRequests, listed first, stays what a bare RESOURCE_EXHAUSTED means; the reason trailer tells them apart.
    errors.REASON_REQUEST_ENTITY_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    # A patch in a content type the kind does not take is a bad argument; the trailer keeps the reason (and 415).
    errors.REASON_UNSUPPORTED_MEDIA_TYPE: grpc.StatusCode.INVALID_ARGUMENT,
}
"""The status code each reason travels as (design.md, "gRPC errors"); any other reason travels as INTERNAL."""

REASON_BY_CODE: dict[grpc.StatusCode, str] = {
    **{code: reason for reason, code in reversed(CODE_BY_REASON.items())},
    # A status without a kubemu-reason trailer comes from a kubelet or from the channel itself.
    grpc.StatusCode.PERMISSION_DENIED: errors.REASON_FORBIDDEN,
}
"""The reason of a status that came without one: INVALID_ARGUMENT is Invalid (the first reason to claim it)."""

REASON = "kubemu-reason"
DETAILS = "kubemu-details"
CAUSES = "kubemu-causes"
"""The causes alone, as [{field, message}]: the format clients before kubemu-details read."""

_CODES = {c.value[0]: c for c in grpc.StatusCode}


def code_of(value: int) -> grpc.StatusCode:
    """The StatusCode whose number is `value` (UNKNOWN for a number gRPC does not define)."""
    return _CODES.get(value, grpc.StatusCode.UNKNOWN)


def grpc_code(e: errors.StatusError) -> grpc.StatusCode:
    return CODE_BY_REASON.get(e.reason, grpc.StatusCode.INTERNAL)


def details_json(e: errors.StatusError) -> str:
    """The error's StatusDetails as JSON (upstream's field names), "" when it has none."""
    return json.dumps(e.details.to_dict(), separators=(",", ":")) if e.details is not None else ""


def _old_causes(e: errors.StatusError) -> str:
    return json.dumps([{"field": c.field, "message": f"{c.field}: {c.message}" if c.field else c.message}
                       for c in e.causes]) if e.causes else ""


def trailers(e: errors.StatusError) -> tuple[tuple[str, str], ...]:
    """The trailing metadata a call that ends with `e` carries besides its code and message."""
    out = [(REASON, e.reason)]
    if e.details is not None:
        out.append((DETAILS, details_json(e)))
    if e.causes:
        out.append((CAUSES, _old_causes(e)))
    return tuple(out)


def _details(raw: str) -> errors.StatusDetails | None:
    """StatusDetails from their JSON, or from the older causes-only list (its messages kept whole)."""
    if not raw:
        return None
    parsed: Any = json.loads(raw)
    if isinstance(parsed, list):
        return errors.StatusDetails(causes=tuple(
            errors.Cause(str(c.get("type", "")), str(c["message"]), str(c["field"])) for c in parsed))
    return errors.StatusDetails.from_dict(parsed)


def to_error(code: grpc.StatusCode, message: str, reason: str = "", details: str = "") -> errors.StatusError:
    """The StatusError a failed call (or one failed item of a CreateMany or BindMany) stands for: its reason's
    class when it names one, else its code's; `details` is StatusDetails JSON or the older causes list."""
    reason = reason or REASON_BY_CODE.get(code, "")
    cls = errors.BY_REASON.get(REASON_BY_CODE.get(code, ""), errors.StatusError)
    return errors.from_reason(reason, message, cls.code, _details(details))


def from_rpc_error(e: grpc.aio.AioRpcError) -> errors.StatusError:
    code = e.code()
    trailing = dict(e.trailing_metadata() or ())
    reason, details, causes = trailing.get(REASON), trailing.get(DETAILS), trailing.get(CAUSES)
    raw = details if isinstance(details, str) and details else causes if isinstance(causes, str) else ""
    return to_error(code, e.details() or code.name, reason if isinstance(reason, str) else "", raw)
