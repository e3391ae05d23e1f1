"""Look-alike emails are one identity (ADR-0031; SECURITY A8, P9).

Addresses are normalised with Unicode NFKC before the uniqueness check, so the fullwidth
spelling of ``kate@example.com`` *is* ``kate@example.com`` (409, one account, the same
login); a local part that mixes scripts (Latin with a Cyrillic ``a``, U+0430) is refused
(422): it is a look-alike of another address, never a new identity. Look-alike
characters are written as escapes or built by :func:`fullwidth`, so this file reads
unambiguously.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from app.users.models import mixes_scripts, normalize_email
from tests.fixtures.auth import DEFAULT_PASSWORD

SIGNUP = "/api/v1/users"
LOGIN = "/api/v1/auth/login"


def fullwidth(ascii_text: str) -> str:
    """The fullwidth forms (U+FF01..U+FF5E) of printable ASCII letters and digits."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in ascii_text)


FULLWIDTH = fullwidth("kate") + "@example.com"
FULLWIDTH_UPPER = fullwidth("KATE") + "@" + fullwidth("example") + ".com"
CYRILLIC_A = "k\u0430te@example.com"  # Latin k, t, e and CYRILLIC SMALL LETTER A


async def _signup(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post(SIGNUP, json={"email": email, "password": DEFAULT_PASSWORD})


async def test_a8_fullwidth_lookalike_is_the_same_account(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """SECURITY A8, P9: a fullwidth spelling signs up as the plain address, and every
    later spelling (ASCII, fullwidth, fullwidth capitals) is the same account: 409 on
    sign-up, the same user on login."""
    first = await _signup(client, FULLWIDTH)
    assert first.status_code == 201, first.text
    assert first.json()["email"] == "kate@example.com"
    for spelling in ("kate@example.com", FULLWIDTH, FULLWIDTH_UPPER, "Kate@Example.com"):
        again = await _signup(client, spelling)
        assert again.status_code == 409, (spelling, again.text)
    for spelling in ("kate@example.com", FULLWIDTH_UPPER):
        login = await client.post(LOGIN, data={"username": spelling, "password": DEFAULT_PASSWORD})
        assert login.status_code == 200, (spelling, login.text)
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}
    )
    assert me.json()["id"] == first.json()["id"]


async def test_a8_ascii_first_then_fullwidth_is_409(client: httpx.AsyncClient) -> None:
    assert (await _signup(client, "kate@example.com")).status_code == 201
    assert (await _signup(client, FULLWIDTH)).status_code == 409


@pytest.mark.parametrize(
    "email",
    [
        CYRILLIC_A,
        "\u0430dmin@example.com",  # Cyrillic a (U+0430) + Latin "dmin"
        "k\u03b1te@example.com",  # Greek alpha
        "pay\u0440al@example.com",  # Cyrillic er (U+0440) for the p in paypal
    ],
)
async def test_mixed_script_local_part_is_refused(client: httpx.AsyncClient, email: str) -> None:
    """A local part mixing Latin with Cyrillic or Greek look-alikes is a 422 envelope (it
    would be a second account that reads like the first), and never echoes the address."""
    response = await _signup(client, email)
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert body["details"][0]["loc"] == ["body", "email"]
    assert "script" in body["details"][0]["msg"]
    assert email not in response.text


@pytest.mark.parametrize(
    "email",
    [
        "иван@example.com",  # one script: Cyrillic
        "αβγ@example.com",  # one script: Greek
        "josé.müller@example.com",  # Latin with diacritics
        "山田たろう@example.jp",  # Han + Hiragana: the Japanese combination UTS #39 allows
        "user-42_x@example.com",  # digits and punctuation belong to no script
    ],
)
async def test_single_script_and_allowed_combinations_are_accepted(
    client: httpx.AsyncClient, email: str
) -> None:
    response = await _signup(client, email)
    assert response.status_code == 201, response.text


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text: str) -> None:
    """The stored form is a fixed point: normalising it again changes nothing, so a
    lookup of a stored address always finds it."""
    once = normalize_email(text)
    assert normalize_email(once) == once


def test_normalisation_and_script_rule_examples() -> None:
    assert normalize_email(f"  {fullwidth('KATE')}@Example.COM ") == "kate@example.com"
    assert normalize_email("\ufb01sh@example.com") == "fish@example.com"  # the fi ligature
    assert normalize_email("ka\u0301te@example.com") == "k\u00e1te@example.com"  # composed
    assert mixes_scripts("k\u0430te")
    assert not mixes_scripts("kate")
    assert not mixes_scripts("иван")
    assert not mixes_scripts("山田たろうカタカナ")
    assert not mixes_scripts("漢字한글")  # Han + Hangul: allowed (Korean)
    assert mixes_scripts("ソウル서울")  # Katakana + Hangul: no allowed combination
