"""Label selectors and label key/value validation, against upstream's own test cases and error texts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubemu.api import labels
from kubemu.api.labels import Requirement, SelectorError, new_requirement
from kubemu.pb import meta_pb2

pytestmark = pytest.mark.unit

NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation "
    "is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


# labels/selector_test.go TestSelectorParse: good strings restring to themselves minus spaces.
@pytest.mark.parametrize(
    "text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"]
)
def test_good_selectors_restring(text: str) -> None:
    assert str(labels.parse(text)) == text.replace(" ", "")


# TestSelectorParse bad strings, and TestSetSelectorParser's invalid rows.
@pytest.mark.parametrize(
    "text",
    ["x=a||y=b", "x==a==b", "!x=a", "x<a", "x,,y", ",x,y", "x nott in (y)", "a in (xyz),", "a in (xyz)b notin ()",
     "a in (xyz abc)", "a notin(", "a (", "("],
)
def test_bad_selectors(text: str) -> None:
    with pytest.raises(SelectorError):
        labels.parse(text)


def test_deterministic_parse() -> None:
    # TestDeterministicParse.
    assert str(labels.parse("x=a,a=x")) == str(labels.parse("a=x,x=a")) == "a=x,x=a"


# TestSetSelectorParser's valid rows: input -> the requirements it must produce.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\rx", [("x", "exists", ())]),
        ("this-is-a-dns.domain.com/key-with-dash", [("this-is-a-dns.domain.com/key-with-dash", "exists", ())]),
        ("this-is-another-dns.domain.com/key-with-dash in (so,what)",
         [("this-is-another-dns.domain.com/key-with-dash", "in", ("so", "what"))]),
        ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
         [("0.1.2.domain/99", "notin", ("10.10.100.1", "tick.tack.clock"))]),
        ("foo  in\t (abc)", [("foo", "in", ("abc",))]),
        ("x notin\n (abc)", [("x", "notin", ("abc",))]),
        ("x  notin\t\t\t(abc,def)", [("x", "notin", ("abc", "def"))]),
        ("x in (abc,)", [("x", "in", ("", "abc"))]),
        ("x in ()", [("x", "in", ("",))]),
        ("x notin (abc,,def),bar,z in (),w",
         [("bar", "exists", ()), ("w", "exists", ()), ("x", "notin", ("", "abc", "def")), ("z", "in", ("",))]),
        ("x=a", [("x", "=", ("a",))]),
        ("x>1", [("x", "gt", ("1",))]),
        ("x<7", [("x", "lt", ("7",))]),
        ("x=a,y!=b,z in (h,i,j)", [("x", "=", ("a",)), ("y", "!=", ("b",)), ("z", "in", ("h", "i", "j"))]),
        ("x notin ( )", [("x", "notin", ("",))]),
        ("x notin (, a)", [("x", "notin", ("", "a"))]),
        ("a ", [("a", "exists", ())]),
        ("a in (x,y,notin, z,in)", [("a", "in", ("in", "notin", "x", "y", "z"))]),
        ("a==b", [("a", "==", ("b",))]),
    ],
)
def test_set_selector_parser(text: str, expected: list[tuple[str, str, tuple[str, ...]]]) -> None:
    assert labels.parse(text).requirements == tuple(Requirement(*r) for r in expected)


# TestSelectorMatches.
@pytest.mark.parametrize(
    ("text", "have", "match"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x<1", {"x": "2"}, False),
        ("foo=bar", {"foo": "bar", "baz": "blah"}, True),
        ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
        ("foo=blah", {"foo": "bar", "baz": "blah"}, False),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
        # Beyond upstream's table: a missing key satisfies != and notin, and gt needs an integer label.
        ("env!=prod", {}, True),
        ("env notin (prod)", {"app": "web"}, True),
        ("x>1", {"x": "v2"}, False),
        ("x>1", {}, False),
        ("x in (a,b)", {"x": "b"}, True),
    ],
)
def test_selector_matches(text: str, have: dict[str, str], match: bool) -> None:
    assert labels.parse(text).matches(have) is match


# TestRequirementSelectorMatching.
@pytest.mark.parametrize(
    ("reqs", "have", "match"),
    [
        ([("x", "in", ["foo"]), ("y", "notin", ["alpha"])], {"x": "foo", "y": "baz"}, True),
        ([("x", "in", ["foo"]), ("y", "in", ["alpha"])], {"x": "foo", "y": "baz"}, False),
        ([("x", "notin", [""]), ("y", "exists", [])], {"y": ""}, True),
        ([("x", "!", []), ("y", "exists", [])], {"y": ""}, True),
        ([("x", "notin", [""]), ("y", "!", [])], {"y": ""}, False),
        ([("x", "in", [""])], {"y": "baz"}, False),
        ([("z", "gt", ["1"])], {"z": "2"}, True),
        ([("z", "gt", ["1"])], {"z": "v2"}, False),
    ],
)
def test_requirement_selector_matching(
    reqs: list[tuple[str, str, list[str]]], have: dict[str, str], match: bool
) -> None:
    selector = labels.EVERYTHING.add(*(new_requirement(*r) for r in reqs))
    assert selector.matches(have) is match


# TestRequirementConstructor.
@pytest.mark.parametrize(
    ("key", "op", "values", "ok"),
    [
        ("x", "in", None, False),
        ("x", "notin", [], False),
        ("x", "in", ["foo"], True),
        ("x", "notin", ["foo"], True),
        ("x", "exists", None, True),
        ("x", "!", None, True),
        ("1foo", "in", ["bar"], True),
        ("1234", "in", ["bar"], True),
        ("y", "gt", ["1"], True),
        ("z", "lt", ["6"], True),
        ("foo", "gt", ["bar"], False),
        ("barz", "lt", ["blah"], False),
        ("a" * 254, "exists", None, False),
    ],
)
def test_requirement_constructor(key: str, op: str, values: list[str] | None, ok: bool) -> None:
    if ok:
        assert new_requirement(key, op, values).key == key
    else:
        with pytest.raises(SelectorError):
            new_requirement(key, op, values)


# TestToString.
@pytest.mark.parametrize(
    ("reqs", "text"),
    [
        ([("x", "in", ("abc", "def")), ("y", "notin", ("jkl",)), ("z", "exists", ())],
         "x in (abc,def),y notin (jkl),z"),
        ([("x", "notin", ("abc", "def")), ("y", "!=", ("jkl",)), ("z", "!", ())], "x notin (abc,def),y!=jkl,!z"),
        ([("x", "notin", ("abc",)), ("y", "in", ("jkl", "mno")), ("z", "notin", ("",))],
         "x notin (abc),y in (jkl,mno),z notin ()"),
        ([("x", "=", ("abc",)), ("y", "==", ("jkl",)), ("z", "!=", ("a",)), ("z", "exists", ())],
         "x=abc,y==jkl,z!=a,z"),
        ([("x", "gt", ("2",)), ("y", "lt", ("8",)), ("z", "exists", ())], "x>2,y<8,z"),
        ([("x", "in", ("b", "a"))], "x in (a,b)"),
    ],
)
def test_to_string(reqs: list[tuple[str, str, tuple[str, ...]]], text: str) -> None:
    assert str(labels.Selector(tuple(Requirement(*r) for r in reqs))) == text


def test_requires_exact_match() -> None:
    # TestRequiresExactMatch.
    assert labels.parse("key in (value)").requires_exact_match("key") == "value"
    assert labels.parse("key in (value,value2)").requires_exact_match("key") is None
    assert labels.parse("key in (value,value1),key2 in (value2)").requires_exact_match("key2") == "value2"
    assert labels.parse("key==value").requires_exact_match("key") == "value"
    assert labels.parse("key!=value").requires_exact_match("key") is None
    assert labels.parse("app=web").requires_exact_match("tier") is None


def test_empty_and_keys() -> None:
    assert labels.parse("").empty
    assert labels.EVERYTHING.matches({"anything": "goes"})
    selector = labels.parse("b=1,a,!c,a!=2")
    assert not selector.empty
    assert selector.requirement_keys() == ("a", "b", "c")


# --- upstream's exact error texts (as quoted in kubernetes' apiserver, authorization and kubectl tests) ---


def test_parse_error_for_a_bad_key() -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse("app: nginx")
    assert str(err.value) == f'unable to parse requirement: <nil>: Invalid value: "app:": {NAME_PART_MSG}'


def test_parse_error_for_a_three_part_key() -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse("a/b/c ?=? def")
    assert str(err.value) == (
        'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name must consist of alphanumeric '
        "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
        "'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an "
        "optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x,,y", "found ',', expected: identifier after ','"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("a in (x)b", "found 'b', expected: ',' or 'end of string'"),
        ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, =, ==, !=, gt, lt"),
        ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
        ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("a in x", "unable to parse requirement: found 'x' expected: '('"),
        ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": "
                "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x=-a", f'unable to parse requirement: values[0][x]: Invalid value: "-a": {VALUE_MSG}'),
    ],
)
def test_parse_error_texts(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse(text)
    assert str(err.value) == message


def test_several_bad_values_are_bracketed() -> None:
    with pytest.raises(SelectorError) as err:
        labels.parse("x in (-a,-b)")
    assert str(err.value) == (
        f'unable to parse requirement: [values[0][x]: Invalid value: "-a": {VALUE_MSG}, '
        f'values[1][x]: Invalid value: "-b": {VALUE_MSG}]'
    )


def test_unknown_operator() -> None:
    with pytest.raises(SelectorError) as err:
        new_requirement("x", "like", ["a"])
    assert str(err.value) == (
        'operator: Unsupported value: "like": supported values: '
        '"in", "notin", "=", "==", "!=", "gt", "lt", "exists", "!"'
    )


# --- metav1.LabelSelector ---


def _ls(match_labels: dict[str, str] | None = None,
        exprs: list[tuple[str, str, list[str]]] | None = None) -> meta_pb2.LabelSelector:
    return meta_pb2.LabelSelector(
        match_labels=match_labels or {},
        match_expressions=[meta_pb2.LabelSelectorRequirement(key=k, operator=o, values=v) for k, o, v in exprs or []],
    )


def test_label_selector_conversion() -> None:
    selector = labels.from_label_selector(
        _ls({"app": "web"}, [("tier", "In", ["fe", "be"]), ("canary", "DoesNotExist", []), ("env", "NotIn", ["dev"]),
                             ("zone", "Exists", [])])
    )
    assert str(selector) == "app=web,!canary,env notin (dev),tier in (be,fe),zone"
    assert selector.matches({"app": "web", "tier": "fe", "zone": "a"})
    assert not selector.matches({"app": "web", "tier": "fe", "zone": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "fe", "zone": "a", "env": "dev"})
    assert not selector.matches({"app": "web", "tier": "fe"})


def test_empty_label_selector_matches_everything() -> None:
    selector = labels.from_label_selector(meta_pb2.LabelSelector())
    assert selector.empty
    assert selector.matches({"a": "b"})


@pytest.mark.parametrize(
    ("exprs", "message"),
    [
        # Quoted verbatim in downstream tests of LabelSelectorAsSelector.
        ([("thisns", "In", [])],
         "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"),
        ([("name", "Seriously", [])], '"Seriously" is not a valid label selector operator'),
        ([("name", "Exists", ["a"])],
         'values: Invalid value: []string{"a"}: values set must be empty for exists and does not exist'),
        ([("bad key", "Exists", [])], f'key: Invalid value: "bad key": {NAME_PART_MSG}'),
    ],
)
def test_label_selector_errors(exprs: list[tuple[str, str, list[str]]], message: str) -> None:
    with pytest.raises(SelectorError) as err:
        labels.from_label_selector(_ls(exprs=exprs))
    assert str(err.value) == message


def test_match_labels_value_error() -> None:
    with pytest.raises(SelectorError) as err:
        labels.from_label_selector(_ls({"app": "a" * 64}))
    assert str(err.value) == (
        f'values[0][app]: Invalid value: "{"a" * 64}": must be no more than 63 characters'
    )


def test_from_map() -> None:
    selector = labels.from_map({"b": "2", "a": "1"})
    assert str(selector) == "a=1,b=2"
    assert selector.matches({"a": "1", "b": "2", "c": "3"})
    assert not selector.matches({"a": "1"})
    assert labels.from_map({}).matches({"x": "y"})


# --- key and value validation: validation_test.go TestIsQualifiedName / TestIsValidLabelValue ---

GOOD_KEYS = [
    "simple", "now-with-dashes", "1-starts-with-num", "1234", "simple/simple", "now-with-dashes/simple",
    "now-with-dashes/now-with-dashes", "now.with.dots/simple", "now-with.dashes-and.dots/simple", "1-num.2-num/3-num",
    "1234/5678", "1.2.3.4/5678", "Uppercase_Is_OK_123", "example.com/Uppercase_Is_OK_123", "requests.storage-foo",
    "a" * 63, "a" * 253 + "/" + "b" * 63,
]
BAD_KEYS = [
    "nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash-", "only/one/slash", "Example.com/abc",
    "example_com/abc", "example.com/", "/simple", "a" * 64, "a" * 254 + "/abc",
]


@pytest.mark.parametrize("key", GOOD_KEYS)
def test_good_label_keys(key: str) -> None:
    assert labels.validate_label_key(key) == []


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_label_keys(key: str) -> None:
    assert labels.validate_label_key(key) != []


def test_label_key_messages() -> None:
    assert labels.validate_label_key("a" * 64) == ["name part must be no more than 63 characters"]
    assert labels.validate_label_key("/simple") == ["prefix part must be non-empty"]
    assert labels.validate_label_key("example.com/") == ["name part must be non-empty", NAME_PART_MSG]
    assert labels.validate_label_key("Example.com/abc")[0].startswith("prefix part a lowercase RFC 1123 subdomain")


@pytest.mark.parametrize(
    "value", ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63, ""]
)
def test_good_label_values(value: str) -> None:
    assert labels.validate_label_value(value) == []


@pytest.mark.parametrize(
    "value",
    ["nospecialchars%^=@", "Tama-nui-te-rā.is.Māori.sun", "\\backslashes\\are\\bad", "-starts-with-dash",
     "ends-with-dash-", ".starts.with.dot", "ends.with.dot.", "a" * 64],
)
def test_bad_label_values(value: str) -> None:
    assert labels.validate_label_value(value) != []


def test_label_value_messages() -> None:
    assert labels.validate_label_value("-x") == [VALUE_MSG]
    assert labels.validate_label_value("a" * 64) == ["must be no more than 63 characters"]


def test_go_quote() -> None:
    assert labels.go_quote('a"b\\c\n\x01\x7f é\u200b') == '"a\\"b\\\\c\\n\\x01\\x7f é\\u200b"'


# --- properties ---

_NAME = st.from_regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?", fullmatch=True)
_PREFIX = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?(\.[a-z0-9]{1,5}){0,2}", fullmatch=True)
_KEY = st.one_of(_NAME, st.builds(lambda p, n: f"{p}/{n}", _PREFIX, _NAME))
_VALUE = st.one_of(st.just(""), _NAME)
_INT = st.integers(min_value=0, max_value=10**6).map(str)


@st.composite
def _requirement(draw: st.DrawFn) -> Requirement:
    key = draw(_KEY)
    op = draw(st.sampled_from(["=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"]))
    if op in ("exists", "!"):
        values: list[str] = []
    elif op in ("gt", "lt"):
        values = [draw(_INT)]
    elif op in ("in", "notin"):
        values = sorted(draw(st.sets(_VALUE, min_size=1, max_size=4)))
    else:
        values = [draw(_VALUE)]
    return new_requirement(key, op, values)


_SELECTOR = st.lists(_requirement(), max_size=5).map(lambda reqs: labels.EVERYTHING.add(*reqs))


@st.composite
def _labels_for(draw: st.DrawFn, selector: labels.Selector) -> dict[str, str]:
    # Mostly the selector's own keys, so matches are not all vacuous misses.
    keys = draw(st.lists(st.one_of(st.sampled_from([*selector.requirement_keys(), "other"]), _KEY), max_size=6))
    return {k: draw(st.one_of(_VALUE, _INT)) for k in keys}


@given(_SELECTOR, st.data())
def test_selector_string_round_trips(selector: labels.Selector, data: st.DataObject) -> None:
    reparsed = labels.parse(str(selector))
    assert str(reparsed) == str(selector)
    assert reparsed == selector
    for _ in range(5):
        have = data.draw(_labels_for(selector))
        assert reparsed.matches(have) == selector.matches(have)


@given(st.dictionaries(_KEY, _VALUE, max_size=5))
def test_from_map_matches_its_own_labels(have: dict[str, str]) -> None:
    selector = labels.from_map(have)
    assert selector.matches(have)
    assert labels.parse(str(selector)) == selector
