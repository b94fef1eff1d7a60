"""The errors a patch raises, as kube-apiserver's patch handler (staging/.../endpoints/handlers/patch.go) turns
each failure of a patch library into a metav1.Status, and Go's %v of JSON values for their messages."""

from __future__ import annotations

from typing import Any

from kubemu.api.errors import (
    BadRequest,
    Invalid,
    RequestEntityTooLarge,
    StatusDetails,
    StatusError,
    new_request_entity_too_large,
)

REJECTED = "the server rejected our request due to an error in our request"
"""NewGenericServerResponse's message for a 422: what a JSON patch that does not apply gets, whatever went wrong."""


def unprocessable(why: str = "") -> Invalid:
    """NewGenericServerResponse(422, ...): the library's own words are not shown (details are empty, as upstream)."""
    err = Invalid(REJECTED, details=StatusDetails())
    err.why = why  # type: ignore[attr-defined]  # kept for logs and debugging only
    return err


def internal(message: str) -> StatusError:
    """A plain Go error returned by the patch library: a 500 with the message and no reason, as upstream answers."""
    return StatusError(message, reason="", code=500)


def bad_request(message: str) -> BadRequest:
    return BadRequest(message)


def too_large(message: str) -> RequestEntityTooLarge:
    return new_request_entity_too_large(message)


def json_kind(value: Any) -> str:
    """How Go's encoding/json names a decoded JSON value in `cannot unmarshal <kind> into Go value of type ...`."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if value is None:
        return "null"
    return "number"


def go_type(value: Any) -> str:
    """reflect.TypeOf of a decoded JSON value, as Go names it in messages."""
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    return "<nil>"


def go_format(value: Any) -> str:
    """fmt's %v of a decoded JSON value: `map[a:1 b:[x y]]`, keys sorted as fmt sorts them."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_format(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)
