"""Login latency during a sign-up flood: ``python -m tests.bench.signup_flood``.

A measurement, never a test (ADR-0030). It serves the real app (uvicorn, temp SQLite,
real argon2id parameters) once per variant, signs up one user, measures a quiet login
(median of 5), then per run sends ``--flood`` concurrent sign-ups and, ``--delay`` s
later, one login for that user; it reports the login's latency and status and what the
flood got. Variants (all from one client address, so the per-IP sign-up throttle is off
except in the last one):

* ``unbounded``: ``PASSWORD_HASH_MAX_QUEUE=10000`` (the unbounded backlog of before);
* ``bounded``: the default ``PASSWORD_HASH_MAX_QUEUE``;
* ``throttled``: the defaults, sign-up throttle on (one address gets 10 sign-ups).

``--set NAME=VALUE`` adds an app setting to every variant.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.processes import (
    app_server_env,
    free_port,
    stop,
    uvicorn_command,
    wait_until_serving,
)

PASSWORD = "correct horse battery staple"  # pragma: allowlist secret
VARIANTS: dict[str, dict[str, str]] = {
    "unbounded": {"PASSWORD_HASH_MAX_QUEUE": "10000", "SIGNUP_THROTTLE_ENABLED": "false"},
    "bounded": {"SIGNUP_THROTTLE_ENABLED": "false"},
    "throttled": {},
}


async def _login(client: httpx.AsyncClient) -> tuple[float, int]:
    started = time.perf_counter()
    response = await client.post(
        "/api/v1/auth/login", data={"username": "alice@example.com", "password": PASSWORD}
    )
    return (time.perf_counter() - started) * 1000, response.status_code


async def _measure(base: str, flood: int, delay: float, runs: int) -> list[str]:
    # A fresh client per run: pooled connections left idle past uvicorn's keep-alive
    # timeout would be closed under the next flood (a read error, not a measurement).
    limits = httpx.Limits(max_connections=flood + 10, max_keepalive_connections=flood + 10)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        created = await client.post(
            "/api/v1/users", json={"email": "alice@example.com", "password": PASSWORD}
        )
        if created.status_code != 201:
            raise RuntimeError(f"set-up sign-up failed: {created.status_code} {created.text}")
        quiet = statistics.median([(await _login(client))[0] for _ in range(5)])
    lines = [f"quiet login {quiet:.0f} ms (median of 5)"]
    for run in range(runs):
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
            tasks = [
                asyncio.create_task(
                    client.post(
                        "/api/v1/users",
                        json={"email": f"flood{run}-{i}@example.com", "password": PASSWORD},
                    )
                )
                for i in range(flood)
            ]
            await asyncio.sleep(delay)
            latency, status = await _login(client)
            codes = [r.status_code for r in await asyncio.gather(*tasks)]
        counts = ", ".join(f"{codes.count(c)}x{c}" for c in sorted(set(codes)))
        lines.append(f"run {run + 1}: login {latency:.0f} ms -> {status}; flood {counts}")
    return lines


def _variant(name: str, settings: dict[str, str], args: argparse.Namespace) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="flood-") as tmp:
        env = app_server_env(Path(tmp), **settings)
        subprocess.run(
            [sys.executable, "-m", "app", "migrate"], env=env, check=True, capture_output=True
        )
        port = free_port()
        options = ["--no-access-log", "--loop=uvloop", "--http=httptools"]
        server = subprocess.Popen(
            uvicorn_command(port=port, options=options),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_serving(f"http://127.0.0.1:{port}/health", process=server, timeout=60)
            lines = asyncio.run(
                _measure(f"http://127.0.0.1:{port}", args.flood, args.delay, args.runs)
            )
        finally:
            stop(server)
    return [f"{name}: {line}" for line in lines]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.signup_flood", description=__doc__)
    parser.add_argument("--flood", type=int, default=150, help="concurrent sign-ups per run")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds before the login")
    parser.add_argument("--runs", type=int, default=3, help="floods per variant")
    parser.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.set)
    for name in args.variant or list(VARIANTS):
        for line in _variant(name, {**VARIANTS[name], **extra}, args):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
