"""Object names: the RFC 1123 label and subdomain checks and `generateName` suffixes, as upstream does them.

Messages are word for word from apimachinery's util/validation; names as apiserver/pkg/storage/names makes them.
"""

from __future__ import annotations

import re
import secrets

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_ERR_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_ERR_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_ERR_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
# fullmatch, not `^...$`: Python's `$` also matches before a trailing newline, Go's does not.
_DNS1123_LABEL_RE = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(_DNS1035_LABEL_FMT)

# utilrand.String's alphabet: no vowels (no accidental words) and no look-alikes such as 0/o, 1/l.
_RANDOM_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_RANDOM_LENGTH = 5
MAX_GENERATED_NAME_LENGTH = 63 - _RANDOM_LENGTH


def byte_len(value: str) -> int:
    """Go's `len(string)`: the length limits upstream checks count UTF-8 bytes, not characters."""
    return len(value.encode("utf-8", "surrogatepass"))


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream's RegexError, double spaces before `or` included: clients match these strings."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    msg += " (e.g. "
    for i, example in enumerate(examples):
        if i > 0:
            msg += " or "
        msg += f"'{example}', "
    return msg + f"regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def validate_dns1123_label(name: str) -> list[str]:
    """IsDNS1123Label: the problems with `name` as an RFC 1123 label, empty when it is one."""
    errs: list[str] = []
    if byte_len(name) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(name):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(name):
            # A valid subdomain that is not a valid label can only be failing on its dots.
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_ERR_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def validate_dns1123_subdomain(name: str) -> list[str]:
    """IsDNS1123Subdomain: the problems with `name` as an RFC 1123 subdomain, empty when it is one."""
    errs: list[str] = []
    if byte_len(name) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(name):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_ERR_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def validate_dns1035_label(name: str) -> list[str]:
    """IsDNS1035Label (Service names): the problems with `name`, empty when it is one."""
    errs: list[str] = []
    if byte_len(name) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(name):
        errs.append(regex_error(_DNS1035_LABEL_ERR_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def validate_path_segment_name(name: str, prefix: bool) -> list[str]:
    """ValidatePathSegmentName (RBAC names): a name that is a safe URL path segment."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def generate_name(base: str) -> str:
    """`metadata.generateName` made concrete: the prefix cut to 58 bytes plus five random characters."""
    if byte_len(base) > MAX_GENERATED_NAME_LENGTH:
        # Upstream slices bytes; a cut through a multi-byte character leaves a name validation rejects anyway.
        base = base.encode("utf-8", "surrogatepass")[:MAX_GENERATED_NAME_LENGTH].decode("utf-8", "ignore")
    return base + "".join(secrets.choice(_RANDOM_ALPHABET) for _ in range(_RANDOM_LENGTH))
