"""Login sessions and their rotating refresh tokens (ADR-0034, ADR-0035). Below
``users``: the principal checks a session in the same query as its user."""
