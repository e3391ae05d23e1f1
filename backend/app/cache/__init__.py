"""The JSON cache in Redis (fail-open, one per cached resource)."""
