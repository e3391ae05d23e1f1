# syntax=docker/dockerfile:1
# Production image for the API (ADR-0029). Two stages:
#   builder  installs the runtime dependencies into a virtualenv (/opt/venv);
#   runtime  python:3.11-slim + that venv + the source; non-root, no compilers, no pip cache.
# Every dependency ships manylinux wheels, so neither stage needs apt or a C toolchain.
# Build: docker build -t fastapi-reference .      Validate offline: make validate (hadolint)

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder ---------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /build
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# Dependencies first (their own layer, rebuilt only when pyproject.toml changes).
# The version ranges live in pyproject.toml's [project].dependencies, read here with tomllib,
# plus the optional extras named in EXTRAS (comma-separated), e.g. --build-arg EXTRAS=otel.
ARG EXTRAS=""
COPY pyproject.toml ./
RUN python -c "import os, tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; extras = [e for e in os.environ['EXTRAS'].split(',') if e]; print('\n'.join(p['dependencies'] + [d for e in extras for d in p['optional-dependencies'][e]]))" > requirements.txt \
 && pip install --no-cache-dir -r requirements.txt

# --- runtime ---------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="fastapi-reference-backend" \
      org.opencontainers.image.description="Documentation-first FastAPI reference backend" \
      org.opencontainers.image.licenses="MIT"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app/backend \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENV=prod \
    MAIL_BACKEND=smtp \
    LOG_JSON=true \
    FORWARDED_ALLOW_IPS=127.0.0.1
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The source (app package + Alembic migrations) is owned by root and read-only for the app user.
COPY backend/app ./backend/app
COPY backend/migrations ./backend/migrations
# var/ is the only writable path (the SQLite default for a quick `docker run`; use PostgreSQL in prod).
RUN mkdir -p /app/var && chown app:app /app/var
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/live', timeout=2)"]
# sh -c so FORWARDED_ALLOW_IPS expands; exec so uvicorn is PID 1 and receives SIGTERM.
# The graceful timeout (20 s) must stay below the orchestrator's grace period (k8s: 30 s).
CMD ["sh", "-c", "exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers --forwarded-allow-ips=\"${FORWARDED_ALLOW_IPS}\" --timeout-graceful-shutdown 20 --no-access-log --no-server-header"]
