"""Field selectors: upstream's `k=v,k!=v` syntax and escaping, and the shape of a kind's field label rules.

Parsing ports k8s.io/apimachinery/pkg/fields; which fields each kind accepts and exposes is its strategy's (the
apiserver's apis/<group>/<kind>.py), as its field label conversion func and ToSelectableFields are upstream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf.message import Message

from kubemu.api.labels import SelectorError, go_quote

__all__ = [
    "METADATA_ONLY",
    "NAME_AND_NAMESPACE",
    "FieldLabels",
    "FieldRequirement",
    "FieldSelector",
    "SelectorError",
    "bool_field",
    "convert",
    "escape_value",
    "metadata_fields",
    "not_supported",
    "parse",
    "unescape_value",
]

EQUALS = "="
NOT_EQUALS = "!="


class FieldRequirement(NamedTuple):
    field: str
    operator: str
    """`=` (also what `==` parses to) or `!=`."""
    value: str


def escape_value(value: str) -> str:
    """EscapeValue: backslash-escape `\\`, `,` and `=` so any literal can sit in a selector."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(text: str) -> str:
    """UnescapeValue; SelectorError with upstream's message on a bad escape or a bare `,`/`=`."""
    if not any(c in text for c in "\\,="):
        return text
    out: list[str] = []
    in_slash = False
    for c in text:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Upstream formats the rune with %v, which prints its code point, not the character.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field requirements; none matches everything. Missing fields read as ""."""

    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        for r in self.requirements:
            have = fields.get(r.field, "")
            if (have == r.value) != (r.operator == EQUALS):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def exact(self, field: str) -> str | None:
        """The value `field` must equal (RequiresExactMatch): lets a list of `spec.nodeName=n1` use an index."""
        for r in self.requirements:
            if r.field == field and r.operator == EQUALS:
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(f"{r.field}{r.operator}{escape_value(r.value)}" for r in self.requirements)


EVERYTHING = FieldSelector()


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not backslash-escaped, keeping the escapes for unescape_value."""
    if not text:
        return []
    terms: list[str] = []
    start = 0
    in_slash = False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    # The left side takes no escapes, so the first operator found splits the term; `!=` and `==` win over `=`.
    for i in range(len(term)):
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def parse(text: str) -> FieldSelector:
    """fields.ParseSelector: comma-separated `f=v`, `f==v`, `f!=v`, terms sorted as upstream sorts them."""
    items: list[FieldRequirement] = []
    # Upstream sorts the raw terms (escapes included) before parsing; matching is order-free but String() is not.
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        items.append(FieldRequirement(lhs, NOT_EQUALS if op == "!=" else EQUALS, unescape_value(rhs)))
    return FieldSelector(tuple(items))


# --- what a kind accepts (its field label conversion func); the apiserver's strategies say which per kind ---


def not_supported(field: str) -> str:
    """The refusal most conversion funcs give."""
    return f"field label not supported: {field}"


def _metadata_only(field: str) -> str:
    # runtime.DefaultMetaV1FieldSelectorConversion: the fallback for kinds that register no conversion func.
    return f'{go_quote(field)} is not a known field selector: only "metadata.name", "metadata.namespace"'


@dataclass(frozen=True)
class FieldLabels:
    """What a kind's field label conversion func accepts, rewrites and how it refuses the rest."""

    accepted: frozenset[str]
    aliases: Mapping[str, str]
    reject: Callable[[str], str]


NAME_AND_NAMESPACE = frozenset({"metadata.name", "metadata.namespace"})
METADATA_ONLY = FieldLabels(NAME_AND_NAMESPACE, {}, _metadata_only)
"""The fallback (apps/v1 and coordination.k8s.io/v1 register no conversion func)."""


def convert(selector: FieldSelector, rules: FieldLabels) -> FieldSelector:
    """The selector as the apiserver evaluates it under `rules`: aliases rewritten, unknown fields refused.

    Raises SelectorError with the message upstream's conversion func gives (the API returns it as a 400).
    """
    out: list[FieldRequirement] = []
    for r in selector.requirements:
        field = rules.aliases.get(r.field, r.field)
        if r.field not in rules.aliases and r.field not in rules.accepted:
            raise SelectorError(rules.reject(r.field))
        out.append(r._replace(field=field))
    return FieldSelector(tuple(out))


def bool_field(value: bool) -> str:
    """A boolean field as selectors compare it."""
    return "true" if value else "false"


def metadata_fields(obj: Message) -> dict[str, str]:
    """The fields every kind exposes to selectors: metadata.name and metadata.namespace."""
    meta: Any = getattr(obj, "metadata")  # noqa: B009 - every kind has one, the Message stub does not say so
    return {"metadata.name": meta.name, "metadata.namespace": meta.namespace}
