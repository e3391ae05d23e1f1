"""The tutorial and the examples README run as written, against a live server (ADR-0040).

Every ``bash`` and ``python`` block of :data:`PAGES` is run (``tests.docs.runnable``) or
carries ``<!-- not run: why -->``; what each command prints must be what the page shows.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docs import runnable
from tests.support.processes import (
    app_server_env,
    free_port,
    stop,
    uvicorn_command,
    wait_until_serving,
)

REPO = Path(__file__).resolve().parents[2]
#: The pages whose code blocks are run; each must have some.
PAGES = ("docs/tutorial.md", "examples/README.md")


def _blocks(page: str) -> list[runnable.Block]:
    return runnable.blocks(REPO / page, REPO)


def test_every_block_is_run_or_says_why_not() -> None:
    """The drift check: a block is run, or marked with a reason (listed here)."""
    for page in PAGES:
        found = _blocks(page)
        assert any(b.not_run is None for b in found), f"{page}: no block is run"
        assert runnable.check_marked(found) == []
    not_run = [f"{b.where}: {b.not_run}" for p in PAGES for b in _blocks(p) if b.not_run]
    assert len(not_run) == 7, "\n".join(not_run)  # the list a reviewer reads: -rA shows it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    data = tmp_path_factory.mktemp("runnable")
    # Many sign-ups from 127.0.0.1 across the pages: the per-IP throttle is not the subject.
    env = app_server_env(data, SIGNUP_MAX_PER_IP="1000")
    subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, check=True, cwd=REPO)
    port = free_port()
    process = subprocess.Popen(
        uvicorn_command(port=port, options=["--no-access-log"]),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/api/v1/health/live", process=process)
        yield base, env
    finally:
        stop(process)


@pytest.mark.timing
def test_the_tutorial_runs_as_written(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    assert runnable.run_shell(_blocks("docs/tutorial.md"), base, env, REPO) == []


@pytest.mark.timing
def test_the_examples_readme_runs_as_written(server: tuple[str, dict[str, str]]) -> None:
    base, env = server
    env = {**env, "PYTHONPATH": str(REPO / "examples")}
    found = _blocks("examples/README.md")
    problems = runnable.run_shell(found, base, env, REPO)
    for block in found:
        if block.language == "python" and block.not_run is None:
            problems += runnable.run_python(block, base, env, REPO, sys.executable)
    assert problems == []


def test_a_wrong_output_a_failing_command_and_a_bare_marker_are_reported(tmp_path: Path) -> None:
    """Planted drift: output that changed, a command that fails, a marker without a reason."""
    page = tmp_path / "page.md"
    page.write_text(
        '```bash\necho hello\n# hello\necho \'{"id":"42","x":1}\'\n# {"id":"<id>",...}\n'
        "echo changed\n# expected\nfalse\n```\n\n<!-- not run: -->\n```bash\nmake run\n```\n"
        "\n```python\nprint(6 * 7)\n# 42\n```\n",
        encoding="utf-8",
    )
    found = runnable.blocks(page, tmp_path)
    assert [b.language for b in found] == ["bash", "bash", "python"]
    assert runnable.check_marked(found) == [
        "page.md:12: `<!-- not run: -->` without a reason: say why the block cannot run"
    ]
    problems = runnable.run_shell(found[:1], "http://x", {"PATH": "/usr/bin:/bin"}, tmp_path)
    assert len(problems) == 2, problems
    assert problems[0].startswith("page.md:1: `echo changed` printed ['changed'], the page says")
    assert problems[1].startswith("page.md:1: `false` exited 1")
    assert runnable.run_python(found[2], "http://x", {}, tmp_path, sys.executable) == []
