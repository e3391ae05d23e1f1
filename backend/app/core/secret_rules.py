"""What counts as a production-strength secret, and how secrets are hidden when settings
are printed or logged (ADR-0011, ADR-0014). Pure functions, no configuration.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from urllib.parse import unquote_plus, urlsplit

#: The development-only default secret. Refused when ``APP_ENV=prod``.
DEFAULT_JWT_SECRET = "insecure-local-development-secret-change-me"  # noqa: S105  # nosec B105  # pragma: allowlist secret
MIN_SECRET_BYTES = 32
#: Least estimated entropy of a production secret: length x Shannon entropy of its
#: characters. ``secrets.token_hex(16)`` (128 random bits) never scored under 90 in
#: 100,000 draws; ``"changeme" * 4`` scores 88 but is refused as a repetition.
MIN_SECRET_ENTROPY_BITS = 80
#: At least this share of a secret's 3-character substrings must be distinct: a short
#: unit repeated (``"changeme" * 4``: 0.27) fails; random tokens score 0.87 or more.
MIN_DISTINCT_TRIGRAM_SHARE = 0.5
#: At most this share of neighbouring characters may share one step (``abcd...``: 0.97,
#: ``aaaa...``: 1.0); random tokens stay under 0.36.
MAX_REPEATED_STEP_SHARE = 0.5
KEY_GENERATION_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
REDACTED = "**********"
#: What replaces a credential inside a URL (SQLAlchemy's own choice for passwords).
URL_REDACTED = "***"
#: Query parameter names that carry credentials in connection URLs.
_CREDENTIAL_PARAMETER = re.compile(r"pass|pwd|secret|token|key|auth|credential", re.IGNORECASE)


def secret_weakness(secret: str) -> str | None:
    """Why ``secret`` is unfit as a production signing key, or ``None`` if it looks random
    (SECURITY T8). A rule, not a list of bad values: too short, derived from the development
    default, too little entropy, a repeated unit, or a run of equal steps (``abcd...``).
    The reason never contains the secret itself."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        return f"shorter than {MIN_SECRET_BYTES} bytes"
    if DEFAULT_JWT_SECRET in secret.strip().lower():
        return "it contains the development default"
    counts = Counter(secret)
    entropy = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    if entropy < MIN_SECRET_ENTROPY_BITS:
        return f"too little entropy (about {entropy:.0f} bits, at least {MIN_SECRET_ENTROPY_BITS})"
    trigrams = [secret[i : i + 3] for i in range(len(secret) - 2)]
    if len(set(trigrams)) < MIN_DISTINCT_TRIGRAM_SHARE * len(trigrams):
        return "a short pattern repeated"
    steps = Counter(ord(b) - ord(a) for a, b in itertools.pairwise(secret))
    if steps.most_common(1)[0][1] > MAX_REPEATED_STEP_SHARE * (len(secret) - 1):
        return "a run of characters in sequence"
    return None


def redact_url(url: str) -> str:
    """A connection URL with every credential hidden (ADR-0014): the userinfo password and
    the value of each query parameter whose name suggests a credential (``password``,
    ``sslpassword``, ``passwd``, ``pwd``, ``secret``, ``token``, ``key``, ``auth``...; any
    case, percent-encoded names too), and any fragment. A URL too malformed to tell where
    its parts are (an unencoded ``/``, ``?`` or ``#`` in a password) is hidden whole."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError when the "port" is part of a password
    except ValueError:
        return REDACTED
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.partition(':')[0]}:{URL_REDACTED}@{hostport}"
    query = "".join(_redact_parameter(piece) for piece in re.split(r"([&;])", parts.query))
    if (netloc, query, parts.fragment) == (parts.netloc, parts.query, ""):
        return url
    # Rebuilt by hand: urlunsplit drops the empty authority of "sqlite:///path".
    scheme = f"{parts.scheme}:" if parts.scheme else ""
    authority = f"//{netloc}" if url[len(scheme) :].startswith("//") else netloc
    return (
        f"{scheme}{authority}{parts.path}"
        + (f"?{query}" if parts.query else "")
        + (f"#{URL_REDACTED}" if parts.fragment else "")
    )


def _redact_parameter(piece: str) -> str:
    name, eq, _ = piece.partition("=")
    if eq and _CREDENTIAL_PARAMETER.search(unquote_plus(name)):
        return f"{name}={URL_REDACTED}"
    return piece
