"""Resource quantities ("500m", "128Mi", "1e3"): upstream's parser, rounding, canonical form and arithmetic.

A port of k8s.io/apimachinery/pkg/api/resource (v1.32) on exact fractions, with upstream's error messages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction


class Format(StrEnum):
    DECIMAL_EXPONENT = "DecimalExponent"
    BINARY_SI = "BinarySI"
    DECIMAL_SI = "DecimalSI"


class QuantityError(ValueError):
    """A string that is not a quantity; the message is upstream's."""


_SPLIT_RE_STRING = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT_WRONG = f"quantities must match the regular expression '{_SPLIT_RE_STRING}'"
ERR_NUMERIC = "unable to parse numeric part of quantity"
ERR_SUFFIX = "unable to parse quantity's suffix"

_NANO = Fraction(1, 10**9)
_MAX_ALLOWED = 2**63 - 1
_MAX_INT64_FACTORS = 18
# Upstream keeps a quantity as mantissa and scale, so "1e999999999" costs it nothing; an exact fraction would need
# gigabytes. No resource is anywhere near this, so such exponents are refused rather than computed.
_MAX_ABS_EXPONENT = 100_000

_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {e: s for s, e in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {e: s for s, e in _BINARY_SUFFIXES.items()}
_DIGITS = frozenset("0123456789")
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")


@dataclass(frozen=True)
class _Scanned:
    positive: bool
    value: str
    num: str
    denom: str
    suffix: str


def _scan(text: str) -> _Scanned:
    """parseQuantityString: sign, numerator (leading zeros dropped), denominator and suffix, as upstream splits them."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] == "+"
        pos += 1
    while pos < end and text[pos] == "0":
        pos += 1
    if pos >= end:
        return _Scanned(positive, "0", "0", "", "")
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos]
    if pos >= end:
        return _Scanned(positive, text, num or "0", "", "")
    num = num or "0"
    denom = ""
    if text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
        if pos >= end:
            return _Scanned(positive, text, num, denom, "")
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos < end:
        raise QuantityError(ERR_FORMAT_WRONG)
    return _Scanned(positive, value, num, denom, text[suffix_start:])


def _interpret(suffix: str) -> tuple[int, int, Format]:
    """The suffix as (base, exponent, format); a bare `E` is exa, `E3`/`e3` an exponent."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE":
        digits = suffix[1:]
        body = digits[1:] if digits[:1] in ("+", "-") else digits
        if body and all(c in _DIGITS for c in body):
            parsed = int(digits)
            if -(2**63) <= parsed < 2**63:
                # Upstream stores the exponent as int32, wrapping larger ones.
                return 10, (parsed + 2**31) % 2**32 - 2**31, Format.DECIMAL_EXPONENT
    raise QuantityError(ERR_SUFFIX)


def _round_up_to_nano(value: Fraction) -> Fraction:
    """Round away from zero to a whole number of nano-units: asking for a sliver of a resource gets you some."""
    scaled = abs(value) / _NANO
    whole = -(-scaled.numerator // scaled.denominator)
    return Fraction(whole if value > 0 else -whole, 10**9)


def _cached_text(text: str, s: _Scanned, base: int, exponent: int, fmt: Format) -> str | None:
    """The input string, when upstream's fast path would keep it as the quantity's String().

    Upstream skips re-rendering inputs its integer fast path deems canonical, so "1E3" prints as "1E3" and "+1k" as
    "+1k" even though neither is what it would render.
    """
    if fmt is Format.BINARY_SI:
        if not (exponent >= 0 and not s.denom):
            return None
        precision = 15 - len(s.num) - int(exponent * 3 / 10) - 1
        if precision < 0:
            return None
        value = int(s.num)
        if value * (1 << exponent) > _MAX_ALLOWED:
            return None
        return text if value & 0x07 else None
    precision = _MAX_INT64_FACTORS - (len(s.num) + len(s.denom))
    scale = exponent - len(s.denom)
    if precision < 0 or scale < -9:
        return None
    shifted = s.num + s.denom
    if scale % 3 == 0 and not shifted.endswith("000") and shifted[0] != "0":
        return text
    return None


def _takes_fast_path(s: _Scanned, exponent: int, fmt: Format) -> bool:
    if fmt is Format.BINARY_SI:
        if exponent < 0 or s.denom:
            return False
        precision = 15 - len(s.num) - int(exponent * 3 / 10) - 1
        return precision >= 0 and int(s.num) * (1 << exponent) <= _MAX_ALLOWED
    precision = _MAX_INT64_FACTORS - (len(s.num) + len(s.denom))
    return precision >= 0 and exponent - len(s.denom) >= -9


@functools.lru_cache(maxsize=4096)
def parse_quantity(text: str) -> Quantity:
    """resource.ParseQuantity: no whitespace, upstream's suffixes, values rounded up to the nano, BinarySI capped.
    Cached: a cluster uses few distinct quantity strings, and a Quantity is immutable."""
    if not text:
        raise QuantityError(ERR_FORMAT_WRONG)
    if text == "0":
        return Quantity(Fraction(0), Format.DECIMAL_SI, _text="0")
    s = _scan(text)
    base, exponent, fmt = _interpret(s.suffix)
    if abs(exponent) > _MAX_ABS_EXPONENT:
        raise QuantityError(ERR_SUFFIX)
    if not _takes_fast_path(s, exponent, fmt) and not any(c in _DIGITS for c in s.value):
        # The slow path hands the bare number to inf.Dec, which wants at least one digit: ".Pi" fails, ".Ki" is 0.
        raise QuantityError(ERR_NUMERIC)
    amount = Fraction(int(s.num + s.denom), 10 ** len(s.denom))
    amount *= Fraction(base) ** exponent
    if not s.positive:
        amount = -amount
    if amount:
        amount = _round_up_to_nano(amount)
    if fmt is Format.BINARY_SI:
        if abs(amount) > _MAX_ALLOWED:
            amount = Fraction(_MAX_ALLOWED if amount > 0 else -_MAX_ALLOWED)
        if 0 < abs(amount) < 1:
            # Fractions of a byte cannot be written with Ki/Mi; show them as milli-units instead.
            fmt = Format.DECIMAL_SI
    return Quantity(amount, fmt, _text=_cached_text(text, s, base, exponent, fmt))


def _ceil_away_from_zero(value: Fraction) -> int:
    whole = -(-abs(value.numerator) // value.denominator)
    return whole if value >= 0 else -whole


def _remove_factors(value: int, base: int) -> tuple[int, int]:
    times = 0
    magnitude = abs(value)
    while magnitude >= base and magnitude % base == 0:
        magnitude //= base
        times += 1
    return (magnitude if value >= 0 else -magnitude), times


def _decimal_canonical(value: Fraction) -> tuple[int, int]:
    """Mantissa and exponent with the exponent a multiple of 3 and as large as an integer mantissa allows."""
    exponent = 0
    denominator = value.denominator
    # Values here are whole nano-units or coarser, so the denominator divides some power of ten.
    while denominator != 1:
        value *= 10
        exponent -= 1
        denominator = value.denominator
    mantissa, times = _remove_factors(value.numerator, 10)
    exponent += times
    while exponent % 3:
        mantissa *= 10
        exponent -= 1
    return mantissa, exponent


def _is_decimal(value: Fraction) -> bool:
    d = value.denominator
    for prime in (2, 5):
        while d % prime == 0:
            d //= prime
    return d == 1


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact decimal amount and the notation it prints in; equality and ordering look at the amount only."""

    amount: Fraction
    format: Format = Format.DECIMAL_SI
    _text: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Upstream amounts are decimals (inf.Dec); a third has no canonical form to print.
        if not _is_decimal(self.amount):
            raise ValueError(f"a quantity must be a decimal amount, not {self.amount}")

    def __str__(self) -> str:
        if self._text is not None:
            return self._text
        number, suffix = self._canonicalize()
        return number + suffix

    def _canonicalize(self) -> tuple[str, str]:
        """CanonicalizeBytes: the number and suffix upstream renders."""
        if self.amount == 0:
            return "0", ""
        fmt = self.format
        if fmt is Format.BINARY_SI:
            if -1024 < self.amount < 1024 or self.amount.denominator != 1:
                # Small or fractional amounts are not worth a binary suffix; upstream switches to decimal.
                fmt = Format.DECIMAL_SI
            else:
                mantissa, times = _remove_factors(self.amount.numerator, 1024)
                # An exponent beyond Ei has no suffix, and upstream then prints the bare mantissa.
                return str(mantissa), _BINARY_BY_EXPONENT.get(times * 10, "")
        mantissa, exponent = _decimal_canonical(self.amount)
        if fmt is Format.DECIMAL_SI:
            # Likewise past E (10^18) or below n: the suffix lookup fails and upstream drops the magnitude.
            return str(mantissa), _DECIMAL_BY_EXPONENT.get(exponent, "")
        return str(mantissa), ("" if exponent == 0 else f"e{exponent}")

    def value(self) -> int:
        """Value(): the amount rounded up, away from zero, to a whole number (bytes, pods, ...)."""
        return _ceil_away_from_zero(self.amount)

    def milli_value(self) -> int:
        """MilliValue(): ceil(q * 1000), away from zero; CPU in millicores."""
        return _ceil_away_from_zero(self.amount * 1000)

    def scaled_value(self, scale: int) -> int:
        """ScaledValue(): ceil(q / 10^scale), away from zero."""
        return _ceil_away_from_zero(self.amount / Fraction(10) ** scale)

    def is_zero(self) -> bool:
        return self.amount == 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount == other.amount

    def __lt__(self, other: Quantity) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.amount < other.amount

    def __hash__(self) -> int:
        return hash(self.amount)

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        # Adding to zero adopts the other side's notation, so `0 + 1Gi` still prints as 1Gi.
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount + other.amount, fmt)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        fmt = other.format if self.amount == 0 else self.format
        return Quantity(self.amount - other.amount, fmt)

    def __neg__(self) -> Quantity:
        return Quantity(-self.amount, self.format)


@functools.lru_cache(maxsize=4096)
def cpu_millis(text: str) -> int:
    """A CPU quantity in millicores: "500m" -> 500, "1" -> 1000, "0.1" -> 100. Kept per text, as the parse is:
    the rounding is Fraction arithmetic, and the scheduler asks it of every pod's requests every cycle."""
    return parse_quantity(text).milli_value()


@functools.lru_cache(maxsize=4096)
def bytes_of(text: str) -> int:
    """A memory or storage quantity in bytes, rounded up: "128Mi" -> 134217728, "1G" -> 10**9 (kept per text)."""
    return parse_quantity(text).value()
