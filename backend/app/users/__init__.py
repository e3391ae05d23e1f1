"""Users: model, schemas, repository, service and routes (SPEC §3.2, ADR-0031)."""
