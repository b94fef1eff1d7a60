"""Validation every group shares: field errors as apimachinery prints them, names, labels, selectors and ObjectMeta.

Sources: apimachinery pkg/util/validation/field, pkg/api/validation (ObjectMeta), pkg/apis/meta/v1/validation (v1.32).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubemu.api import labels, names
from kubemu.pb import meta_pb2

# field.ErrorType values (apimachinery/pkg/util/validation/field/errors.go).
NOT_FOUND = "FieldValueNotFound"
REQUIRED = "FieldValueRequired"
DUPLICATE = "FieldValueDuplicate"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
INTERNAL = "InternalError"
TYPE_INVALID = "FieldValueTypeInvalid"

_TYPE_TEXT = {
    NOT_FOUND: "Not found",
    REQUIRED: "Required value",
    DUPLICATE: "Duplicate value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    INTERNAL: "Internal error",
    TYPE_INVALID: "Invalid value",
}
# These types never print the bad value (ErrorBody upstream).
_NO_VALUE = {REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL}

IS_NEGATIVE_MSG = "must be greater than or equal to 0"
IMMUTABLE_MSG = "field is immutable"
NOT_POSITIVE_MSG = "must be greater than zero"
NOT_INTEGER_MSG = "must be an integer"
MAX_INT32 = 2**31 - 1


@dataclass(frozen=True)
class GoValue:
    """A bad value printed verbatim, for values Go would print with their own String() method."""

    text: str


_go_quote = labels.go_quote


def go_repr(value: object) -> str:
    """A value as Go's ErrorBody prints it: %q for strings, %v for numbers, %#v for maps and slices."""
    if isinstance(value, GoValue):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _go_quote(value)
    if isinstance(value, Mapping):
        # fmt prints maps with sorted keys.
        items = ", ".join(f"{_go_quote(str(k))}:{_go_quote(str(v))}" for k, v in sorted(value.items()))
        return "map[string]string{" + items + "}"
    if isinstance(value, list | tuple):
        return "[]string{" + ", ".join(_go_quote(str(v)) for v in value) + "}"
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One field.Error: `type` is the upstream ErrorType string (`FieldValueRequired`, ...)."""

    type: str
    field: str
    detail: str = ""
    bad_value: object = None

    def body(self) -> str:
        text = _TYPE_TEXT.get(self.type, self.type)
        if self.type not in _NO_VALUE:
            text = f"{text}: {go_repr(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"


# ---- constructors, named as in package field --------------------------------------------------------


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, path, detail)


def invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(INVALID, path, detail, value)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, path, detail)


def duplicate(path: str, value: object) -> FieldError:
    return FieldError(DUPLICATE, path, "", value)


def not_found(path: str, value: object) -> FieldError:
    return FieldError(NOT_FOUND, path, "", value)


def not_supported(path: str, value: object, valid: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(_go_quote(v) for v in valid) if valid else ""
    return FieldError(NOT_SUPPORTED, path, detail, value)


def too_long(path: str, max_length: int) -> FieldError:
    unit = "byte" if max_length == 1 else "bytes"
    return FieldError(TOO_LONG, path, f"may not be more than {max_length} {unit}")


def _child(path: str, *names_: str) -> str:
    for n in names_:
        path = f"{path}.{n}" if path else n
    return path


def _nonnegative(value: int, path: str) -> list[FieldError]:
    return [invalid(path, value, IS_NEGATIVE_MSG)] if value < 0 else []


def _immutable(new: object, old: object, path: str, shown: object = None) -> list[FieldError]:
    if new == old:
        return []
    return [invalid(path, new if shown is None else shown, IMMUTABLE_MSG)]


# ---- names, labels, selectors -----------------------------------------------------------------------

NameFn = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end in "-": the random suffix follows it (maskTrailingDash upstream).
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return names.validate_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return names.validate_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return names.validate_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def name_is_path_segment(name: str, prefix: bool) -> list[str]:
    return names.validate_path_segment_name(name, prefix)


def _qualified_name(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, msg) for msg in labels.validate_label_key(value)]


def _validate_labels(lbls: Mapping[str, str], path: str) -> list[FieldError]:
    """ValidateLabels: errors are reported on the map's path, not per key, as upstream does."""
    errs: list[FieldError] = []
    for k, v in lbls.items():
        errs += _qualified_name(k, path)
        errs += [invalid(path, v, msg) for msg in labels.validate_label_value(v)]
    return errs


