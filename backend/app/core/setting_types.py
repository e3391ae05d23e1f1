"""How the environment's text becomes a setting's value, and which values are refused.

The reusable field types of :class:`app.core.settings.Settings` (ADR-0011): each is an
``Annotated`` type whose validators parse the variable (``a,b`` lists, plain
database URLs) and refuse values that would fail silently later (a ``TRUSTED_HOSTS``
entry no ``Host`` can match, a CORS origin with a path). Pure: no configuration is read.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

#: A CORS origin: scheme, host and optional port; no path, no trailing slash.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
#: A ``TRUSTED_HOSTS`` entry: ``*``, a DNS name or IPv4 address (optionally ``*.`` in front),
#: or a bracketed IPv6 address. No scheme, port or path: the ``Host`` header's port is
#: ignored when matching, so such an entry could never match and would refuse everything.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
_HOST_PATTERN = re.compile(rf"\*|(?:\*\.)?{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\]")
_ASYNC_DRIVERS = (
    ("postgres://", "postgresql+asyncpg://"),
    ("postgresql://", "postgresql+asyncpg://"),
    ("sqlite://", "sqlite+aiosqlite://"),
)


def async_driver(value: str) -> str:
    """Map plain ``postgresql://`` / ``postgres://`` / ``sqlite://`` URLs to async drivers."""
    for prefix, driver in _ASYNC_DRIVERS:
        if value.startswith(prefix):
            return driver + value[len(prefix) :]
    return value


def http_url_without_slash(value: str) -> str:
    """An ``http(s)://`` URL without a trailing slash (links append paths)."""
    if not re.fullmatch(r"https?://[^\s?#]+", value):
        raise ValueError(f"FRONTEND_URL {value!r} is not an http(s) URL")
    return value.rstrip("/")


def comma_list(value: Any) -> Any:
    """``a,b`` (or a JSON list) in the environment -> ``["a", "b"]``."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


def proxy_networks(value: list[str]) -> list[str]:
    """Every entry an IP address or CIDR network."""
    for item in value:
        ipaddress.ip_network(item, strict=False)  # ValueError -> a clear settings error
    return value


def host_patterns(value: list[str]) -> list[str]:
    """Refuse entries no ``Host`` header could match: a silent outage otherwise."""
    for host in value:
        if not _HOST_PATTERN.fullmatch(host):
            raise ValueError(
                f"TRUSTED_HOSTS entry {host!r} can never match a Host header: use a "
                "name or address without scheme, port or path (api.example.com, "
                "10.0.0.7, [::1]), a leading wildcard (*.example.com), or * for any host"
            )
    return value


def exact_origins(value: list[str]) -> list[str]:
    """Only ``scheme://host[:port]`` origins (or ``*``); never ``null`` (H2)."""
    for origin in value:
        if origin == "*":
            continue
        if origin.lower() == "null" or not _ORIGIN.fullmatch(origin):
            raise ValueError(
                f"CORS_ORIGINS entry {origin!r} is not an origin like https://app.example.com"
            )
    return value


#: An async SQLAlchemy URL; plain ``postgresql://`` and ``sqlite://`` are accepted.
DatabaseUrl = Annotated[str, AfterValidator(async_driver)]
#: ``http(s)://host[/path]``, stored without a trailing slash.
BaseUrl = Annotated[str, AfterValidator(http_url_without_slash)]
#: IPs/CIDRs, comma-separated.
ProxyList = Annotated[
    list[str], NoDecode, BeforeValidator(comma_list), AfterValidator(proxy_networks)
]
#: ``Host`` patterns, comma-separated.
HostList = Annotated[
    list[str], NoDecode, BeforeValidator(comma_list), AfterValidator(host_patterns)
]
#: Exact origins, comma-separated.
OriginList = Annotated[
    list[str], NoDecode, BeforeValidator(comma_list), AfterValidator(exact_origins)
]
