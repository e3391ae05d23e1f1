"""``make fuzz``: schemathesis against a live uvicorn, every check and phase (ADR-0021).

1. database: ``DATABASE_URL`` if set (e.g. PostgreSQL in CI), else a temporary SQLite
   file; migrated first. ``REDIS_URL`` is passed through when set. Nothing else is read
   from the environment or ``.env`` (the server runs with ``APP_ENV_FILE=/dev/null``);
2. starts ``uvicorn app.main:app`` on 127.0.0.1 on a free port, waits for ``/health``;
3. signs up two users (``alice``, ``bob``) through the API and an ``admin``, with fresh
   e-mails and random passwords, and writes the Web Fuzzing Commons auth document
   ``schemathesis.toml`` reads (``FUZZ_AUTH_FILE``, a private temp file);
4. runs ``schemathesis run`` (config: ``schemathesis.toml``; fixed seed, all checks,
   all phases) twice: every operation as alice (bob loaded as her peer for
   ``object_level_authorization``), then the admin pass (admin-only operations and the
   ones their links need) as a superuser created with ``python -m app
   create-superuser``; last, because it may delete users. JUnit reports
   ``reports/fuzz/junit.xml`` and ``junit-admin.xml``, server log next to them;
5. stops the server it started (by PID) and exits with schemathesis' exit code
   (0 passed, 1 a check failed, 2 setup/schema error; the first non-zero of the passes).

Environment knobs: ``FUZZ_MAX_EXAMPLES`` (default: the toml's), ``FUZZ_SEED``,
``FUZZ_TIMEOUT`` (hard wall-clock limit for schemathesis, default 900 s),
``FUZZ_ARGS`` (extra ``schemathesis run`` arguments, space-separated).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import HOST, free_port, stop, uvicorn_command, wait_until_serving

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "fuzz"
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)


def request(url: str, *, data: bytes | None = None, json_body: object = None) -> tuple[int, str]:
    headers = {}
    if json_body is not None:
        data, headers = json.dumps(json_body).encode(), {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - our own server
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def server_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(APP_ENV_FILE=os.devnull, APP_ENV="test", DATABASE_URL=database_url)
    # The fuzzer is one client IP sending hundreds of wrong logins: the per-IP login
    # throttle (ADR-0028) would lock out its own logins, in Redis for 15 minutes, so
    # the next run could not log in. Per-account throttling keeps its default.
    env["DOCS_ENABLED"] = "true"  # schemathesis reads /openapi.json
    env["LOGIN_MAX_FAILURES_PER_IP"] = os.environ.get("FUZZ_LOGIN_MAX_FAILURES_PER_IP", "1000000")
    # Likewise every sign-up comes from its one address (ADR-0028's sign-up throttle).
    env["SIGNUP_MAX_PER_IP"] = os.environ.get("FUZZ_SIGNUP_MAX_PER_IP", "1000000")
    # And every password-reset request and verification resend (the mail throttle).
    env["MAIL_MAX_PER_IP"] = os.environ.get("FUZZ_MAIL_MAX_PER_IP", "1000000")
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"]
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO / "backend"), env.get("PYTHONPATH")])
    )
    return env


@contextmanager
def running_server(env: dict[str, str], port: int, log_path: Path) -> Iterator[str]:
    """Start uvicorn, wait until ``/health`` answers, stop it by PID on exit."""
    base = f"http://{HOST}:{port}"
    with log_path.open("wb") as out:
        command = uvicorn_command(
            port=port,
            python=str(BIN / "python"),
            options=["--no-access-log", "--timeout-graceful-shutdown=5"],
        )
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        log(f"uvicorn pid {proc.pid} on {base} (log: {log_path.relative_to(REPO)})")
        try:
            try:
                wait_until_serving(f"{base}/health", process=proc, timeout=30, interval=0.1)
            except RuntimeError as exc:
                raise SystemExit(f"uvicorn did not become healthy: {exc}; see {log_path}") from exc
            yield base
        finally:
            stop(proc, timeout=15)
            log(f"uvicorn pid {proc.pid} stopped")


def create_users(base: str, env: dict[str, str], run_id: str) -> list[dict[str, object]]:
    """Sign up alice and bob through the API and an admin through the CLI; WFC auth entries."""
    from tests.contract.harness import Identity, wfc_document

    def identity(name: str) -> Identity:
        return Identity(name, f"{name}.{run_id}@fuzz.example.com", secrets.token_urlsafe(18))

    peers, admin = (identity("alice"), identity("bob")), identity("admin")
    for user in peers:
        status, body = request(
            f"{base}/api/v1/users", json_body={"email": user.email, "password": user.password}
        )
        if status != 201:
            raise SystemExit(f"sign-up of {user.name} failed: {status} {body[:300]}")
    subprocess.run(
        [str(BIN / "python"), "-m", "app", "create-superuser", "--email", admin.email],
        input=admin.password + "\n", text=True, env=env, cwd=REPO, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    entries: list[dict[str, object]] = wfc_document((*peers, admin))["auth"]
    return entries


def schemathesis_runs(base: str) -> list[tuple[str, list[str]]]:
    """(name, command) of each pass: everything as alice, then the admin pass as admin.

    Pinning one identity per pass keeps runs reproducible; bob is loaded in both so
    ``object_level_authorization`` can replay alice's reads as him (``peers``).
    """
    from tests.contract.harness import ADMIN_PASS_OPERATION_IDS

    common = [
        str(BIN / "schemathesis"), "run", f"{base}/openapi.json",
        "--checks", "all", "--seed", os.environ.get("FUZZ_SEED", "20261122"), "--report", "junit",
    ]  # fmt: skip
    if os.environ.get("FUZZ_MAX_EXAMPLES"):
        common += ["--max-examples", os.environ["FUZZ_MAX_EXAMPLES"]]
    common += shlex.split(os.environ.get("FUZZ_ARGS", ""))
    admin_ops = [arg for op in ADMIN_PASS_OPERATION_IDS for arg in ("--include-operation-id", op)]
    return [
        ("all operations as alice",
         [*common, "--auth-wfc-user", "alice", "--phases", "examples,coverage,fuzzing,stateful",
          "--report-junit-path", str(REPORTS / "junit.xml")]),
        ("admin pass as admin (last: it may delete users)",
         [*common, "--auth-wfc-user", "admin", *admin_ops,
          "--phases", "examples,coverage,fuzzing,stateful",
          "--report-junit-path", str(REPORTS / "junit-admin.xml")]),
    ]  # fmt: skip


def migrate(database_url: str) -> None:
    from app.core.settings import Settings
    from app.db import migrations

    migrations.upgrade(Settings(_env_file=None, database_url=database_url).database_url)


def main() -> int:
    started = time.monotonic()
    sys.path.insert(0, str(REPO / "backend"))
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("APP_ENV_FILE", os.devnull)
    REPORTS.mkdir(parents=True, exist_ok=True)
    run_id = secrets.token_hex(4)
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        database_url = os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{tmp}/fuzz.db"
        from app.core.secret_rules import redact_url

        log(f"database {redact_url(database_url)}; redis {os.environ.get('REDIS_URL') or 'off'}")
        migrate(database_url)
        auth_file = Path(tmp) / "wfc-auth.json"
        env = server_env(database_url)
        rc = 0
        with running_server(env, free_port(), REPORTS / "server.log") as base:
            entries = create_users(base, env, run_id)
            auth_file.touch(mode=0o600)
            auth_file.write_text(json.dumps({"auth": entries}), encoding="utf-8")
            timeout = float(os.environ.get("FUZZ_TIMEOUT", "900"))
            # The repo root on the path: schemathesis.toml loads `tests.contract.hooks`.
            pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
            cli_env = {**os.environ, "FUZZ_AUTH_FILE": str(auth_file), "PYTHONPATH": pythonpath}
            for name, command in schemathesis_runs(base):
                log(f"{name}: {' '.join(command)}")
                try:
                    result = subprocess.run(
                        command, cwd=REPO, env=cli_env,
                        timeout=timeout, check=False,
                    )  # fmt: skip
                    code = result.returncode
                except subprocess.TimeoutExpired:
                    log(f"schemathesis exceeded FUZZ_TIMEOUT={timeout:.0f}s")
                    code = 2
                log(f"{name}: exit code {code}")
                rc = rc or code
    log(f"exit code {rc}; {time.monotonic() - started:.0f}s in total")
    return rc


if __name__ == "__main__":
    sys.exit(main())
