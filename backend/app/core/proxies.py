"""Which client a request comes from, believing ``X-Forwarded-For`` only from the reverse
proxies in ``TRUSTED_PROXIES`` (SECURITY R6, ADR-0024).

Rate limits, the login and sign-up throttles (and anything else keyed by client) ask one
:class:`TrustedProxies`, built once per application.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The configured proxy networks and the client-address rule that uses them."""

    def __init__(self, items: Iterable[str]) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(item, strict=False) for item in items
        )

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_ip(self, scope: Scope) -> str:
        """The client address used for limits.

        The TCP peer, unless the peer is a trusted proxy: then ``X-Forwarded-For`` is read
        from the right, skipping trusted proxies; the first untrusted, well-formed address
        is the client. A spoofed header from an untrusted peer is ignored.
        """
        client = scope.get("client")
        peer: str = client[0] if client else "unknown"
        if not self.networks or not self._trusted(peer):
            return peer
        forwarded = b",".join(v for k, v in scope["headers"] if k == b"x-forwarded-for")
        hops = [h.strip() for h in forwarded.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                return peer  # garbage in the chain: fall back to what we know
            if not self._trusted(hop):
                return hop
        return hops[0] if hops else peer
