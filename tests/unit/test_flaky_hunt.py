"""``make flaky`` (tests/support/flaky.py) stops every load process it starts and returns
pytest's exit code (docs/testing.md, hunting flaky tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence

import pytest

from tests.support import flaky
from tests.support.repo import REPO_ROOT


def _gone(pid: int) -> bool:
    """Not running (already reaped, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_returns_pytest_exit_code_and_stops_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen[bytes]] = []
    real_start_load = flaky.start_load

    def start_load(processes: int) -> list[subprocess.Popen[bytes]]:
        started.extend(real_start_load(processes))
        return started

    def pytest_command(count: int, extra: Sequence[str]) -> list[str]:
        assert (count, list(extra)) == (3, ["-k", "x"])
        return [sys.executable, "-c", "import sys; sys.exit(5)"]

    monkeypatch.setattr(flaky, "start_load", start_load)
    monkeypatch.setattr(flaky, "pytest_command", pytest_command)
    assert flaky.main(["--count", "3", "--load", "2", "--", "-k", "x"]) == 5
    assert len(started) == 2
    assert all(process.poll() is not None for process in started)


def test_pytest_command_selects_the_marked_tests_and_repeats_them() -> None:
    command = flaky.pytest_command(20, ["tests/fault"])
    args = command[command.index("pytest") + 1 :]
    assert args[args.index("-m") + 1] == "fault or timing"
    assert args[args.index("--count") + 1] == "20"
    assert args[-1] == "tests/fault"


@pytest.mark.timing
def test_a_busy_loop_exits_by_itself_when_the_script_is_killed() -> None:
    """Even ``kill -9`` of the script leaves no busy loop spinning."""
    script = "from tests.support import flaky; print(flaky.start_load(1)[0].pid, flush=True)"
    parent = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )  # exits at once, without stopping its load: as if killed
    pid = int(parent.stdout)
    deadline = time.monotonic() + 30  # it checks its parent every ~0.1 s of CPU
    while not _gone(pid):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the busy loop outlived the script that started it")
        time.sleep(0.05)
