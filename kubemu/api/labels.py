"""Label selectors: upstream's string syntax, metav1.LabelSelector, matching, and label key/value validation.

A port of k8s.io/apimachinery/pkg/labels (v1.32) including its error texts, which kubectl users see verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from kubemu.api.names import byte_len, empty_error, max_len_error, regex_error, validate_dns1123_subdomain
from kubemu.pb import meta_pb2


class SelectorError(ValueError):
    """A selector that upstream would refuse; the message is upstream's."""


# selection.Operator values, spelled as upstream spells them.
IN = "in"
NOT_IN = "notin"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
GREATER_THAN = "gt"
LESS_THAN = "lt"
EXISTS = "exists"
DOES_NOT_EXIST = "!"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
_VALID_OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS

# --- validation (IsQualifiedName / IsValidLabelValue) ---

LABEL_KEY_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME_ERR_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"
_LABEL_VALUE_ERR_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_QUALIFIED_NAME_RE = re.compile(_QUALIFIED_NAME_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_INT64_RE = re.compile(r"[+-]?[0-9]+")


def validate_label_key(key: str) -> list[str]:
    """IsQualifiedName: the problems with `key` as a label key (`[prefix/]name`), empty when valid."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in validate_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name "
            + regex_error(_QUALIFIED_NAME_ERR_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif byte_len(name) > LABEL_KEY_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_NAME_MAX_LENGTH))
    if not _QUALIFIED_NAME_RE.fullmatch(name):
        errs.append(
            "name part " + regex_error(_QUALIFIED_NAME_ERR_MSG, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def validate_label_value(value: str) -> list[str]:
    """IsValidLabelValue: the problems with `value` as a label value, empty when valid."""
    errs: list[str] = []
    if byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_ERR_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --- Go formatting, so field errors read exactly as upstream's ---

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """strconv.Quote (also what `%q` prints): used wherever upstream quotes a value in an error."""
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _go_string_slice(values: Sequence[str] | None) -> str:
    """`%#v` of a []string; None stands for Go's nil slice, which prints differently from an empty one."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _invalid(path: str, bad_value: str, detail: str) -> str:
    """field.Invalid(...).Error(); `bad_value` is already formatted."""
    return f"{path}: Invalid value: {bad_value}: {detail}"


def _aggregate(errors: list[str]) -> str:
    """ErrorList.ToAggregate().Error(): duplicates dropped, several errors bracketed."""
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _path_child(path: str | None, name: str) -> str:
    return name if path is None else f"{path}.{name}"


# --- requirements and selectors ---


def _parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64); Python's int() would also take '_' and surrounding whitespace."""
    if not _INT64_RE.fullmatch(text):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term. Construct through `new_requirement` to get upstream's validation."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            # A missing key is "not equal" to anything: upstream's rule, and why `env!=prod` selects unlabeled pods.
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have = _parse_int64(labels[self.key])
            want = _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        prefix = "!" if op == DOES_NOT_EXIST else ""
        if op in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        symbol = {
            EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin ",
            GREATER_THAN: ">", LESS_THAN: "<",
        }.get(op, "")
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            values = f"({values})"
        return prefix + self.key + symbol + values


