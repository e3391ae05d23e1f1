"""What a new password must satisfy (SECURITY P1, P2, P5, P6; ADR-0017).

Length only, counted in characters: at least :data:`MIN_LENGTH`, at most
:data:`MAX_LENGTH`; any Unicode, spaces included, no composition rules (NIST
SP 800-63B). Passwords found in the shipped list of common passwords
(``common_passwords.txt``, compared case-insensitively) are refused.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

MIN_LENGTH = 8
#: Generous for passphrases, small enough that hashing cost stays bounded (R2).
MAX_LENGTH = 128

_LIST = Path(__file__).with_name("common_passwords.txt")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (lines starting with ``#`` are comments)."""
    lines = _LIST.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def is_common(password: str) -> bool:
    """True if ``password`` (case-insensitively) is on the common-passwords list."""
    return password.lower() in common_passwords()


def check_new_password(password: str) -> str:
    """Return ``password`` unchanged or raise ``ValueError`` naming the broken rule.

    Pydantic turns the ``ValueError`` into a 422 (the message never echoes the input).
    """
    if is_common(password):
        raise ValueError("this password is too common; choose another one")
    return password
