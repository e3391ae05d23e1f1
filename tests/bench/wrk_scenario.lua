-- wrk script for tests/bench/run.py. Configured through the environment:
--   BENCH_BODY    none | signup | login
--   BENCH_PREFIX  unique prefix for sign-up emails (one run never repeats an email)
--   BENCH_PASSWORD password for sign-ups; BENCH_LOGIN_BODY the urlencoded login form
-- done() prints one line "BENCH_JSON {...}" that run.py parses.
local kind = os.getenv("BENCH_BODY") or "none"
local prefix = os.getenv("BENCH_PREFIX") or "bench"
local password = os.getenv("BENCH_PASSWORD") or ""
local login_body = os.getenv("BENCH_LOGIN_BODY") or ""
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
end

local counter = 0
if kind == "signup" then
  request = function()
    counter = counter + 1
    local body = string.format('{"email":"%s-%d-%d@example.com","password":"%s"}',
      prefix, tid or 0, counter, password)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
  end
elseif kind == "login" then
  request = function()
    return wrk.format("POST", nil,
      {["Content-Type"] = "application/x-www-form-urlencoded"}, login_body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":%d,"status_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
