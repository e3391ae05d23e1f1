"""Opt-in hardening that fails open: Redis breaker, rate limits, login throttle, cache,
telemetry, HTTP security headers, CORS, trusted hosts, self-hosted docs (ADR-0024..0028)."""
