"""Object name validation and generateName, against upstream's own cases and messages."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubemu.api import names

pytestmark = pytest.mark.unit

LABEL_REGEX_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_REGEX_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

# Cases from staging/src/k8s.io/apimachinery/pkg/util/validation/validation_test.go, TestIsDNS1123Label.
GOOD_LABELS = ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a" * 63]
BAD_LABELS = [
    "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1",
    "1_2", ".", "a.", ".a", "a.b", "1.", ".1", "1.2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "a" * 64,
]
# TestIsDNS1123Subdomain.
GOOD_SUBDOMAINS = [
    "a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2", "a.a", "ab.a",
    "abc.a", "a1.a", "a-1.a", "a--1--2--b.a", "a.1", "ab.1", "abc.1", "a1.1", "a-1.1", "a--1--2--b.1", "0.a",
    "01.a", "012.a", "1a.a", "1-a.a", "1--a--b--2", "0.1", "01.1", "012.1", "1a.1", "1-a.1", "1--a--b--2.1",
    "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "11.22.33.44.55", "a" * 253,
]
BAD_SUBDOMAINS = [
    "", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a", "a_b", "1_", "_1",
    "1_2", ".", "a.", ".a", "a..b", "1.", ".1", "1..2", " ", "a ", " a", "a b", "1 ", " 1", "1 2", "A.a", "aB.a",
    "ab.A", "A1.a", "a1.A", "A.1", "aB.1", "A1.1", "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A", "A.B.C.D.E",
    "AA.BB.CC.DD.EE", "a.B.c.d.e", "aa.bB.cc.dd.ee", "a@b", "a,b", "a_b", "a;b", "a:b", "a%b", "a?b", "a$b",
    "a" * 254,
]


@pytest.mark.parametrize("name", GOOD_LABELS)
def test_good_dns1123_labels(name: str) -> None:
    assert names.validate_dns1123_label(name) == []


@pytest.mark.parametrize("name", BAD_LABELS)
def test_bad_dns1123_labels(name: str) -> None:
    assert names.validate_dns1123_label(name) != []


@pytest.mark.parametrize("name", GOOD_SUBDOMAINS)
def test_good_dns1123_subdomains(name: str) -> None:
    assert names.validate_dns1123_subdomain(name) == []


@pytest.mark.parametrize("name", BAD_SUBDOMAINS)
def test_bad_dns1123_subdomains(name: str) -> None:
    assert names.validate_dns1123_subdomain(name) != []


def test_label_messages_are_upstreams() -> None:
    assert names.validate_dns1123_label("Web") == [LABEL_REGEX_MSG]
    # A dotted name is a fine subdomain, so upstream names the one thing wrong with it as a label.
    assert names.validate_dns1123_label("a.b") == ["must not contain dots"]
    assert names.validate_dns1123_label("a" * 64) == ["must be no more than 63 characters"]
    assert names.validate_dns1123_label("-" * 64) == ["must be no more than 63 characters", LABEL_REGEX_MSG]


def test_subdomain_messages_are_upstreams() -> None:
    assert names.validate_dns1123_subdomain("My_Pod") == [SUBDOMAIN_REGEX_MSG]
    assert names.validate_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]


def test_trailing_newline_is_not_a_valid_name() -> None:
    # Go's `$` does not match before a final newline; a careless Python port would accept this name.
    assert names.validate_dns1123_label("web\n") == [LABEL_REGEX_MSG]
    assert names.validate_dns1123_subdomain("web\n") == [SUBDOMAIN_REGEX_MSG]


def test_lengths_count_bytes_as_go_does() -> None:
    assert names.validate_dns1123_label("é" * 32)[0] == "must be no more than 63 characters"


def test_generate_name_appends_five_upstream_characters() -> None:
    name = names.generate_name("web-")
    assert re.fullmatch(r"web-[bcdfghjklmnpqrstvwxz2456789]{5}", name)


def test_generate_name_cuts_a_long_base_to_58() -> None:
    name = names.generate_name("x" * 80)
    assert len(name) == 63
    assert name.startswith("x" * 58)
    assert names.validate_dns1123_label(name[58:]) == []


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", max_size=80))
def test_generate_name_length_and_prefix(base: str) -> None:
    name = names.generate_name(base)
    assert len(name) == min(len(base), 58) + 5
    assert name.startswith(base[:58])


def test_generated_names_differ() -> None:
    assert len({names.generate_name("a-") for _ in range(50)}) > 40
