"""Authentication: password hashing, access tokens, current-user dependencies, login
(SPEC §3.2, ADR-0017, ADR-0018, ADR-0019)."""
