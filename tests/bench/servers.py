"""The servers a bench run measures: uvicorn processes, their environment, set-up data.

Each server is one uvicorn worker (uvloop + httptools, access log off) started and
stopped by PID; its CPU time comes from ``/proc`` (robust to a noisy machine).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app.core.settings import Settings
from tests.support.processes import free_port, uvicorn_command, wait_until_serving
from tests.support.processes import stop as stop_processes

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_PASSWORD = "bench-correct-horse-battery-7"  # pragma: allowlist secret
#: Settings the bench environment must not inherit from the caller's shell.
_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"APP_ENV_FILE"}
#: Rows of the items-list scenario (``GET /api/v1/items?limit=20``).
ITEMS_PER_USER = 20


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """One uvicorn process serving ``target``; records its startup cost."""

    def __init__(self, target: str, label: str, env: dict[str, str], log: Path) -> None:
        self.target, self.label, self.env, self.log = target, label, env, log
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid if self.process else 0

    def start(self) -> float:
        """Start uvicorn; return seconds from process start to the first 200 on /health
        (``/openapi.json`` for a server without ``/health``)."""
        command = uvicorn_command(
            self.target,
            port=self.port,
            options=[
                "--workers=1",
                "--loop=uvloop",
                "--http=httptools",
                "--no-access-log",
                "--log-level=warning",
                "--timeout-graceful-shutdown=5",
            ],
        )
        with self.log.open("ab") as log:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=log
            )
        probe = "/openapi.json" if self.target.startswith("tests.bench.reference") else "/health"
        try:
            wait_until_serving(
                f"{self.base_url}{probe}", process=self.process, timeout=60, interval=0.005
            )
        except RuntimeError as exc:
            raise RuntimeError(f"{self.target}: {exc}; see {self.log}") from exc
        return time.perf_counter() - started

    def stop(self) -> None:
        if self.process:
            stop_processes(self.process, timeout=15)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES}
    env.update(APP_ENV_FILE=os.devnull, PYTHONDONTWRITEBYTECODE="1")
    return env


def app_env(database_url: str, overrides: list[str]) -> dict[str, str]:
    """Production-like settings: JSON logs at INFO (one line per request), a strong secret,
    then the ``--set NAME=VALUE`` overrides. The full app and its reference share it."""
    env = {
        **base_env(),
        "APP_ENV": "local",
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    }
    for item in overrides:
        name, _, value = item.partition("=")
        env[name.strip().upper()] = value
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def make_user(base_url: str, email: str) -> str:
    """Sign up ``email``, log in, create :data:`ITEMS_PER_USER` items; return the token."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = client.post("/api/v1/users", json={"email": email, "password": BENCH_PASSWORD})
        if created.status_code != 201:
            raise RuntimeError(f"sign-up failed: {created.status_code} {created.text}")
        login = client.post(
            "/api/v1/auth/login", data={"username": email, "password": BENCH_PASSWORD}
        )
        if login.status_code != 200:
            raise RuntimeError(f"login failed: {login.status_code} {login.text}")
        token: str = login.json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(ITEMS_PER_USER):
            item = {"name": f"bench item {i}", "description": "a row of the items-list bench"}
            made = client.post("/api/v1/items", json=item, headers=auth)
            if made.status_code != 201:
                raise RuntimeError(f"item creation failed: {made.status_code} {made.text}")
        return token