def new_requirement(key: str, operator: str, values: Sequence[str] | None, *, path: str | None = None) -> Requirement:
    """NewRequirement: a validated Requirement, or SelectorError with upstream's aggregated field errors.

    `values=None` is Go's nil slice; it only changes how an error prints the bad value.
    """
    vals = tuple(values or ())
    errs: list[str] = []
    key_errs = validate_label_key(key)
    if key_errs:
        errs.append(_invalid(_path_child(path, "key"), go_quote(key), "; ".join(key_errs)))
    value_path = _path_child(path, "values")
    bad_values = _go_string_slice(values)
    if operator in (IN, NOT_IN):
        if not vals:
            errs.append(_invalid(value_path, bad_values, "for 'in', 'notin' operators, values set can't be empty"))
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(_invalid(value_path, bad_values, "exact-match compatibility requires one single value"))
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(_invalid(value_path, bad_values, "values set must be empty for exists and does not exist"))
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(_invalid(value_path, bad_values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, v in enumerate(vals):
            if _parse_int64(v) is None:
                detail = "for 'Gt', 'Lt' operators, the value must be an integer"
                errs.append(_invalid(f"{value_path}[{i}]", go_quote(v), detail))
    else:
        supported = ", ".join(go_quote(o) for o in _VALID_OPERATORS)
        operator_path = _path_child(path, "operator")
        errs.append(f"{operator_path}: Unsupported value: {go_quote(operator)}: supported values: {supported}")
    for i, v in enumerate(vals):
        value_errs = validate_label_value(v)
        if value_errs:
            errs.append(_invalid(f"{value_path}[{i}][{key}]", go_quote(v), "; ".join(value_errs)))
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, operator, vals)


def _sorted_by_key(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    # Stable, as Go's sort.Sort is for the handful of terms a selector has (insertion sort below 13 elements).
    return tuple(sorted(requirements, key=lambda r: r.key))


@dataclass(frozen=True)
class Selector:
    """An AND of requirements; no requirements matches everything."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)

    def requirement_keys(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.key for r in self.requirements))

    def add(self, *requirements: Requirement) -> Selector:
        return Selector(_sorted_by_key((*self.requirements, *requirements)))

    def requires_exact_match(self, key: str) -> str | None:
        """The one value `key` must have for this selector to match, if the selector pins it (RequiresExactMatch)."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None


EVERYTHING = Selector()


def from_map(labels: Mapping[str, str]) -> Selector:
    """SelectorFromSet: `key=value` for each entry, unvalidated as upstream; empty matches everything."""
    return Selector(_sorted_by_key(Requirement(k, EQUALS, (v,)) for k, v in labels.items()))


_LABEL_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def from_label_selector(ls: meta_pb2.LabelSelector) -> Selector:
    """LabelSelectorAsSelector for a present selector: empty matches everything. A nil selector is the caller's call."""
    if not ls.match_labels and not ls.match_expressions:
        return EVERYTHING
    reqs: list[Requirement] = []
    # Go walks matchLabels in random map order; sorting makes the first reported error deterministic.
    for key in sorted(ls.match_labels):
        reqs.append(new_requirement(key, EQUALS, [ls.match_labels[key]]))
    for expr in ls.match_expressions:
        op = _LABEL_SELECTOR_OPERATORS.get(expr.operator)
        if op is None:
            raise SelectorError(f"{go_quote(expr.operator)} is not a valid label selector operator")
        # `append([]string(nil), values...)`: no values is a nil slice, which shows in the error text.
        reqs.append(new_requirement(expr.key, op, list(expr.values) or None))
    return Selector(_sorted_by_key(reqs))


# --- the string syntax: a port of upstream's lexer and recursive-descent parser ---


class _Token(IntEnum):
    ERROR = 0
    END_OF_STRING = 1
    CLOSED_PAR = 2
    COMMA = 3
    DOES_NOT_EXIST = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER_THAN = 7
    IDENTIFIER = 8
    IN = 9
    LESS_THAN = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_STRING_TO_TOKEN = {
    ")": _Token.CLOSED_PAR, ",": _Token.COMMA, "!": _Token.DOES_NOT_EXIST, "==": _Token.DOUBLE_EQUALS,
    "=": _Token.EQUALS, ">": _Token.GREATER_THAN, "in": _Token.IN, "<": _Token.LESS_THAN,
    "!=": _Token.NOT_EQUALS, "notin": _Token.NOT_IN, "(": _Token.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_NUL = "\x00"


class _Lexer:
    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    def read(self) -> str:
        # Upstream's read() yields byte 0 at the end, so a NUL in the input also reads as end of string.
        if self.pos < len(self.s):
            ch = self.s[self.pos]
            self.pos += 1
            return ch
        return _NUL

    def unread(self) -> None:
        self.pos -= 1

    def scan_id_or_keyword(self) -> tuple[_Token, str]:
        buf: list[str] = []
        while True:
            ch = self.read()
            if ch == _NUL:
                break
            if ch in _SPECIAL or ch in _WHITESPACE:
                self.unread()
                break
            buf.append(ch)
        s = "".join(buf)
        return _STRING_TO_TOKEN.get(s, _Token.IDENTIFIER), s

    def scan_special_symbol(self) -> tuple[_Token, str]:
        last: tuple[_Token, str] = (_Token.ERROR, "")
        buf = ""
        while True:
            ch = self.read()
            if ch == _NUL:
                break
            if ch in _SPECIAL:
                buf += ch
                if buf in _STRING_TO_TOKEN:
                    last = (_STRING_TO_TOKEN[buf], buf)
                elif last[0] != _Token.ERROR:
                    self.unread()
                    break
            else:
                self.unread()
                break
        if last[0] == _Token.ERROR:
            return _Token.ERROR, f"error expected: keyword found '{buf}'"
        return last

    def lex(self) -> tuple[_Token, str]:
        ch = self.read()
        while ch in _WHITESPACE:
            ch = self.read()
        if ch == _NUL:
            return _Token.END_OF_STRING, ""
        self.unread()
        if ch in _SPECIAL:
            return self.scan_special_symbol()
        return self.scan_id_or_keyword()


_KEY_AND_OPERATOR = 0
_VALUES = 1


class _Parser:
    def __init__(self, text: str) -> None:
        lexer = _Lexer(text)
        self.items: list[tuple[_Token, str]] = []
        while True:
            item = lexer.lex()
            self.items.append(item)
            if item[0] == _Token.END_OF_STRING:
                break
        self.position = 0

    def lookahead(self, context: int) -> tuple[_Token, str]:
        tok, lit = self.items[self.position]
        # `in` and `notin` are plain words where a value is expected: `x in (in)` is legal.
        if context == _VALUES and tok in (_Token.IN, _Token.NOT_IN):
            tok = _Token.IDENTIFIER
        return tok, lit

    def consume(self, context: int) -> tuple[_Token, str]:
        item = self.lookahead(context)
        self.position += 1
        return item

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(_VALUES)
            if tok in (_Token.IDENTIFIER, _Token.DOES_NOT_EXIST):
                try:
                    requirements.append(self.parse_requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.consume(_VALUES)
                if t == _Token.END_OF_STRING:
                    return requirements
                if t == _Token.COMMA:
                    t2, lit3 = self.lookahead(_VALUES)
                    if t2 not in (_Token.IDENTIFIER, _Token.DOES_NOT_EXIST):
                        raise SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _Token.END_OF_STRING:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, operator = self.parse_key_and_infer_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self.parse_operator()
        if operator in (IN, NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, literal = self.consume(_VALUES)
        if tok == _Token.DOES_NOT_EXIST:
            operator = DOES_NOT_EXIST
            tok, literal = self.consume(_VALUES)
        if tok != _Token.IDENTIFIER:
            raise SelectorError(f"found '{literal}', expected: identifier")
        key_errs = validate_label_key(literal)
        if key_errs:
            # The parser has no field path, and Go prints a nil *Path as "<nil>".
            raise SelectorError(_invalid("<nil>", go_quote(literal), "; ".join(key_errs)))
        t, _ = self.lookahead(_VALUES)
        if t in (_Token.END_OF_STRING, _Token.COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return literal, operator

    def parse_operator(self) -> str:
        tok, lit = self.consume(_KEY_AND_OPERATOR)
        op = {
            _Token.IN: IN, _Token.EQUALS: EQUALS, _Token.DOUBLE_EQUALS: DOUBLE_EQUALS,
            _Token.GREATER_THAN: GREATER_THAN, _Token.LESS_THAN: LESS_THAN, _Token.NOT_IN: NOT_IN,
            _Token.NOT_EQUALS: NOT_EQUALS,
        }.get(tok)
        if op is None:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return op

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(_VALUES)
        if tok != _Token.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(_VALUES)
        if tok in (_Token.IDENTIFIER, _Token.COMMA):
            s = self.parse_identifiers_list()
            tok, _ = self.consume(_VALUES)
            if tok != _Token.CLOSED_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return s
        if tok == _Token.CLOSED_PAR:
            self.consume(_VALUES)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        s: set[str] = set()
        while True:
            tok, lit = self.consume(_VALUES)
            if tok == _Token.IDENTIFIER:
                s.add(lit)
                tok2, lit2 = self.lookahead(_VALUES)
                if tok2 == _Token.COMMA:
                    continue
                if tok2 == _Token.CLOSED_PAR:
                    return s
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _Token.COMMA:
                # Empty strings are values: `(,a)`, `(a,)` and `(a,,b)` all contain "".
                if not s:
                    s.add("")
                tok2, _ = self.lookahead(_VALUES)
                if tok2 in (_Token.CLOSED_PAR, _Token.COMMA):
                    s.add("")
                if tok2 == _Token.CLOSED_PAR:
                    return s
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead(_VALUES)
        if tok in (_Token.END_OF_STRING, _Token.COMMA):
            return {""}
        tok, lit = self.consume(_VALUES)
        if tok == _Token.IDENTIFIER:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse(text: str) -> Selector:
    """labels.Parse: `a=b,c!=d,e in (x,y),f notin (z),g,!h,n>1`; SelectorError carries upstream's message."""
    return Selector(_sorted_by_key(_Parser(text).parse()))
