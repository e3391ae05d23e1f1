#!/usr/bin/env bash
# A guided tour of the API with curl (docs/reference/api.md), printing every request and response:
#   sign up -> log in -> who am I -> read another user (403) -> rate-limit headers
#   -> provoke and read error envelopes (409, 422, 401) -> change the password (old
#   tokens stop working) -> verify the address and reset the password with the mailed
#   links (read from $MAIL_LOG, the server output where MAIL_BACKEND=console prints mail).
# Usage: examples/walkthrough.sh [BASE_URL]      (default: $BASE_URL or http://127.0.0.1:8000)
# Needs curl and python3 (for reading JSON). Exits non-zero as soon as a step does not
# answer as documented, so `make examples` and CI catch an example that rotted.
set -euo pipefail

BASE_URL=${1:-${BASE_URL:-http://127.0.0.1:8000}}
API="${BASE_URL%/}/api/v1"
# Unique addresses, so the tour can run many times against the same database.
RUN_ID="$(date +%s)-$RANDOM"
ALICE="alice-$RUN_ID@example.com"
BOB="bob-$RUN_ID@example.com"
PASSWORD='correct horse battery staple 42'  # pragma: allowlist secret - example only
NEW_PASSWORD='another horse battery staple 43'  # pragma: allowlist secret - example only

STATUS=''   # status code of the last call
BODY=''     # body of the last call
HEADERS=''  # response headers of the last call

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf '\033[31mFAIL: %s\033[0m\n' "$*" >&2; exit 1; }

# json FIELD.PATH: read a field of $BODY (e.g. `json error.code`).
json() {
  BODY_JSON=$BODY python3 -c '
import json, os, sys
value = json.loads(os.environ["BODY_JSON"])
for key in sys.argv[1].split("."):
    value = value[key]
print(value)' "$1"
}

# header NAME: a header of the last response (case-insensitive), empty if absent.
header() { printf '%s\n' "$HEADERS" | tr -d '\r' | awk -v n="$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" -F': ' 'tolower($1) == n { print $2 }'; }

# call EXPECTED METHOD PATH [curl args...]: one request; fails unless the status is EXPECTED.
call() {
  local expected=$1 method=$2 path=$3 headers_file
  shift 3
  headers_file=$(mktemp)
  printf '> %s %s\n' "$method" "$path"
  BODY=$(curl -sS -m 10 -X "$method" -D "$headers_file" -w '\n%{http_code}' "$@" "$API$path")
  STATUS=${BODY##*$'\n'}
  BODY=${BODY%$'\n'*}
  HEADERS=$(cat "$headers_file")
  rm -f "$headers_file"
  # Shorten tokens in what we print (the full value stays in $BODY).
  printf '< %s %s\n' "$STATUS" "$(printf '%s' "$BODY" | sed -E 's/("access_token":"[^"]{16})[^"]*/\1.../')"
  [[ $STATUS == "$expected" ]] || fail "$method $path answered $STATUS, expected $expected"
}

step "0. Is the service ready?  GET /api/v1/health/ready"
call 200 GET /health/ready

step "1. Sign up two users  POST /api/v1/users (JSON)"
call 201 POST /users -H 'Content-Type: application/json' \
  --data "{\"email\": \"$ALICE\", \"password\": \"$PASSWORD\"}"
ALICE_ID=$(json id)
call 201 POST /users -H 'Content-Type: application/json' \
  --data "{\"email\": \"$BOB\", \"password\": \"$PASSWORD\"}"
BOB_ID=$(json id)
echo "alice is $ALICE_ID, bob is $BOB_ID"

step "2. Log in as alice  POST /api/v1/auth/login (OAuth2 password form, username = email)"
call 200 POST /auth/login --data-urlencode "username=$ALICE" --data-urlencode "password=$PASSWORD"
TOKEN=$(json access_token)
echo "token_type=$(json token_type) expires_in=$(json expires_in)s"
AUTH=(-H "Authorization: Bearer $TOKEN")

step "3. Who am I?  GET /api/v1/users/me"
call 200 GET /users/me "${AUTH[@]}"
[[ $(json id) == "$ALICE_ID" ]] || fail "/users/me is not alice"

step "4. Alice reads her own record, then bob's  GET /api/v1/users/{id}"
call 200 GET "/users/$ALICE_ID" "${AUTH[@]}"
call 403 GET "/users/$BOB_ID" "${AUTH[@]}"
echo "forbidden, as documented: code=$(json error.code)"

step "5. Rate-limit headers (RATE_LIMIT_ENABLED=true)"
call 200 GET /users/me "${AUTH[@]}"
if [[ -n $(header X-RateLimit-Limit) ]]; then
  for name in X-RateLimit-Limit X-RateLimit-Remaining X-RateLimit-Reset; do
    echo "$name: $(header "$name")"
  done
else
  echo "no X-RateLimit-* headers: rate limiting is off on this server (the default)"
fi

step "6. Error envelopes: every error has the same shape"
echo "-- signing up alice again (409 conflict; emails are case-insensitive)"
ALICE_UPPER=$(printf '%s' "$ALICE" | tr '[:lower:]' '[:upper:]')
call 409 POST /users -H 'Content-Type: application/json' -H 'X-Request-ID: walkthrough-409' \
  --data "{\"email\": \"$ALICE_UPPER\", \"password\": \"$PASSWORD\"}"
echo "code=$(json error.code) message=$(json error.message)"
echo "request_id=$(json error.request_id) X-Request-ID=$(header X-Request-ID)"
[[ $(json error.request_id) == "$(header X-Request-ID)" ]] || fail "request_id differs from X-Request-ID"
[[ $(json error.request_id) == walkthrough-409 ]] || fail "our X-Request-ID was not echoed"

echo "-- a body the API cannot accept (422 validation_error, details name the fields)"
call 422 POST /users -H 'Content-Type: application/json' \
  --data '{"email": "not-an-email", "password": "x", "is_superuser": true}'
echo "code=$(json error.code) details=$(json error.details)"

echo "-- no token (401 unauthorized, with WWW-Authenticate)"
call 401 GET /users/me
echo "code=$(json error.code) WWW-Authenticate: $(header WWW-Authenticate)"
[[ $(json error.code) == unauthorized ]] || fail "expected code unauthorized"

step "7. Change the password  POST /api/v1/auth/password (every earlier token is revoked)"
echo "-- with a wrong current password (403 forbidden, nothing changes)"
call 403 POST /auth/password "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data "{\"current_password\": \"not it at all\", \"new_password\": \"$NEW_PASSWORD\"}"
echo "code=$(json error.code) message=$(json error.message)"
call 204 POST /auth/password "${AUTH[@]}" -H 'Content-Type: application/json' \
  --data "{\"current_password\": \"$PASSWORD\", \"new_password\": \"$NEW_PASSWORD\"}"
echo "-- the token from step 2 is revoked (401); the new password logs in"
call 401 GET /users/me "${AUTH[@]}"
call 200 POST /auth/login --data-urlencode "username=$ALICE" --data-urlencode "password=$NEW_PASSWORD"
ACCESS=$(json access_token)
call 200 GET /users/me -H "Authorization: Bearer $ACCESS"

step "8. Verify the address  POST /api/v1/auth/verify-email (the sign-up mailed a link)"
if [[ -z ${MAIL_LOG:-} ]]; then
  echo "MAIL_LOG is not set: skipping the mail steps (make examples sets it to the server's"
  echo "output, where MAIL_BACKEND=console prints each mail; docs/jobs-and-mail.md)"
else
  mail_token() { python3 "$(dirname "$0")/mail_link.py" "$MAIL_LOG" "$1" "$2"; }
  TOKEN=$(mail_token "$ALICE" verify-email)
  echo "-- the mail to $ALICE links {FRONTEND_URL}/verify-email?token=${TOKEN:0:8}..."
  call 204 POST /auth/verify-email -H 'Content-Type: application/json' --data "{\"token\": \"$TOKEN\"}"
  call 200 GET /users/me -H "Authorization: Bearer $ACCESS"
  [[ $(json is_verified) == True ]] || fail "is_verified should be true"
  echo "-- the same link again (400 invalid_token: single use)"
  call 400 POST /auth/verify-email -H 'Content-Type: application/json' --data "{\"token\": \"$TOKEN\"}"
  echo "code=$(json error.code)"

  step "9. Reset a forgotten password  POST /api/v1/auth/password-reset, then /confirm"
  echo "-- known and unknown addresses get the same 202 (no enumeration)"
  call 202 POST /auth/password-reset -H 'Content-Type: application/json' --data "{\"email\": \"$ALICE\"}"
  KNOWN=$BODY
  call 202 POST /auth/password-reset -H 'Content-Type: application/json' \
    --data "{\"email\": \"nobody-$RUN_ID@example.com\"}"
  [[ $BODY == "$KNOWN" ]] || fail "the answers differ for a known and an unknown address"
  TOKEN=$(mail_token "$ALICE" reset-password)
  echo "-- the mail to $ALICE links {FRONTEND_URL}/reset-password?token=${TOKEN:0:8}..."
  RESET_PASSWORD='a reset horse battery staple 44'  # pragma: allowlist secret - example only
  call 204 POST /auth/password-reset/confirm -H 'Content-Type: application/json' \
    --data "{\"token\": \"$TOKEN\", \"new_password\": \"$RESET_PASSWORD\"}"
  echo "-- every session ended: the token from step 7 is 401; the reset password logs in"
  call 401 GET /users/me -H "Authorization: Bearer $ACCESS"
  call 200 POST /auth/login --data-urlencode "username=$ALICE" --data-urlencode "password=$RESET_PASSWORD"
  echo "-- the reset link again (400 invalid_token)"
  call 400 POST /auth/password-reset/confirm -H 'Content-Type: application/json' \
    --data "{\"token\": \"$TOKEN\", \"new_password\": \"yet another staple 45\"}"
  echo "code=$(json error.code)"
fi

printf '\n\033[32mwalkthrough: all steps answered as documented\033[0m\n'
