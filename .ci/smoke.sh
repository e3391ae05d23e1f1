#!/usr/bin/env bash
# Serve the app with uvicorn against DATABASE_URL / REDIS_URL and check readiness:
# ok with both up; 503 naming db with an unreachable database; 200 degraded naming
# redis with an unreachable Redis. Stops every server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

serve() {  # serve PORT [ENV=VALUE...]
  local port=$1; shift
  env "$@" "$BIN/uvicorn" app.main:app --host 127.0.0.1 --port "$port" --no-access-log >"var/smoke-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "server on $port did not start"; cat "var/smoke-$port.log"; return 1
}

expect() {  # expect PORT PATH STATUS BODY
  local out status body
  out=$(curl -s -m 5 -w '\n%{http_code}' "http://127.0.0.1:$1$2")
  status=${out##*$'\n'}; body=${out%$'\n'*}
  if [[ $status != "$3" || $body != "$4" ]]; then
    echo "FAIL $2 on :$1: got $status $body, expected $3 $4"; return 1
  fi
  echo "ok   $2 -> $status $body"
}

"$BIN/python" -m app migrate

p=$(free_port); serve "$p"
expect "$p" /health 200 '{"status":"ok"}'
expect "$p" /api/v1/health/ready 200 '{"status":"ok","checks":{"db":"ok","redis":"ok"}}'

p=$(free_port); serve "$p" DATABASE_URL=postgresql://postgres@127.0.0.1:9/none
start=$(date +%s%N)
expect "$p" /api/v1/health/ready 503 '{"status":"error","checks":{"db":"error","redis":"ok"}}'
echo "     unreachable database answered in $(( ($(date +%s%N) - start) / 1000000 )) ms"

p=$(free_port); serve "$p" REDIS_URL=redis://127.0.0.1:9/0
expect "$p" /api/v1/health/ready 200 '{"status":"degraded","checks":{"db":"ok","redis":"error"}}'
echo "smoke: all passed"
