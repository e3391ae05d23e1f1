"""Metrics (Prometheus / log) and FastAPI's native OpenTelemetry switch."""
