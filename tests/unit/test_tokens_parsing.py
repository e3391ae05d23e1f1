"""The access-token parser never fails but with ``InvalidToken`` (SECURITY T11, R2;
ADR-0018): hand-made garbage, hypothesis-fuzzed tokens, and the length bound at exactly
``MAX_TOKEN_LENGTH``. The claim rules are in tests/unit/test_tokens.py."""

from __future__ import annotations

import contextlib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.credentials.tokens import (
    MAX_TOKEN_LENGTH,
    InvalidToken,
    decode_access_claims,
    decode_access_token,
)
from tests.fixtures.tokens import GARBAGE, USER, b64, make_claims, rejects, sign, token_settings


@pytest.mark.parametrize("token", GARBAGE)
def test_t11_garbage_tokens_are_invalid_not_errors(token: str) -> None:
    """SECURITY T11: the parser only ever raises InvalidToken."""
    rejects(token)


#: Built once: the examples vary the token, never the settings (a Settings is ~3 ms).
FUZZ_SETTINGS = token_settings()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=300),
        st.builds(
            lambda a, b, c: f"{a}.{b}.{c}",
            st.text(
                alphabet=string.ascii_letters + string.digits + "-_=",
                max_size=80,
            ),
            st.text(max_size=80),
            st.text(max_size=40),
        ),
        st.dictionaries(
            st.text(max_size=5),
            st.one_of(st.integers(), st.text(max_size=10), st.none()),
            max_size=5,
        ).map(lambda header: f"{b64(header)}.{b64(make_claims(iat=1, nbf=1, exp=2**31))}.sig"),
    )
)
def test_t11_fuzzed_tokens_never_raise_anything_but_invalid_token(token: str) -> None:
    """SECURITY T11: whatever the input, decode returns a user id or raises InvalidToken."""
    with contextlib.suppress(InvalidToken):
        decode_access_token(token, FUZZ_SETTINGS)


def _token_of_length(length: int) -> str:
    """A valid token exactly ``length`` characters long (padded with a claim and a header)."""
    for extra in range(4):
        for pad in range(length):
            token = sign(make_claims(pad="p" * pad), **({"x": "h" * extra} if extra else {}))
            if len(token) >= length:
                if len(token) == length:
                    return token
                break
    raise AssertionError(f"no token of {length} characters")


def test_r2_a_token_of_exactly_the_maximum_length_is_accepted() -> None:
    """SECURITY R2, T11: the length bound refuses what is *over* it, not a token of exactly
    MAX_TOKEN_LENGTH characters (one more is refused before parsing)."""
    settings = token_settings()
    assert decode_access_token(_token_of_length(MAX_TOKEN_LENGTH), settings) == USER
    rejects(_token_of_length(MAX_TOKEN_LENGTH + 1), settings)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "empty or over-long token"),
        ("a" * (MAX_TOKEN_LENGTH + 1), "empty or over-long token"),
        # PyJWT refuses a crit header itself; the parser's own check is the fallback.
        (sign(make_claims(), crit=["exp"]), "InvalidTokenError"),
        (sign(make_claims(type="refresh")), "wrong token type"),
        (sign(make_claims(sub="not-a-uuid")), "sub is not a user id"),
        (sign(make_claims(ver=-1)), "ver is not a token version"),
        (sign(make_claims(ver="1")), "ver is not a token version"),
        (sign(make_claims(sid="not-a-uuid")), "sid is not a session id"),
        (sign(make_claims(), key="x" * 48), "InvalidSignatureError"),
    ],
)
def test_each_refusal_names_its_reason(token: str, reason: str) -> None:
    """The reason is what the ``auth.token`` log line's ``detail`` tells an operator
    (the client only ever sees one 401)."""
    with pytest.raises(InvalidToken) as refused:
        decode_access_claims(token, FUZZ_SETTINGS)
    assert str(refused.value) == reason
