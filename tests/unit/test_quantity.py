"""Resource quantities: parsing, rounding and canonical form against upstream's quantity_test.go tables."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kubemu.api.quantity import (
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Format,
    Quantity,
    QuantityError,
    bytes_of,
    cpu_millis,
    parse_quantity,
)

pytestmark = pytest.mark.unit

DSI, BSI, DEX = Format.DECIMAL_SI, Format.BINARY_SI, Format.DECIMAL_EXPONENT
MAX = 2**63 - 1


def dec(mantissa: int, exponent: int) -> Fraction:
    return Fraction(mantissa) * Fraction(10) ** exponent


# api/resource/quantity_test.go TestQuantityParse: input -> (exact amount, format).
PARSE_TABLE: list[tuple[str, Fraction, Format]] = [
    ("0", dec(0, 0), DSI), ("0n", dec(0, 0), DSI), ("0u", dec(0, 0), DSI), ("0m", dec(0, 0), DSI),
    ("0Ki", dec(0, 0), BSI), ("0k", dec(0, 0), DSI), ("0Mi", dec(0, 0), BSI), ("0M", dec(0, 0), DSI),
    ("0Gi", dec(0, 0), BSI), ("0G", dec(0, 0), DSI), ("0Ti", dec(0, 0), BSI), ("0T", dec(0, 0), DSI),
    ("1", dec(1, 0), DSI),
    ("1Ki", dec(1024, 0), BSI), ("8Ki", dec(8 * 1024, 0), BSI), ("7Mi", dec(7 * 1024**2, 0), BSI),
    ("6Gi", dec(6 * 1024**3, 0), BSI), ("5Ti", dec(5 * 1024**4, 0), BSI), ("4Pi", dec(4 * 1024**5, 0), BSI),
    ("3Ei", dec(3 * 1024**6, 0), BSI), ("10Ti", dec(10 * 1024**4, 0), BSI), ("100Ti", dec(100 * 1024**4, 0), BSI),
    ("5n", dec(5, -9), DSI), ("4u", dec(4, -6), DSI), ("3m", dec(3, -3), DSI), ("9", dec(9, 0), DSI),
    ("8k", dec(8, 3), DSI), ("50k", dec(5, 4), DSI), ("7M", dec(7, 6), DSI), ("6G", dec(6, 9), DSI),
    ("5T", dec(5, 12), DSI), ("40T", dec(4, 13), DSI), ("300T", dec(3, 14), DSI), ("2P", dec(2, 15), DSI),
    ("1E", dec(1, 18), DSI),
    ("1E-3", dec(1, -3), DEX), ("1e3", dec(1, 3), DEX), ("1E6", dec(1, 6), DEX), ("1e9", dec(1, 9), DEX),
    ("1E12", dec(1, 12), DEX), ("1e15", dec(1, 15), DEX), ("1E18", dec(1, 18), DEX),
    ("1e14", dec(1, 14), DEX), ("1e13", dec(1, 13), DEX), ("100.035k", dec(100035, 0), DSI),
    ("0.001", dec(1, -3), DSI), ("0.0005k", dec(5, -1), DSI), ("0.005", dec(5, -3), DSI), ("0.05", dec(5, -2), DSI),
    ("0.5", dec(5, -1), DSI), ("0.00050k", dec(5, -1), DSI), ("0.00500", dec(5, -3), DSI),
    ("0.05000", dec(5, -2), DSI), ("0.50000", dec(5, -1), DSI), ("0.5e0", dec(5, -1), DEX),
    ("0.5e-1", dec(5, -2), DEX), ("0.5e-2", dec(5, -3), DEX), ("10.035M", dec(10035, 3), DSI),
    ("1.2e3", dec(12, 2), DEX), ("1.3E+6", dec(13, 5), DEX), ("1.40e9", dec(14, 8), DEX),
    ("1.53E12", dec(153, 10), DEX), ("1.6e15", dec(16, 14), DEX), ("1.7E18", dec(17, 17), DEX),
    ("9.01", dec(901, -2), DSI), ("8.1k", dec(81, 2), DSI), ("7.123456M", dec(7123456, 0), DSI),
    ("6.987654321G", dec(6987654321, 0), DSI), ("5.444T", dec(5444, 9), DSI), ("40.1T", dec(401, 11), DSI),
    ("300.2T", dec(3002, 11), DSI), ("2.5P", dec(25, 14), DSI), ("1.01E", dec(101, 16), DSI),
    # Things that saturate/round.
    ("3.001n", dec(4, -9), DSI), ("1.1E-9", dec(2, -9), DEX), ("0.0000000001", dec(1, -9), DSI),
    ("0.0000000005", dec(1, -9), DSI), ("0.00000000050", dec(1, -9), DSI), ("0.5e-9", dec(1, -9), DEX),
    ("0.9n", dec(1, -9), DSI), ("0.00000012345", dec(124, -9), DSI), ("0.00000012354", dec(124, -9), DSI),
    ("9Ei", Fraction(MAX), BSI), ("9223372036854775807Ki", Fraction(MAX), BSI), ("12E", dec(12, 18), DSI),
    # Fractional binary.
    ("100.035Ki", dec(10243584, -2), BSI), ("0.5Mi", dec(512 * 1024, 0), BSI), ("0.05Gi", dec(536870912, -1), BSI),
    ("0.025Ti", dec(274877906944, -1), BSI),
    # "Things written by trolls".
    ("0.000000000001Ki", dec(2, -9), DSI), (".001", dec(1, -3), DSI), (".0001k", dec(100, -3), DSI),
    ("1.", dec(1, 0), DSI), ("1.G", dec(1, 9), DSI),
]


@pytest.mark.parametrize(("text", "amount", "fmt"), PARSE_TABLE)
def test_parse(text: str, amount: Fraction, fmt: Format) -> None:
    q = parse_quantity(text)
    assert (q.amount, q.format) == (amount, fmt)
    # quantity_test.go repeats its table with an explicit sign on every entry.
    negative = parse_quantity("-" + text)
    assert (negative.amount, negative.format) == (-amount, fmt)
    assert parse_quantity("+" + text) == q


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ERR_FORMAT_WRONG), ("1.1.M", ERR_FORMAT_WRONG), ("1+1.0M", ERR_FORMAT_WRONG), ("0.1mi", ERR_SUFFIX),
        ("0.1am", ERR_FORMAT_WRONG), ("aoeu", ERR_FORMAT_WRONG), (".5i", ERR_SUFFIX), ("1i", ERR_SUFFIX),
        ("-3.01i", ERR_SUFFIX), ("-3.01e-", ERR_SUFFIX), (" 1", ERR_FORMAT_WRONG), ("1 ", ERR_FORMAT_WRONG),
        ("1e", ERR_SUFFIX), ("Non-Numeric", ERR_FORMAT_WRONG),
        # Only the slow path hands the number to inf.Dec, which insists on a digit.
        (".Pi", ERR_NUMERIC),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_format_error_text() -> None:
    assert ERR_FORMAT_WRONG == (
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )


def test_numberless_quirks() -> None:
    # parseQuantityString yields "0" when it finds no digits; upstream accepts these as zero.
    for text in (".", "-.", "-", "Ki"):
        assert parse_quantity(text).is_zero()


# TestQuantityString: amounts built directly, and the canonical text upstream renders for them.
@pytest.mark.parametrize(
    ("amount", "fmt", "text"),
    [
        (dec(1024**3, 0), BSI, "1Gi"), (dec(300 * 1024**2, 0), BSI, "300Mi"), (dec(6 * 1024, 0), BSI, "6Ki"),
        (dec(1001 * 1024**3, 0), BSI, "1001Gi"), (dec(1024**4, 0), BSI, "1Ti"), (dec(5, 0), BSI, "5"),
        (dec(500, -3), BSI, "500m"), (dec(1, 9), DSI, "1G"), (dec(1000, 6), DSI, "1G"), (dec(1000000, 3), DSI, "1G"),
        (dec(1000000000, 0), DSI, "1G"), (dec(1, -3), DSI, "1m"), (dec(80, -3), DSI, "80m"),
        (dec(1080, -3), DSI, "1080m"), (dec(108, -2), DSI, "1080m"), (dec(10800, -4), DSI, "1080m"),
        (dec(300, 6), DSI, "300M"), (dec(1, 12), DSI, "1T"), (dec(1234567, 6), DSI, "1234567M"),
        (dec(1234567, -3), BSI, "1234567m"), (dec(3, 3), DSI, "3k"), (dec(1025, 0), BSI, "1025"),
        (dec(0, 0), DSI, "0"), (dec(0, 0), BSI, "0"), (dec(1, 9), DEX, "1e9"), (dec(1, -3), DEX, "1e-3"),
        (dec(1, -9), DEX, "1e-9"), (dec(80, -3), DEX, "80e-3"), (dec(300, 6), DEX, "300e6"),
        (dec(1, 12), DEX, "1e12"), (dec(1, 3), DEX, "1e3"), (dec(3, 3), DEX, "3e3"), (dec(0, 0), DEX, "0"),
        (dec(1, -9), DSI, "1n"), (dec(80, -9), DSI, "80n"), (dec(1080, -9), DSI, "1080n"),
        (dec(108, -8), DSI, "1080n"), (dec(1, -6), DSI, "1u"), (dec(80, -6), DSI, "80u"),
        (dec(1080, -6), DSI, "1080u"),
    ],
)
def test_string(amount: Fraction, fmt: Format, text: str) -> None:
    q = Quantity(amount, fmt)
    assert str(q) == text
    if amount:
        assert str(-q) == "-" + text
    assert parse_quantity(text) == q


# TestQuantityParseEmit, plus the alternates TestQuantityString re-parses.
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1Ki", "1Ki"), ("1Mi", "1Mi"), ("1Gi", "1Gi"), ("1024Mi", "1Gi"), ("1000M", "1G"), (".001Ki", "1024m"),
        (".000001Ki", "1024u"), (".000000001Ki", "1024n"), (".000000000001Ki", "2n"),
        ("0.5", "500m"), ("1000m", "1"), ("1.5Gi", "1536Mi"), ("307200Ki", "300Mi"), ("5000m", "5"),
        ("1.08", "1080m"), ("1080000000n", "1080m"), ("0.001T", "1G"), (".001e12", "1e9"), ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"), ("00", "0"), ("1000u", "1m"), ("1025024Mi", "1001Gi"),
    ],
)
def test_parse_emit(text: str, canonical: str) -> None:
    assert str(parse_quantity(text)) == canonical
    if canonical != "0":
        assert str(parse_quantity("-" + text)) == "-" + canonical


def test_canonical_inputs_print_as_written() -> None:
    # Upstream keeps the input string when its integer fast path deems it canonical, even where rendering
    # would differ: kubectl shows "1E3" and "+1k" back as typed.
    assert str(parse_quantity("1E3")) == "1E3"
    assert str(parse_quantity("+1k")) == "+1k"
    assert str(parse_quantity("1.5e1")) == "1.5e1"
    # Arithmetic drops the cached text.
    assert str(parse_quantity("+1k") + parse_quantity("0")) == "1k"


def test_beyond_exa_drops_the_suffix() -> None:
    # Upstream has no suffix past E and prints the bare mantissa: "1000E" shows as "1".
    assert str(parse_quantity("1000E")) == "1"
    assert parse_quantity("1000E").amount == dec(1, 21)


# TestQuantityCmp.
@pytest.mark.parametrize(
    ("x", "y", "cmp"), [("0", "0", 0), ("100m", "50m", 1), ("50m", "100m", -1), ("10000T", "100Gi", 1)]
)
def test_cmp(x: str, y: str, cmp: int) -> None:
    a, b = parse_quantity(x), parse_quantity(y)
    assert (a > b) - (a < b) == cmp
    assert (a == b) is (cmp == 0)


def test_equal_amounts_in_different_notations_compare_equal() -> None:
    assert parse_quantity("1Ki") == parse_quantity("1024")
    assert hash(parse_quantity("1Ki")) == hash(parse_quantity("1024"))
    assert parse_quantity("1") != parse_quantity("1001m")


@pytest.mark.parametrize("text", ["100m", "1Gi"])
def test_add_and_sub_zero_preserve_suffix(text: str) -> None:
    # TestQuantityAddZeroPreservesSuffix / TestQuantitySubZeroPreservesSuffix.
    zero, q = parse_quantity("0"), parse_quantity(text)
    assert str(q + zero) == text
    assert str(zero + q) == text
    assert str(q - zero) == text
    assert str(zero - q) == "-" + text


def test_arithmetic() -> None:
    assert str(parse_quantity("1Gi") + parse_quantity("512Mi")) == "1536Mi"
    assert str(parse_quantity("1") - parse_quantity("250m")) == "750m"
    # The left operand's notation wins.
    assert str(parse_quantity("1k") + parse_quantity("24")) == "1024"
    assert str(parse_quantity("1Ki") + parse_quantity("1Ki")) == "2Ki"


def test_neg() -> None:
    # TestQuantityNeg.
    assert str(-Quantity(dec(901, -2), DSI)) == "-9010m"


# TestNewSet / TestMilliNewSet / TestNewScaledSet via Value, MilliValue and ScaledValue.
@pytest.mark.parametrize(
    ("text", "value", "milli"),
    [("1", 1, 1000), ("1k", 1000, 1000000), ("1234k", 1234000, 1234000000), ("1Ki", 1024, 1024000),
     ("1e6", 1000000, 1000000000), ("1Mi", 1048576, 1048576000), ("1m", 1, 1), ("1.5", 2, 1500), ("1n", 1, 1),
     ("-1.5", -2, -1500), ("0", 0, 0)],
)
def test_value_and_milli_value(text: str, value: int, milli: int) -> None:
    q = parse_quantity(text)
    assert q.value() == value
    assert q.milli_value() == milli


def test_scaled_value() -> None:
    assert parse_quantity("1u").scaled_value(-9) == 1000
    assert parse_quantity("1").scaled_value(-3) == 1000
    assert parse_quantity("1500").scaled_value(3) == 2


def test_helpers() -> None:
    assert cpu_millis("500m") == 500
    assert cpu_millis("2") == 2000
    assert cpu_millis("0.1") == 100
    assert bytes_of("128Mi") == 128 * 1024**2
    assert bytes_of("1G") == 10**9
    assert bytes_of("1.5") == 2
    with pytest.raises(QuantityError):
        cpu_millis("lots")


def test_non_decimal_amounts_are_refused() -> None:
    with pytest.raises(ValueError):
        Quantity(Fraction(1, 3))


# --- properties ---

_SUFFIXES = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
             "e3", "E-3", "e-7", "e0", "e12", "E+2"]


@st.composite
def _quantity_text(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "-", "+"]))
    whole = draw(st.from_regex(r"[0-9]{1,12}", fullmatch=True))
    frac = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{0,12}", fullmatch=True)))
    return sign + whole + frac + draw(st.sampled_from(_SUFFIXES))


def _printable_exactly(q: Quantity) -> bool:
    # Past 999E upstream's own output loses the magnitude (see test_beyond_exa_drops_the_suffix).
    return q.format is not Format.DECIMAL_SI or abs(q.amount) < dec(1, 21)


@given(_quantity_text())
def test_parse_format_round_trip(text: str) -> None:
    q = parse_quantity(text)
    assume(_printable_exactly(q))
    again = parse_quantity(str(q))
    assert again == q
    assert str(again) == str(q) or str(q) == text
    # Parsed amounts are whole nano-units, rounded away from zero.
    assert (q.amount * 10**9).denominator == 1
    assert q.milli_value() == parse_quantity(str(q)).milli_value()


@given(st.integers(min_value=-(10**20), max_value=10**20), st.integers(min_value=-9, max_value=2),
       st.sampled_from([DSI, BSI, DEX]))
def test_any_amount_round_trips(mantissa: int, exponent: int, fmt: Format) -> None:
    q = Quantity(dec(mantissa, exponent), fmt)
    assume(abs(q.amount) <= MAX or fmt is not Format.BINARY_SI)
    assume(_printable_exactly(q))
    again = parse_quantity(str(q))
    assert again.amount == q.amount
    # The notation comes from the text: a BinarySI 115000 prints bare and re-reads as DecimalSI "115k".
    # From there on the printed form is a fixed point.
    assert str(parse_quantity(str(again))) == str(again)
    if fmt is not Format.BINARY_SI:
        assert str(again) == str(q)
