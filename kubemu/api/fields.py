"""Field selectors: upstream's `k=v,k!=v` syntax and escaping, and which fields each kind lets a client select on.

Parsing ports k8s.io/apimachinery/pkg/fields; the per-kind tables transcribe each kind's upstream field label conversion
func (pkg/apis/<group>/<version>/conversion.go) and ToSelectableFields (pkg/registry/.../strategy.go).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from google.protobuf.message import Message

from kubemu.api import kinds
from kubemu.api.labels import SelectorError, go_quote

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "SelectorError",
    "convert_for_kind",
    "escape_value",
    "object_fields",
    "parse",
    "unescape_value",
    "validate_for_kind",
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


# --- what each kind accepts (conversion funcs) and exposes (ToSelectableFields) ---


def _not_supported(field: str) -> str:
    return f"field label not supported: {field}"


def _metadata_only(field: str) -> str:
    # runtime.DefaultMetaV1FieldSelectorConversion: the fallback for kinds that register no conversion func.
    return f'{go_quote(field)} is not a known field selector: only "metadata.name", "metadata.namespace"'


@dataclass(frozen=True)
class _KindRules:
    accepted: frozenset[str]
    aliases: Mapping[str, str]
    reject: Callable[[str], str]


_NAME_AND_NAMESPACE = frozenset({"metadata.name", "metadata.namespace"})

_RULES: dict[str, _KindRules] = {
    "Pod": _KindRules(
        _NAME_AND_NAMESPACE | {
            "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
        },
        {"spec.host": "spec.nodeName"},  # what pre-1.0 clients sent
        _not_supported,
    ),
    # Cluster-scoped kinds do not accept metadata.namespace: a selector on it is a 400, not an empty list.
    "Node": _KindRules(frozenset({"metadata.name", "spec.unschedulable"}), {}, _not_supported),
    "Namespace": _KindRules(frozenset({"metadata.name", "status.phase"}), {}, _not_supported),
    "ReplicationController": _KindRules(_NAME_AND_NAMESPACE | {"status.replicas"}, {}, _not_supported),
    "Event": _KindRules(
        _NAME_AND_NAMESPACE | {
            "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
            "reason", "reportingComponent", "source", "type",
        },
        {},
        _not_supported,
    ),
    "Job": _KindRules(
        _NAME_AND_NAMESPACE | {"status.successful"}, {}, lambda f: f"field label {go_quote(f)} not supported for Job"
    ),
}
# apps/v1 and coordination.k8s.io/v1 register no conversion func, so ReplicaSet's status.replicas is refused too.
_DEFAULT_RULES = _KindRules(_NAME_AND_NAMESPACE, {}, _metadata_only)


def convert_for_kind(selector: FieldSelector, kind: str) -> FieldSelector:
    """The selector as the apiserver evaluates it for `kind`: aliases rewritten, unknown fields refused.

    Raises SelectorError with the message upstream's conversion func gives (the API returns it as a 400).
    """
    rules = _RULES.get(kind, _DEFAULT_RULES)
    out: list[FieldRequirement] = []
    for r in selector.requirements:
        field = rules.aliases.get(r.field, r.field)
        if r.field not in rules.aliases and r.field not in rules.accepted:
            raise SelectorError(rules.reject(r.field))
        out.append(r._replace(field=field))
    return FieldSelector(tuple(out))


def validate_for_kind(selector: FieldSelector, kind: str) -> None:
    """Raise SelectorError if `selector` names a field `kind` cannot be selected on."""
    convert_for_kind(selector, kind)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _pod_fields(pod: Any) -> dict[str, str]:
    # Upstream reads status.podIPs[0]; v1 clients may only have set the singular podIP the conversion copies in.
    pod_ip = pod.status.pod_ips[0].ip if len(pod.status.pod_ips) else pod.status.pod_ip
    return {
        "spec.nodeName": pod.spec.node_name,
        "spec.restartPolicy": pod.spec.restart_policy,
        "spec.schedulerName": pod.spec.scheduler_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "spec.hostNetwork": _bool(pod.spec.host_network),
        "status.phase": pod.status.phase,
        "status.podIP": pod_ip,
        "status.nominatedNodeName": pod.status.nominated_node_name,
    }


def _event_fields(ev: Any) -> dict[str, str]:
    ref = ev.involved_object
    return {
        "involvedObject.kind": ref.kind,
        "involvedObject.namespace": ref.namespace,
        "involvedObject.name": ref.name,
        "involvedObject.uid": ref.uid,
        "involvedObject.apiVersion": ref.api_version,
        "involvedObject.resourceVersion": ref.resource_version,
        "involvedObject.fieldPath": ref.field_path,
        "reason": ev.reason,
        "reportingComponent": ev.reporting_component,
        # events.k8s.io writers fill only the reporting component; upstream falls back to it.
        "source": ev.source.component or ev.reporting_component,
        "type": ev.type,
    }


_KIND_FIELDS: dict[str, Callable[[Any], dict[str, str]]] = {
    "Pod": _pod_fields,
    "Node": lambda node: {"spec.unschedulable": _bool(node.spec.unschedulable)},
    "Namespace": lambda ns: {"status.phase": ns.status.phase},
    "ReplicationController": lambda rc: {"status.replicas": str(rc.status.replicas)},
    "Event": _event_fields,
    "Job": lambda job: {"status.successful": str(job.status.succeeded)},
}


def object_fields(obj: Message) -> dict[str, str]:
    """The field set a selector is matched against: metadata.name and metadata.namespace, plus the kind's own."""
    meta: Any = getattr(obj, "metadata")  # noqa: B009 - every kind has one, the Message stub does not say so
    fields = {"metadata.name": meta.name, "metadata.namespace": meta.namespace}
    try:
        kind = kinds.of_message(obj).kind
    except KeyError:
        return fields
    extra = _KIND_FIELDS.get(kind)
    if extra is not None:
        fields.update(extra(obj))
    return fields
