"""Access-token claim rules (SECURITY T1-T9, T12; ADR-0018, ADR-0034): signature, algorithm,
key headers, time claims, subject, kind, issuer/audience, ``crit``, the secret's strength,
the token version and the session id. The parser's robustness against garbage and fuzzed
input is in tests/unit/test_tokens_parsing.py; HTTP-level checks live in
tests/integration/test_auth_tokens.py."""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import jwt
import pytest

from app.core.settings import Settings
from app.credentials.tokens import (
    create_access_token,
    decode_access_claims,
    decode_access_token,
)
from tests.fixtures.tokens import (
    OTHER,
    SECRET,
    SESSION,
    USER,
    b64,
    make_claims,
    rejects,
    sign,
    token_settings,
)


def test_t9_tokens_carry_the_user_token_version() -> None:
    """SECURITY T9: ``ver`` round-trips; a token without it counts as version 0."""
    settings = token_settings()
    issued = create_access_token(USER, settings, version=3, session_id=SESSION)
    assert decode_access_claims(issued.token, settings).version == 3
    assert decode_access_claims(sign(make_claims()), settings).version == 0


@pytest.mark.parametrize("ver", [-1, "1", 1.0, True, None, [1]])
def test_t9_a_malformed_token_version_is_invalid(ver: object) -> None:
    """SECURITY T9: ``ver`` must be a non-negative integer, never coerced."""
    claims = make_claims()
    claims["ver"] = ver
    rejects(sign(claims))


def test_round_trip_and_claims() -> None:
    """Issued tokens decode to their subject and carry exp/iat/nbf/sub/type."""
    settings = token_settings()
    issued = create_access_token(USER, settings, session_id=SESSION)
    assert decode_access_token(issued.token, settings) == USER
    assert issued.expires_in == settings.jwt_access_token_expires_minutes * 60
    claims = jwt.decode(issued.token, SECRET, algorithms=["HS256"])
    assert set(claims) == {"sub", "type", "iat", "nbf", "exp", "ver", "sid", "jti"}
    assert claims["ver"] == 0
    # Two tokens issued in the same second differ (a per-token budget is per token).
    now = datetime.now(UTC)
    same_second = [
        create_access_token(USER, settings, now=now, session_id=SESSION).token for _ in range(2)
    ]
    assert same_second[0] != same_second[1]
    assert jwt.get_unverified_header(issued.token)["alg"] == "HS256"


def test_t1_token_signed_with_another_key_is_rejected() -> None:
    """SECURITY T1: the signature is verified with the configured key."""
    rejects(sign(make_claims(), key=OTHER))


def test_t2_alg_none_and_other_algorithms_are_rejected() -> None:
    """SECURITY T2: only the configured algorithm; alg=none (with/without signature), HS512."""
    body = b64({**make_claims(), "iat": 1, "nbf": 1, "exp": 9_999_999_999})
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{body}."
    with_sig = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{body}.c2lnbmF0dXJl"
    for token in (
        unsigned,
        with_sig,
        sign(make_claims(), alg="HS512"),
        sign(make_claims(), alg="HS384"),
    ):
        rejects(token)


def test_t3_key_headers_are_ignored() -> None:
    """SECURITY T3: jwk/jku/kid/x5u never choose the key: attacker-keyed tokens fail, and
    the headers on a correctly signed token change nothing."""
    attacker_jwk = {"kty": "oct", "k": base64.urlsafe_b64encode(OTHER.encode()).decode()}
    hostile = {"jwk": attacker_jwk, "jku": "https://evil.example/keys", "kid": "../../dev/null"}
    rejects(sign(make_claims(), key=OTHER, **hostile))
    assert (
        decode_access_token(sign(make_claims(), kid="whatever", x5u="https://x"), token_settings())
        == USER
    )


@pytest.mark.parametrize(
    "claims",
    [
        make_claims(exp=None),
        make_claims(exp=datetime.now(UTC) - timedelta(minutes=1)),
        make_claims(nbf=datetime.now(UTC) + timedelta(minutes=5)),
        make_claims(iat=None),
        make_claims(exp="tomorrow"),
    ],
    ids=["no-exp", "expired", "future-nbf", "no-iat", "non-numeric-exp"],
)
def test_t4_exp_required_and_time_claims_enforced(claims: dict[str, Any]) -> None:
    """SECURITY T4: exp required and enforced, nbf enforced (small leeway)."""
    rejects(sign(claims))


def test_t4_leeway_is_small() -> None:
    """SECURITY T4: a token expired 10+ seconds ago is already refused."""
    rejects(sign(make_claims(exp=datetime.now(UTC) - timedelta(seconds=11))))


