"""Rate limiting: the per-client API limit, the login and sign-up throttles."""
