"""Access-token rules (SECURITY T1-T8, T11; ADR-0018). HTTP-level checks live in
tests/integration/test_auth_tokens.py."""

from __future__ import annotations

import base64
import contextlib
import json
import string
import uuid
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.settings import Settings
from app.credentials.tokens import (
    ACCESS_TOKEN_TYPE,
    MAX_TOKEN_LENGTH,
    InvalidToken,
    create_access_token,
    decode_access_claims,
    decode_access_token,
)

#: Random, and at least 64 bytes so the HS512 test draws no key-length warning.
SECRET = (
    "HZsfReK5IqxDEuo5VD2-uKiaOr51jGLw"  # pragma: allowlist secret
    "QnEfyO75h9fj8E9hFoRI3poGb4XwtMc3"  # pragma: allowlist secret
)
OTHER = "another-secret-that-is-also-long-enough-987654321"  # pragma: allowlist secret
USER = uuid.UUID("7f0c2c2e-6a43-4c59-9d65-3c1a1a6f2b11")
SESSION = uuid.UUID("0b9f3c1e-2d4a-4e5f-8a6b-7c8d9e0f1a2b")


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"app_env": "test", "jwt_secret_key": SECRET}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def _claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(USER),
        "type": ACCESS_TOKEN_TYPE,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(minutes=5),
        "sid": str(SESSION),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: str = SECRET, alg: str = "HS256", **headers: Any) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=headers or None)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _rejects(token: str, settings: Settings | None = None) -> None:
    with pytest.raises(InvalidToken):
        decode_access_token(token, settings or _settings())


def test_t9_tokens_carry_the_user_token_version() -> None:
    """SECURITY T9: ``ver`` round-trips; a token without it counts as version 0."""
    settings = _settings()
    issued = create_access_token(USER, settings, version=3, session_id=SESSION)
    assert decode_access_claims(issued.token, settings).version == 3
    assert decode_access_claims(_sign(_claims()), settings).version == 0


@pytest.mark.parametrize("ver", [-1, "1", 1.0, True, None, [1]])
def test_t9_a_malformed_token_version_is_invalid(ver: object) -> None:
    """SECURITY T9: ``ver`` must be a non-negative integer, never coerced."""
    claims = _claims()
    claims["ver"] = ver
    _rejects(_sign(claims))


def test_round_trip_and_claims() -> None:
    """Issued tokens decode to their subject and carry exp/iat/nbf/sub/type."""
    settings = _settings()
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
    _rejects(_sign(_claims(), key=OTHER))


def test_t2_alg_none_and_other_algorithms_are_rejected() -> None:
    """SECURITY T2: only the configured algorithm; alg=none (with/without signature), HS512."""
    body = _b64({**_claims(), "iat": 1, "nbf": 1, "exp": 9_999_999_999})
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}."
    with_sig = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{body}.c2lnbmF0dXJl"
    for token in (unsigned, with_sig, _sign(_claims(), alg="HS512"), _sign(_claims(), alg="HS384")):
        _rejects(token)


def test_t3_key_headers_are_ignored() -> None:
    """SECURITY T3: jwk/jku/kid/x5u never choose the key: attacker-keyed tokens fail, and
    the headers on a correctly signed token change nothing."""
    attacker_jwk = {"kty": "oct", "k": base64.urlsafe_b64encode(OTHER.encode()).decode()}
    hostile = {"jwk": attacker_jwk, "jku": "https://evil.example/keys", "kid": "../../dev/null"}
    _rejects(_sign(_claims(), key=OTHER, **hostile))
    assert (
        decode_access_token(_sign(_claims(), kid="whatever", x5u="https://x"), _settings()) == USER
    )


@pytest.mark.parametrize(
    "claims",
    [
        _claims(exp=None),
        _claims(exp=datetime.now(UTC) - timedelta(minutes=1)),
        _claims(nbf=datetime.now(UTC) + timedelta(minutes=5)),
        _claims(iat=None),
        _claims(exp="tomorrow"),
    ],
    ids=["no-exp", "expired", "future-nbf", "no-iat", "non-numeric-exp"],
)
def test_t4_exp_required_and_time_claims_enforced(claims: dict[str, Any]) -> None:
    """SECURITY T4: exp required and enforced, nbf enforced (small leeway)."""
    _rejects(_sign(claims))


def test_t4_leeway_is_small() -> None:
    """SECURITY T4: a token expired 10+ seconds ago is already refused."""
    _rejects(_sign(_claims(exp=datetime.now(UTC) - timedelta(seconds=11))))


@pytest.mark.parametrize(
    "sub", [None, 123, "", "not-a-uuid", ["x"]], ids=["missing", "int", "empty", "str", "list"]
)
def test_t5_sub_required_string_user_id(sub: Any) -> None:
    """SECURITY T5: sub is required and must be a string naming a user id."""
    claims = _claims()
    claims.pop("sub")
    if sub is not None:
        claims["sub"] = sub
    _rejects(_sign(claims))


@pytest.mark.parametrize("kind", ["refresh", "reset", "verify", None, ""])
def test_t6_other_token_kinds_are_rejected(kind: str | None) -> None:
    """SECURITY T6: a token whose type claim is not "access" cannot be used as one."""
    claims = _claims()
    claims.pop("type")
    if kind is not None:
        claims["type"] = kind
    _rejects(_sign(claims))