@pytest.mark.parametrize(
    "sub", [None, 123, "", "not-a-uuid", ["x"]], ids=["missing", "int", "empty", "str", "list"]
)
def test_t5_sub_required_string_user_id(sub: Any) -> None:
    """SECURITY T5: sub is required and must be a string naming a user id."""
    claims = make_claims()
    claims.pop("sub")
    if sub is not None:
        claims["sub"] = sub
    rejects(sign(claims))


@pytest.mark.parametrize("kind", ["refresh", "reset", "verify", None, ""])
def test_t6_other_token_kinds_are_rejected(kind: str | None) -> None:
    """SECURITY T6: a token whose type claim is not "access" cannot be used as one."""
    claims = make_claims()
    claims.pop("type")
    if kind is not None:
        claims["type"] = kind
    rejects(sign(claims))


def test_t6_issuer_and_audience_enforced_when_configured() -> None:
    """SECURITY T6: with JWT_ISSUER/JWT_AUDIENCE set, tokens must carry matching iss/aud."""
    settings = token_settings(jwt_issuer="https://issuer.test", jwt_audience="api")
    good = create_access_token(USER, settings, session_id=SESSION).token
    assert decode_access_token(good, settings) == USER
    rejects(sign(make_claims()), settings)  # no iss/aud
    rejects(sign(make_claims(iss="https://issuer.test", aud="other")), settings)
    rejects(sign(make_claims(iss="https://evil.test", aud="api")), settings)
    # A token for another audience is refused even where no audience is configured.
    rejects(sign(make_claims(aud="api")))


def test_t7_crit_header_rejected_and_pyjwt_recent() -> None:
    """SECURITY T7: a crit header -> rejected; PyJWT >= 2.12 (advisories)."""
    rejects(sign(make_claims(), crit=["exp"]))
    rejects(sign(make_claims(), crit=["b64"], b64=False))
    major, minor = (int(x) for x in version("PyJWT").split(".")[:2])
    assert (major, minor) >= (2, 12)


@pytest.mark.parametrize(
    "secret", ["short", "changeme", "secret", "insecure-local-development-secret-change-me"]
)
def test_t8_weak_secret_refused_outside_local_and_test(secret: str) -> None:
    """SECURITY T8: APP_ENV=prod refuses a short or placeholder JWT secret."""
    with pytest.raises(ValueError, match="JWT_SECRET_KEY"):
        Settings(_env_file=None, app_env="prod", jwt_secret_key=secret)
    accepted = Settings(_env_file=None, app_env="prod", jwt_secret_key=SECRET, mail_backend="smtp")
    assert accepted.app_env == "prod"


@pytest.mark.parametrize("sid", [None, "", "not-a-uuid", 7, str(USER)[:-1]])
def test_t12_access_tokens_name_their_session(sid: object) -> None:
    """SECURITY T12: an access token carries ``sid``, its session's id, and one without a
    well-formed ``sid`` is invalid (a token the server could not tie to a session could
    never be logged out)."""
    settings = token_settings()
    issued = create_access_token(USER, settings, session_id=SESSION)
    assert decode_access_claims(issued.token, settings).session_id == SESSION
    claims = make_claims()
    if sid is None:
        claims.pop("sid")
    else:
        claims["sid"] = sid
    rejects(sign(claims))


@pytest.mark.parametrize(("claim", "seconds"), [("exp", -5), ("nbf", 5)])
def test_t4_a_few_seconds_of_clock_skew_are_tolerated(claim: str, seconds: int) -> None:
    """SECURITY T4: the leeway is small but real: a token a few seconds past ``exp`` (or
    before ``nbf``), as a client or server clock a little off produces, is still valid."""
    skewed = make_claims(**{claim: datetime.now(UTC) + timedelta(seconds=seconds)})
    assert decode_access_token(sign(skewed), token_settings()) == USER


def test_issued_tokens_declare_their_type_and_carry_an_unguessable_id() -> None:
    """The header says what the token is (``typ: JWT``, RFC 7519 §5.1) and ``jti`` has at
    least 128 bits of randomness (22 URL-safe characters), so two tokens never collide."""
    issued = create_access_token(USER, token_settings(), session_id=SESSION).token
    assert jwt.get_unverified_header(issued) == {"alg": "HS256", "typ": "JWT"}
    jti = jwt.decode(issued, SECRET, algorithms=["HS256"])["jti"]
    assert len(jti) >= 22
    assert set(jti) <= set(string.ascii_letters + string.digits + "-_")
