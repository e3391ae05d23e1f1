"""Load generators for the benchmark: wrk when installed, else a bounded asyncio one.

Both take a :class:`Scenario` and return a :class:`Result` (requests/s, p50, p99,
errors). A scenario runs for a fixed duration at a fixed number of keep-alive
connections, each sending its next request as soon as the previous answer
arrived (closed loop, like wrk), or, with ``rate`` set, at a fixed pace (open loop,
asyncio only): the latency probe, which must not itself saturate the server.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

WRK_SCRIPT = Path(__file__).with_name("wrk_scenario.lua")


@dataclass(frozen=True)
class Scenario:
    """One measured load: ``body`` is ``none``, ``signup`` (unique email each) or ``login``."""

    name: str
    base_url: str
    path: str
    connections: int
    duration: float
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "none"
    password: str = ""
    login_email: str = ""
    prefix: str = "bench"
    #: Requests/s per connection; 0 = closed loop (next request as soon as an answer came).
    rate: float = 0.0


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def login_form(scenario: Scenario) -> str:
    return urllib.parse.urlencode({"username": scenario.login_email, "password": scenario.password})


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    text = (out.stdout or out.stderr).strip()
    return text.split(" Copyright")[0].strip() if text else "wrk"


# --- wrk ------------------------------------------------------------------------


def start_wrk(scenario: Scenario, threads: int) -> subprocess.Popen[str]:
    """Start wrk for ``scenario`` (it runs ``duration`` seconds and exits)."""
    command = [
        "wrk",
        f"-t{min(threads, scenario.connections)}",
        f"-c{scenario.connections}",
        f"-d{max(1, round(scenario.duration))}s",
        "--timeout=30s",
        "-s",
        str(WRK_SCRIPT),
    ]
    for name, value in scenario.headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(scenario.base_url + scenario.path)
    env = {
        **os.environ,
        "BENCH_BODY": scenario.body,
        "BENCH_PREFIX": scenario.prefix,
        "BENCH_PASSWORD": scenario.password,
        "BENCH_LOGIN_BODY": login_form(scenario),
    }
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish_wrk(process: subprocess.Popen[str], scenario: Scenario) -> Result:
    stdout, stderr = process.communicate(timeout=scenario.duration + 60)
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            return Result(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                errors=data["errors"],
            )
    raise RuntimeError(f"wrk gave no result for {scenario.name}: {stdout}\n{stderr}")


# --- asyncio fallback -----------------------------------------------------------


def _request_bytes(scenario: Scenario, counter: int, conn_id: int) -> bytes:
    parsed = urllib.parse.urlsplit(scenario.base_url)
    headers = {"Host": parsed.netloc, **scenario.headers}
    body = b""
    if scenario.body == "signup":
        email = f"{scenario.prefix}-{conn_id}-{counter}@example.com"
        body = json.dumps({"email": email, "password": scenario.password}).encode()
        headers["Content-Type"] = "application/json"
    elif scenario.body == "login":
        body = login_form(scenario).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    method = "POST" if scenario.body != "none" else scenario.method
    if body or method == "POST":
        headers["Content-Length"] = str(len(body))
    head = f"{method} {scenario.path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    return head.encode() + b"\r\n" + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _connection(
    scenario: Scenario, conn_id: int, deadline: float, latencies: list[float], errors: list[int]
) -> None:
    """One keep-alive connection. Closed loop: the next request goes as soon as an answer
    came, latency from the send. Paced (``scenario.rate``): requests go on a fixed
    schedule and latency counts from the *scheduled* send time, so a stalled server is
    charged for every request it delayed (no coordinated omission)."""
    parsed = urllib.parse.urlsplit(scenario.base_url)
    reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
    interval = 1 / scenario.rate if scenario.rate else 0.0
    first = time.perf_counter()
    counter = 0
    try:
        while True:
            now = time.perf_counter()
            due = first + counter * interval if interval else now
            if due >= deadline:
                return
            if due > now:
                await asyncio.sleep(due - now)
            counter += 1
            payload = _request_bytes(scenario, counter, conn_id)
            sent = due if interval else time.perf_counter()
            writer.write(payload)
            try:
                status = await asyncio.wait_for(_read_response(reader), timeout=30)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                errors.append(1)
                return
            latencies.append(time.perf_counter() - sent)
            if not 200 <= status < 400:
                errors.append(1)
    finally:
        writer.close()


async def run_python(scenario: Scenario) -> Result:
    """Drive ``scenario`` from this process's event loop (bounded by ``duration`` + 30 s)."""
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + scenario.duration
    await asyncio.gather(
        *(
            _connection(scenario, i, deadline, latencies, errors)
            for i in range(scenario.connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return Result(len(latencies), elapsed, pct(50), pct(99), len(errors))


# --- one API for both -----------------------------------------------------------


async def run_together(scenarios: list[Scenario], tool: str, threads: int) -> list[Result]:
    """Run ``scenarios`` at the same time (e.g. a probe during a burst). Paced scenarios
    always use the asyncio generator (wrk cannot pace)."""
    processes = {
        i: start_wrk(s, threads) for i, s in enumerate(scenarios) if tool == "wrk" and not s.rate
    }

    async def one(i: int, scenario: Scenario) -> Result:
        if i in processes:
            return await asyncio.to_thread(finish_wrk, processes[i], scenario)
        return await run_python(scenario)

    return list(await asyncio.gather(*(one(i, s) for i, s in enumerate(scenarios))))


async def run_one(scenario: Scenario, tool: str, threads: int) -> Result:
    return (await run_together([scenario], tool, threads))[0]
