"""The runtime image's layout and command work, without Docker (ADR-0029).

Docker cannot run here, so this test rebuilds the runtime stage's file system by hand:
it copies what the Dockerfile's ``COPY`` instructions copy (through the ``.dockerignore``
allow-list) into a temporary ``/app``, applies its ``ENV`` (with this venv standing in
for ``/opt/venv``), then runs the image's own commands there: the migration command of
Compose and the Job, the ``CMD`` (only host and port swapped for a free local port) and
the ``HEALTHCHECK``. A file the app needs at run time but the image leaves out (a
migration, a data file, a static asset) fails here, not in production.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.processes import free_port, wait_until_serving
from tests.support.repo import dockerfile_stages

ROOT = Path(__file__).resolve().parents[2]
SECRET = "image-layout-test-secret-0123456789abcdef-0123456789"  # pragma: allowlist secret

# no_cover (pytest-cov): the app runs in subprocesses, which coverage does not measure;
# tracing this process would only slow its HTTP client.
pytestmark = [pytest.mark.slow, pytest.mark.no_cover]


def _runtime_stage() -> list[str]:
    return dockerfile_stages()[-1]


def _dockerignore_allows(rel: str) -> bool:
    """The allow-list semantics of our .dockerignore (``**`` then ``!path`` exceptions)."""
    allowed = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!")
        if _match(rel, pattern):
            allowed = negate
    return allowed


def _match(rel: str, pattern: str) -> bool:
    """The pattern shapes our .dockerignore uses: ``**``, ``dir/**``, ``**/name``, a path."""
    if pattern == "**":
        return True
    if pattern.endswith("/**"):
        return rel.startswith(pattern[:-3] + "/")
    if pattern.startswith("**/"):
        suffix = pattern[3:]
        name = rel.rsplit("/", 1)[-1]
        parts = rel.split("/")
        return Path(name).match(suffix) or suffix in parts
    return rel == pattern


def build_layout(app_dir: Path) -> dict[str, str]:
    """Copy the runtime stage's files under ``app_dir`` (= /app); return its ENV."""
    env: dict[str, str] = {}
    venv_bin = str(Path(sys.executable).parent)
    for instruction in _runtime_stage():
        keyword, _, rest = instruction.partition(" ")
        if keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                value = value.replace("/opt/venv/bin", venv_bin).replace(
                    "$PATH", os.environ["PATH"]
                )
                env[key] = value.replace("/app", str(app_dir))
        elif keyword == "COPY" and not rest.startswith("--from"):
            *sources, dest = rest.split()
            for source in sources:
                target = app_dir / dest.removeprefix("./")
                for path in sorted((ROOT / source).rglob("*")):
                    rel = path.relative_to(ROOT).as_posix()
                    if path.is_file() and _dockerignore_allows(rel):
                        out = target / path.relative_to(ROOT / source)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(path, out)
    return env


@pytest.mark.timing
def test_runtime_layout_migrates_serves_and_passes_its_healthcheck(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    (app_dir / "var").mkdir(parents=True)
    env = build_layout(app_dir)
    assert (app_dir / "backend" / "app" / "main.py").is_file()
    assert not list(app_dir.rglob("__pycache__")), ".dockerignore keeps bytecode out"
    env.update(
        JWT_SECRET_KEY=SECRET,
        DATABASE_URL=f"sqlite+aiosqlite:///{app_dir / 'var' / 'app.db'}",
        APP_ENV_FILE=os.devnull,
        HOME=str(tmp_path),
    )
    assert env["APP_ENV"] == "prod", "the image runs as production by default"

    # The migration command Compose and the Job run, from the image's working directory.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    migrate = compose["services"]["migrate"]["command"]
    result = subprocess.run(
        [sys.executable, *migrate[1:]], cwd=app_dir, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (app_dir / "var" / "app.db").stat().st_size > 0

    # The image's CMD, with only host and port swapped (never 0.0.0.0 or 8000 here).
    runtime = _runtime_stage()
    cmd = yaml.safe_load(next(i for i in runtime if i.startswith("CMD "))[4:])
    port = free_port()
    script = cmd[2].replace("--host 0.0.0.0", "--host 127.0.0.1")
    script = script.replace("--port 8000", f"--port {port}")
    assert str(port) in script
    assert "127.0.0.1" in script
    proc = subprocess.Popen(
        [*cmd[:2], script], cwd=app_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(f"{base}/api/v1/health/live", process=proc)
        except RuntimeError as exc:
            proc.kill()
            output = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the image's CMD did not start: {exc}\n{output}")
        response = httpx.get(f"{base}/api/v1/health/live", timeout=2)
        assert response.json() == {"status": "ok"}
        assert "server" not in response.headers, "--no-server-header"
        ready = httpx.get(f"{base}/api/v1/health/ready", timeout=2)
        assert ready.status_code == 200, ready.text

        # The HEALTHCHECK command, pointed at the same port.
        healthcheck = next(i for i in runtime if i.startswith("HEALTHCHECK"))
        check = yaml.safe_load(healthcheck[healthcheck.index("CMD [") + 4 :])
        check = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in check]
        check[0] = sys.executable
        assert subprocess.run(check, env=env, timeout=10).returncode == 0

        # SIGTERM (what docker stop / Kubernetes send) reaches uvicorn itself (the CMD
        # `exec`s it: no shell in between), which shuts down well within the bound and
        # then re-raises the signal as its exit status.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
        output = proc.stdout.read().decode() if proc.stdout else ""
        assert "Finished server process" in output, output
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/api/v1/health/live", timeout=0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
