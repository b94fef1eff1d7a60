"""Errors at the HTTP edge: every failure answers as a metav1.Status (StatusError.to_status_dict) with upstream's
code, reason and message; the errors only HTTP has (401, 405, 406, 413, 415) are made here."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from kubemu.api.errors import StatusDetails, StatusError

JSON = "application/json"
MAX_BODY = 3 * 1024 * 1024
"""kube-apiserver's MaxRequestBodyBytes (3 MiB): a larger body is refused before it is read."""

MEDIA_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
"""What upstream's 415 message says it accepts, as kubemu does: JSON, YAML and Kubernetes protobuf bodies."""
REPRESENTATIONS = ("application/json, application/yaml, application/vnd.kubernetes.protobuf, "
                   "application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch")

_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PRETTY = json.JSONEncoder(indent=2, ensure_ascii=False).encode


def pretty(request: web.Request) -> bool:
    """Whether to indent JSON, as kube-apiserver does for `?pretty=true` and for curl, wget and browsers."""
    flag = request.query.get("pretty")
    if flag is not None:
        return flag not in ("0", "false")
    agent = request.headers.get("User-Agent", "")
    return agent.startswith(("curl", "Wget", "Mozilla/"))


def encode(doc: Any, indent: bool = False) -> bytes:
    return (_PRETTY(doc) if indent else _COMPACT(doc)).encode()


def status_response(request: web.Request, err: StatusError, headers: dict[str, str] | None = None) -> web.Response:
    """The metav1.Status of an error, with the error's HTTP code."""
    response = web.Response(status=err.code, body=encode(err.to_status_dict(), pretty(request)),
                            content_type=JSON, headers=headers)
    response.headers["Cache-Control"] = "no-cache, private"  # as kube-apiserver marks every API answer
    return response


def unauthorized() -> StatusError:
    return StatusError("Unauthorized", reason="Unauthorized", code=401)


def method_not_allowed() -> StatusError:
    # Upstream's details are present and empty for this one (`"details": {}`).
    return StatusError("the server does not allow this method on the requested resource", reason="MethodNotAllowed",
                       code=405, details=StatusDetails())


def not_acceptable() -> StatusError:
    return StatusError(f"406: Not Acceptable\n\nAvailable representations: {REPRESENTATIONS}",
                       reason="NotAcceptable", code=406, details=StatusDetails())


def too_large() -> StatusError:
    return StatusError(f"Request entity too large: limit is {MAX_BODY}", reason="RequestEntityTooLarge", code=413)


def unsupported_media_type() -> StatusError:
    return StatusError(
        f"the body of the request was in an unknown format - accepted media types include: {MEDIA_TYPES}",
        reason="UnsupportedMediaType", code=415)


def unsupported_patch_type() -> StatusError:
    # kube-apiserver's routes declare the patch types they consume, so go-restful answers before the patch handler:
    # its words, with details present and empty (asked of the peer, 1.35).
    return StatusError("415: Unsupported Media Type", reason="UnsupportedMediaType", code=415,
                       details=StatusDetails())


def path_not_found() -> StatusError:
    return StatusError("the server could not find the requested resource", reason="NotFound", code=404,
                       details=StatusDetails())


def bad_request(message: str) -> StatusError:
    return StatusError(message, reason="BadRequest", code=400)


def success(code: int = 200, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A metav1.Status of success (what a binding or a deletecollection of nothing answers)."""
    out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        out["details"] = details
    out["code"] = code
    return out