def _validate_annotations(annotations: Mapping[str, str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for k in annotations:
        # Annotation keys are qualified names, except that case does not matter.
        errs += [invalid(path, k, msg) for msg in labels.validate_label_key(k.lower())]
    if sum(len(k) + len(v) for k, v in annotations.items()) > 256 * 1024:
        errs.append(too_long(path, 256 * 1024))
    return errs


def _selector_text(sel: meta_pb2.LabelSelector) -> GoValue:
    # metav1.LabelSelector prints through its generated String() method.
    ml = "".join(f"{k}: {v}," for k, v in sorted(sel.match_labels.items()))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.key},Operator:{e.operator},Values:[{' '.join(e.values)}],}},"
        for e in sel.match_expressions
    )
    return GoValue(
        f"&LabelSelector{{MatchLabels:map[string]string{{{ml}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"
    )


def _validate_label_selector(sel: meta_pb2.LabelSelector, path: str) -> list[FieldError]:
    errs = _validate_labels(sel.match_labels, _child(path, "matchLabels"))
    for i, req in enumerate(sel.match_expressions):
        rp = f"{_child(path, 'matchExpressions')}[{i}]"
        if req.operator in ("In", "NotIn"):
            if not req.values:
                errs.append(required(_child(rp, "values"), "must be specified when `operator` is 'In' or 'NotIn'"))
        elif req.operator in ("Exists", "DoesNotExist"):
            if req.values:
                errs.append(
                    forbidden(
                        _child(rp, "values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                    )
                )
        else:
            errs.append(invalid(_child(rp, "operator"), req.operator, "not a valid selector operator"))
        errs += _qualified_name(req.key, _child(rp, "key"))
        for j, v in enumerate(req.values):
            errs += [invalid(f"{_child(rp, 'values')}[{j}]", v, msg) for msg in labels.validate_label_value(v)]
    return errs


def _selector_matches(sel: meta_pb2.LabelSelector | None, lbls: Mapping[str, str]) -> bool | None:
    """Whether the selector matches; None when it does not convert (LabelSelectorAsSelector fails).

    A nil selector selects nothing and an empty one everything, as LabelSelectorAsSelector upstream.
    """
    if sel is None:
        return False
    try:
        selector = labels.from_label_selector(sel)
    except labels.SelectorError:
        return None
    return bool(selector.matches(dict(lbls)))


# ---- ObjectMeta -------------------------------------------------------------------------------------

_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}


def _validate_finalizer(name: str, path: str) -> list[FieldError]:
    errs = _qualified_name(name, path)
    if "/" not in name and name not in _STANDARD_FINALIZERS:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def _owner_refs_value(refs: Iterable[meta_pb2.OwnerReference]) -> GoValue:
    return GoValue("[]v1.OwnerReference{" + ", ".join(f"{r.kind}/{r.name}" for r in refs) + "}")


def validate_object_meta(
    meta: meta_pb2.ObjectMeta, namespaced: bool, name_fn: NameFn, path: str = "metadata"
) -> list[FieldError]:
    """ValidateObjectMeta (apimachinery api/validation/objectmeta.go) plus the kube finalizer-name check."""
    errs: list[FieldError] = []
    if meta.generate_name:
        errs += [
            invalid(_child(path, "generateName"), meta.generate_name, m) for m in name_fn(meta.generate_name, True)
        ]
    if not meta.name:
        # The registry generates the name before validating; a bare generateName is only seen on dry paths.
        if not meta.generate_name:
            errs.append(required(_child(path, "name"), "name or generateName is required"))
    else:
        errs += [invalid(_child(path, "name"), meta.name, m) for m in name_fn(meta.name, False)]
    if namespaced:
        if not meta.namespace:
            errs.append(required(_child(path, "namespace")))
        else:
            errs += [
                invalid(_child(path, "namespace"), meta.namespace, m) for m in name_is_dns_label(meta.namespace, False)
            ]
    elif meta.namespace:
        errs.append(forbidden(_child(path, "namespace"), "not allowed on this type"))
    errs += _nonnegative(meta.generation, _child(path, "generation"))
    errs += _validate_labels(meta.labels, _child(path, "labels"))
    errs += _validate_annotations(meta.annotations, _child(path, "annotations"))
    errs += _validate_owner_references(meta.owner_references, _child(path, "ownerReferences"))
    errs += _validate_finalizers(meta.finalizers, _child(path, "finalizers"))
    return errs


def _validate_owner_references(refs: Sequence[meta_pb2.OwnerReference], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    first_controller = ""
    for ref in refs:
        version = ref.api_version.rpartition("/")[2]
        if not version:
            errs.append(invalid(_child(path, "apiVersion"), ref.api_version, "version must not be empty"))
        if not ref.kind:
            errs.append(invalid(_child(path, "kind"), ref.kind, "must not be empty"))
        if not ref.name:
            errs.append(invalid(_child(path, "name"), ref.name, "must not be empty"))
        if not ref.uid:
            errs.append(invalid(_child(path, "uid"), ref.uid, "must not be empty"))
        if ref.api_version == "v1" and ref.kind == "Event":
            errs.append(
                invalid(path, GoValue(f"{ref.kind}/{ref.name}"), "/v1, Kind=Event is disallowed from being an owner")
            )
        if ref.HasField("controller") and ref.controller:
            current = f"{ref.kind}/{ref.name}"
            if first_controller:
                errs.append(
                    invalid(
                        path,
                        _owner_refs_value(refs),
                        "Only one reference can have Controller set to true. "
                        f'Found "true" in references for {first_controller} and {current}',
                    )
                )
            else:
                first_controller = current
    return errs


def _validate_finalizers(finalizers: Sequence[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, f in enumerate(finalizers):
        errs += _qualified_name(f, path)
        # validateKubeFinalizerName checks again on the indexed path, so a bad name is reported twice upstream.
        errs += _qualified_name(f, f"{path}[{i}]")
        if "/" not in f and f not in _STANDARD_FINALIZERS:
            errs.append(
                invalid(f"{path}[{i}]", f, "name is neither a standard finalizer name nor is it fully qualified")
            )
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        errs.append(invalid(path, list(finalizers), "finalizer orphan and foregroundDeletion cannot be both set"))
    return errs


def validate_object_meta_update(
    new: meta_pb2.ObjectMeta, old: meta_pb2.ObjectMeta, path: str = "metadata"
) -> list[FieldError]:
    """ValidateObjectMetaAccessorUpdate, without the resourceVersion check: the registry owns preconditions
    and allows unconditional updates, as AllowUnconditionalUpdate does upstream."""
    errs: list[FieldError] = []
    if old.HasField("deletion_timestamp"):
        extra = sorted(set(new.finalizers) - set(old.finalizers))
        if extra:
            errs.append(
                forbidden(
                    _child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {go_repr(extra)}",
                )
            )
    if new.generation < old.generation:
        errs.append(invalid(_child(path, "generation"), new.generation, "must not be decremented"))
    errs += _immutable(new.name, old.name, _child(path, "name"))
    errs += _immutable(new.namespace, old.namespace, _child(path, "namespace"))
    errs += _immutable(new.uid, old.uid, _child(path, "uid"))
    return errs


def _selector_immutable(new: Any, old: Any) -> list[FieldError]:
    if new.spec.selector == old.spec.selector and new.spec.HasField("selector") == old.spec.HasField("selector"):
        return []
    return [invalid("spec.selector", _selector_text(new.spec.selector), IMMUTABLE_MSG)]
