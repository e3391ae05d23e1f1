"""Authentication: the login flow, the password change and their throttled attempts
(ADR-0018, ADR-0019). The principal (``CurrentUser``) lives in ``app.users``."""
