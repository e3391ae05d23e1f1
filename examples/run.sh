#!/usr/bin/env bash
# Run every example against a live server started here; `make examples` and CI call it.
#   database: $DATABASE_URL if set (CI: PostgreSQL), else a fresh SQLite file in a temp dir
#   Redis:    $REDIS_URL if set (rate limits then live in Redis)
#   rate limiting is switched on (RATE_LIMIT_ENABLED=true) so the X-RateLimit-* step shows headers
#   mail: MAIL_BACKEND=console into the server log (MAIL_LOG); with REDIS_URL a worker runs too
# The server listens on a free 127.0.0.1 port, is stopped by PID, and its log is printed
# when an example fails. Exit status: non-zero if any example fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

tmp=$(mktemp -d)
pid=''
worker=''
cleanup() {
  if [[ -n $worker ]]; then kill "$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; fi
  if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
on_error() { echo "--- server log ($tmp/server.log) ---"; cat "$tmp/server.log" 2>/dev/null || true; }
trap on_error ERR

# Hermetic: no developer .env; local defaults (the built-in development JWT secret is fine here).
export APP_ENV_FILE=/dev/null APP_ENV=local LOG_LEVEL=WARNING
export DATABASE_URL=${DATABASE_URL:-sqlite+aiosqlite:///$tmp/examples.db}
export RATE_LIMIT_ENABLED=true
# Each run signs up 6 times from 127.0.0.1; with REDIS_URL the per-IP sign-up throttle
# (10 an hour by default, ADR-0028) would refuse the second run within the hour.
export SIGNUP_MAX_PER_IP=${SIGNUP_MAX_PER_IP:-1000}
# Mail: the console backend prints each message to the server's (and worker's) output;
# the examples read the reset and verification links from it (MAIL_LOG, ADR-0037).
# Every reset request of every run comes from 127.0.0.1 too: with REDIS_URL the per-IP mail
# throttle (20 an hour by default) would refuse a later run within the hour.
export MAIL_BACKEND=console MAIL_MAX_PER_ADDRESS=${MAIL_MAX_PER_ADDRESS:-100}
export MAIL_MAX_PER_IP=${MAIL_MAX_PER_IP:-1000}
export MAIL_LOG=$tmp/server.log

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE_URL=http://127.0.0.1:$port

"$PY" -m app migrate
: >"$tmp/server.log"  # both processes append (O_APPEND): neither overwrites the other's lines
"$PY" -m uvicorn app.main:app --host 127.0.0.1 --port "$port" --no-access-log >>"$tmp/server.log" 2>&1 &
pid=$!
# With Redis, jobs (the mail) wait in Redis for a worker (ADR-0036); without, the API runs them.
if [[ -n ${REDIS_URL:-} ]]; then
  "$PY" -m app worker >>"$tmp/server.log" 2>&1 &
  worker=$!
fi
for _ in $(seq 75); do
  curl -fs -m 1 "$BASE_URL/api/v1/health/live" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "server exited during start-up"; false; }
  sleep 0.2
done
curl -fs -m 2 "$BASE_URL/api/v1/health/live" >/dev/null || { echo "server did not start on $BASE_URL"; false; }
echo "examples: server on $BASE_URL (pid $pid, database ${DATABASE_URL%%:*}, redis ${REDIS_URL:-none}, worker ${worker:-none: jobs in process})"

echo; echo "### examples/walkthrough.sh"
bash examples/walkthrough.sh "$BASE_URL"
echo; echo "### examples/python_client.py"
"$PY" examples/python_client.py "$BASE_URL"
echo; echo "examples: all passed"
