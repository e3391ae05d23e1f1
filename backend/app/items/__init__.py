"""Items: the example owned resource. Every query is scoped to its owner in the
repository; anyone else gets the 404 of a missing row (ADR-0033)."""
