"""Authentication of HTTP requests by bearer token, from kube-apiserver's static token file (`--token-auth-file`:
CSV lines `token,user,uid,"group1,group2"`); a request without a valid token is answered 401."""

from __future__ import annotations

import csv
import hmac
from dataclasses import dataclass
from pathlib import Path

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
"""What an anonymous request may read: kube-apiserver's default RBAC binds these to system:unauthenticated
(system:public-info-viewer), so probes need no token. A request that sends a wrong token is refused even here."""


@dataclass(frozen=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]


class TokenFileError(ValueError):
    pass


def read_token_file(path: str | Path) -> dict[str, User]:
    """The tokens of a static token file, as kube-apiserver's tokenfile authenticator reads it: at least three
    columns (token, user name, uid), an optional fourth of comma-separated groups; blank and `#` lines skipped."""
    tokens: dict[str, User] = {}
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if not row or (len(row) == 1 and not row[0].strip()) or row[0].startswith("#"):
                continue
            if len(row) < 3:
                raise TokenFileError(f"token file '{path}' must have at least 3 columns (token, user name, user uid), "
                                     f"found {len(row)}")
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0]] = User(row[1], row[2], groups)
    return tokens


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, User]) -> None:
        self.tokens = tokens

    def authenticate(self, authorization: str | None) -> User | None:
        """The user a `Authorization: Bearer <token>` header names, or None."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):  # no timing oracle on the token
                return user
        return None
