"""Background jobs: one retry policy, an arq queue on Redis and an in-process fallback
(ADR-0036)."""
