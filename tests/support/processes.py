"""Local server processes: free ports, uvicorn command lines, readiness waits, stopping.

Used by the tests that start real processes (``tests/deploy``, ``tests/fault``), by
``make bench`` and by ``make fuzz``. Everything listens on 127.0.0.1 only. The readiness
probe is a plain ``http.client`` request (~0.1 ms of CPU), not ``httpx.get`` (~25 ms: it
builds an SSL context per call), because it runs every few milliseconds while a server
starts, often next to other tests.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"
#: How long a test waits for a server it started to answer (seconds). Generous on purpose
#: (docs/testing.md, timing bounds): importing the app costs ~2 s of CPU, and a loaded
#: 2-core machine (parallel workers, make flaky's busy loops, three replicas starting at
#: once) stretched that past 20 s. The wait ends as soon as the server answers, or at
#: once when it exits, so only a server that hangs at startup pays the full bound.
STARTUP_TIMEOUT = 90.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


#: A port nothing listens on (for "the server is down" tests): a free port, left unbound.
closed_port = free_port


def app_server_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment for an app server a test starts: this process's environment,
    ``APP_ENV=test``, no ``.env``, warnings only, a SQLite file in ``data_dir``; then
    ``settings`` (e.g. ``REDIS_URL=...``)."""
    return {
        **os.environ,
        "APP_ENV": "test",
        "APP_ENV_FILE": os.devnull,
        "LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite+aiosqlite:///{data_dir / 'app.db'}",
        **settings,
    }


def uvicorn_command(
    target: str = "app.main:app",
    *,
    port: int,
    host: str = HOST,
    options: Sequence[str] = (),
    python: str = sys.executable,
) -> list[str]:
    """``python -m uvicorn TARGET --host=HOST --port=PORT [options]``."""
    return [python, "-m", "uvicorn", target, f"--host={host}", f"--port={port}", *options]


def http_status(url: str, timeout: float = 0.5) -> int | None:
    """The status of ``GET url`` (plain HTTP), or ``None`` when nothing answers."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/", headers={"Connection": "close"})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def wait_until_serving(
    url: str,
    *,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = STARTUP_TIMEOUT,
    interval: float = 0.05,
) -> None:
    """Poll ``GET url`` until it answers 200.

    Raises :class:`RuntimeError` when ``process`` exits first or ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {process.returncode}")
        if http_status(url) == 200:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer 200 within {timeout:g} s")
        time.sleep(interval)


def stop(
    *processes: subprocess.Popen[bytes], timeout: float = 10.0, sig: int = signal.SIGTERM
) -> None:
    """Send ``sig`` (SIGTERM) to each process still running, then wait for each; one that
    has not exited ``timeout`` seconds later is killed. Signals all first, so several
    servers shut down in parallel, and each only once (a second SIGTERM makes uvicorn
    skip its graceful shutdown)."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(sig)
    for process in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
