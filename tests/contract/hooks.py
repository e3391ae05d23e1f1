"""Schemathesis hooks: rules the JSON Schema cannot express (ADR-0021).

Loaded by ``schemathesis.toml`` (``hooks = "tests.contract.hooks"``) for ``make fuzz``
and imported by the in-process harness. Keep this file tiny: every hook here is a
place where the schema alone does not tell a client the whole truth, so each one
must be documented in the operation's description too.

* Sign-up, password change and reset confirmation refuse new passwords on the common-passwords list
  (SECURITY P6; the field's description says so). JSON Schema has no
  case-insensitive "not in this list", so without this filter
  ``positive_data_acceptance`` would report a schema-valid ``00000000`` being refused
  with 422.
* Sign-up and the e-mail change refuse addresses under special-use domains (``.test``,
  ``.local``, ...; email-validator, RFC 6761; the field's description says so). ``format: email``
  allows them. Only that rule is filtered: any other disagreement between
  ``format: email`` and the server still fails ``positive_data_acceptance``.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from email_validator import SPECIAL_USE_DOMAIN_NAMES

from app.credentials.password_policy import is_common

SIGNUP = ("POST", "/api/v1/users")
EMAIL_CHANGE = ("PATCH", "/api/v1/users/me")
PASSWORD_CHANGE = ("POST", "/api/v1/auth/password")
#: Also sets a new password under the sign-up rules (ADR-0038).
PASSWORD_RESET_CONFIRM = ("POST", "/api/v1/auth/password-reset/confirm")


def _special_use(email: str) -> bool:
    domain = email.rpartition("@")[2].rstrip(".").lower()
    return any(domain == name or domain.endswith(f".{name}") for name in SPECIAL_USE_DOMAIN_NAMES)


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Drop sign-up, password-change and e-mail-change cases that break a documented
    non-schema rule (every phase)."""
    operation = (case.operation.method.upper(), case.operation.path)
    body = case.body if isinstance(case.body, dict) else {}
    if operation in (PASSWORD_CHANGE, PASSWORD_RESET_CONFIRM):
        new = body.get("new_password")
        return not (isinstance(new, str) and is_common(new))
    if operation not in (SIGNUP, EMAIL_CHANGE):
        return True
    password, email = body.get("password"), body.get("email")
    if operation == SIGNUP and isinstance(password, str) and is_common(password):
        return False
    return not (isinstance(email, str) and _special_use(email))
