"""HTTP security settings fail at startup, not in production traffic (ADR-0027;
SECURITY H2).

A CORS allowlist that would grant every origin with credentials, ``null`` or a
non-origin, an unparsable trusted proxy, and a ``TRUSTED_HOSTS`` entry no ``Host``
header can match are refused by ``Settings``, saying what a valid value looks like;
list settings read comma-separated or JSON from the environment. What the app does with
valid values is test_http_security.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app.core.settings import Settings


@pytest.mark.parametrize(
    "overrides",
    [
        {"cors_origins": ["*"], "cors_allow_credentials": True},
        {"cors_origins": ["null"]},
        {"cors_origins": ["https://app.example.com/path"]},
        {"cors_origins": ["app.example.com"]},
        {"trusted_proxies": ["not-a-network"]},
    ],
)
def test_h2_dangerous_settings_are_refused(overrides: dict[str, Any]) -> None:
    """SECURITY H2: `*` with credentials, `null`, and non-origins fail at startup."""
    with pytest.raises(ValidationError):
        Settings(_env_file=None, **overrides)


def test_list_settings_read_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com, http://localhost:3000")
    monkeypatch.setenv("TRUSTED_HOSTS", '["api.example.com"]')
    settings = Settings(_env_file=None)
    assert settings.cors_origins == ["https://a.example.com", "http://localhost:3000"]
    assert settings.trusted_hosts == ["api.example.com"]


@pytest.mark.parametrize(
    "entry",
    [
        "https://api.example.com",
        "api.example.com:8443",
        "api.example.com/",
        "api.*.example.com",
        "*example.com",
        "evil*",
        "::1",
        "a b.example.com",
    ],
)
def test_trusted_hosts_that_could_never_match_are_refused_at_startup(entry: str) -> None:
    """A ``TRUSTED_HOSTS`` entry that no ``Host`` header can match would silently refuse
    every request: it fails at startup instead, saying what a valid entry looks like."""
    with pytest.raises(ValidationError, match="TRUSTED_HOSTS"):
        Settings(_env_file=None, trusted_hosts=["api.example.com", entry])


def test_trusted_hosts_accept_names_wildcards_and_addresses() -> None:
    hosts = ["api.example.com", "*.internal.example.com", "localhost", "10.0.0.7", "[::1]", "*"]
    assert Settings(_env_file=None, trusted_hosts=hosts).trusted_hosts == hosts