def test_t6_issuer_and_audience_enforced_when_configured() -> None:
    """SECURITY T6: with JWT_ISSUER/JWT_AUDIENCE set, tokens must carry matching iss/aud."""
    settings = _settings(jwt_issuer="https://issuer.test", jwt_audience="api")
    good = create_access_token(USER, settings, session_id=SESSION).token
    assert decode_access_token(good, settings) == USER
    _rejects(_sign(_claims()), settings)  # no iss/aud
    _rejects(_sign(_claims(iss="https://issuer.test", aud="other")), settings)
    _rejects(_sign(_claims(iss="https://evil.test", aud="api")), settings)
    # A token for another audience is refused even where no audience is configured.
    _rejects(_sign(_claims(aud="api")))


def test_t7_crit_header_rejected_and_pyjwt_recent() -> None:
    """SECURITY T7: a crit header -> rejected; PyJWT >= 2.12 (advisories)."""
    _rejects(_sign(_claims(), crit=["exp"]))
    _rejects(_sign(_claims(), crit=["b64"], b64=False))
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


GARBAGE = [
    "",
    ".",
    "..",
    "...",
    "a.b.c",
    "Bearer x",
    "eyJ",
    "eyJhbGciOiJIUzI1NiJ9",
    "eyJhbGciOiJIUzI1NiJ9..",
    f"{_b64({'alg': 'HS256'})}.{_b64({'sub': 'x'})}.",
    f"{_b64({'alg': 'HS256'})}.bm90IGpzb24.sig",
    f"{_b64([1, 2])}.{_b64({})}.sig",
    f"{_b64({'alg': None})}.{_b64({})}.sig",
    f"{_b64({'alg': 'HS256', 'crit': 5})}.{_b64({})}.sig",
    _sign(_claims(exp=10**30), key=OTHER),
    _sign(_claims(iat="yesterday")),
    _sign(_claims(nbf="x")),
    _sign(_claims(sub=str(USER) + "\x00")),
    "\x00\x01\x02",
    "🔐.🔐.🔐",
    "x" * (MAX_TOKEN_LENGTH + 1),
]


@pytest.mark.parametrize("token", GARBAGE)
def test_t11_garbage_tokens_are_invalid_not_errors(token: str) -> None:
    """SECURITY T11: the parser only ever raises InvalidToken."""
    _rejects(token)


#: Built once: the examples vary the token, never the settings (a Settings is ~3 ms).
FUZZ_SETTINGS = _settings()


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
        ).map(lambda header: f"{_b64(header)}.{_b64(_claims(iat=1, nbf=1, exp=2**31))}.sig"),
    )
)
def test_t11_fuzzed_tokens_never_raise_anything_but_invalid_token(token: str) -> None:
    """SECURITY T11: whatever the input, decode returns a user id or raises InvalidToken."""
    with contextlib.suppress(InvalidToken):
        decode_access_token(token, FUZZ_SETTINGS)


@pytest.mark.parametrize("sid", [None, "", "not-a-uuid", 7, str(USER)[:-1]])
def test_t12_access_tokens_name_their_session(sid: object) -> None:
    """SECURITY T12: an access token carries ``sid``, its session's id, and one without a
    well-formed ``sid`` is invalid (a token the server could not tie to a session could
    never be logged out)."""
    settings = _settings()
    issued = create_access_token(USER, settings, session_id=SESSION)
    assert decode_access_claims(issued.token, settings).session_id == SESSION
    claims = _claims()
    if sid is None:
        claims.pop("sid")
    else:
        claims["sid"] = sid
    _rejects(_sign(claims))


@pytest.mark.parametrize(("claim", "seconds"), [("exp", -5), ("nbf", 5)])
def test_t4_a_few_seconds_of_clock_skew_are_tolerated(claim: str, seconds: int) -> None:
    """SECURITY T4: the leeway is small but real: a token a few seconds past ``exp`` (or
    before ``nbf``), as a client or server clock a little off produces, is still valid."""
    skewed = _claims(**{claim: datetime.now(UTC) + timedelta(seconds=seconds)})
    assert decode_access_token(_sign(skewed), _settings()) == USER


def _token_of_length(length: int) -> str:
    """A valid token exactly ``length`` characters long (padded with a claim and a header)."""
    for extra in range(4):
        for pad in range(length):
            token = _sign(_claims(pad="p" * pad), **({"x": "h" * extra} if extra else {}))
            if len(token) >= length:
                if len(token) == length:
                    return token
                break
    raise AssertionError(f"no token of {length} characters")


def test_r2_a_token_of_exactly_the_maximum_length_is_accepted() -> None:
    """SECURITY R2, T11: the length bound refuses what is *over* it, not a token of exactly
    MAX_TOKEN_LENGTH characters (one more is refused before parsing)."""
    settings = _settings()
    assert decode_access_token(_token_of_length(MAX_TOKEN_LENGTH), settings) == USER
    _rejects(_token_of_length(MAX_TOKEN_LENGTH + 1), settings)


def test_issued_tokens_declare_their_type_and_carry_an_unguessable_id() -> None:
    """The header says what the token is (``typ: JWT``, RFC 7519 §5.1) and ``jti`` has at
    least 128 bits of randomness (22 URL-safe characters), so two tokens never collide."""
    issued = create_access_token(USER, _settings(), session_id=SESSION).token
    assert jwt.get_unverified_header(issued) == {"alg": "HS256", "typ": "JWT"}
    jti = jwt.decode(issued, SECRET, algorithms=["HS256"])["jti"]
    assert len(jti) >= 22
    assert set(jti) <= set(string.ascii_letters + string.digits + "-_")
