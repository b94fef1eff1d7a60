"""kube-apiserver's static token file as apiserver/authn.py reads it (upstream's tokenfile tests), and the bearer
token of an Authorization value."""

from __future__ import annotations

from pathlib import Path

import pytest
from structlog.testing import capture_logs

from apiserver.authn import TokenAuthenticator, TokenFileError, UserInfo, bearer_token

pytestmark = pytest.mark.unit


def authn(tmp_path: Path, text: str) -> TokenAuthenticator:
    path = tmp_path / "tokens.csv"
    path.write_text(text)
    return TokenAuthenticator.from_file(path)


def test_each_record_names_a_user_with_its_groups(tmp_path: Path) -> None:
    a = authn(tmp_path, 'token1,user1,uid1\ntoken2,user2,uid2\ntoken3,user3,uid3,"group1,group2"\n'
                        'token4,user4,uid4,"group2"\ntoken5,user5,uid5,group5\ntoken6,user6,uid6,group5,otherdata\n'
                        "\ntoken7,user7,uid7,,otherdata\n")
    auth = "system:authenticated"
    assert a.authenticate("token1") == UserInfo("user1", "uid1", (auth,))
    assert a.authenticate("token3") == UserInfo("user3", "uid3", ("group1", "group2", auth))
    assert a.authenticate("token4") == UserInfo("user4", "uid4", ("group2", auth))
    assert a.authenticate("token5") == UserInfo("user5", "uid5", ("group5", auth))
    assert a.authenticate("token6") == UserInfo("user6", "uid6", ("group5", auth))  # extra columns are ignored
    assert a.authenticate("token7") == UserInfo("user7", "uid7", ("", auth))  # upstream splits "" into [""]
    assert a.authenticate("token8") is None
    assert a.authenticate("") is None
    assert len(a) == 7


def test_fewer_than_three_columns_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError) as e:
        authn(tmp_path, "token1,user1,uid1\ntoken2,user2\n")
    assert str(e.value) == (f"token file '{tmp_path / 'tokens.csv'}' must have at least 3 columns (token, user "
                            "name, unique user ID), found 2")


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TokenFileError, match="cannot read token file"):
        TokenAuthenticator.from_file(tmp_path / "nope.csv")


def test_an_empty_token_is_skipped_and_a_duplicate_replaces_the_first_with_warnings(tmp_path: Path) -> None:
    with capture_logs() as logs:
        a = authn(tmp_path, ",user0,uid0\ntoken1,user1,uid1\ntoken1,user2,uid2\n")
    assert a.authenticate("token1") == UserInfo("user2", "uid2", ("system:authenticated",))
    assert len(a) == 1
    events = [(e["event"], e["message"]) for e in logs]
    path = tmp_path / "tokens.csv"
    assert events == [
        ("token_file.empty_token", f"empty token has been found in token file '{path}', record number '1'"),
        ("token_file.duplicate_token", f"duplicate token has been found in token file '{path}', record number '3'"),
    ]


@pytest.mark.parametrize(("header", "token"), [
    ("Bearer abc", "abc"),
    ("bearer abc", "abc"),
    ("BEARER abc", "abc"),
    ("Bearer abc extra", "abc"),
    ("Bearer ", None),
    ("Bearer", None),
    ("Basic abc", None),
    ("abc", None),
    ("", None),
    (None, None),
])
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token
