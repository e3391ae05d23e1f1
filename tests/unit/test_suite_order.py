"""The suite's order (ADR-0043): xdist workers take the test files longest first, by the
times of the last run, and no test depends on what ran before it in its process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.repo import REPO_ROOT
from tests.support.schedule import CACHE_KEY, order_files

#: Variables of the outer run that would make a nested pytest think it is a worker.
_OUTER = ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID",
          "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS")  # fmt: skip


def _nested_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _OUTER}


def test_known_files_go_longest_first_and_unknown_ones_before_them() -> None:
    tests = [
        ("a.py::t1", False), ("a.py::t2", False),  # known, quick
        ("b.py::t", True),  # known, the longest
        ("c.py::t1", False), ("c.py::t2", False), ("c.py::t3", False),  # new, most tests
        ("d.py::t", True),  # new, all slow
        ("e.py::t1", True), ("e.py::t2", False),  # new, half slow
        ("f.py::t", False), ("g.py::t", False),  # known, equally long: collection order
    ]  # fmt: skip
    seconds = {"a.py": 0.4, "b.py": 30.0, "f.py": 1.0, "g.py": 1.0, "gone.py": 99.0}
    assert order_files(tests, seconds) == ["d.py", "e.py", "c.py", "b.py", "f.py", "g.py", "a.py"]


@pytest.mark.slow
def test_workers_read_the_recorded_times_and_the_run_records_its_own(tmp_path: Path) -> None:
    """One real xdist run: a worker takes the file the cache says is longest first (not the
    one its markers would put first), a file new to the cache before both, and the run
    writes the times it measured back (files that no longer exist are dropped)."""
    log = tmp_path / "order.log"
    run = f"open({str(log)!r}, 'a').write(__name__ + '\\n')"
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    (tmp_path / "test_quick.py").write_text(f"def test_q():\n    {run}\n")
    (tmp_path / "test_marked.py").write_text(
        f"import pytest\n\n@pytest.mark.slow\ndef test_m():\n    {run}\n"
    )
    (tmp_path / "test_new.py").write_text(
        f"import time\n\ndef test_n():\n    time.sleep(0.2)\n    {run}\n"
    )
    cache = tmp_path / ".pytest_cache" / "v" / CACHE_KEY
    cache.parent.mkdir(parents=True)
    cache.write_text(json.dumps({"test_quick.py": 5.0, "test_marked.py": 0.1, "gone.py": 1.0}))

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "1", "--dist", "loadfile",
         "--no-loadscope-reorder", "-p", "tests.support.schedule"],
        cwd=tmp_path, env=_nested_env() | {"PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert log.read_text().split() == ["test_new", "test_quick", "test_marked"]
    recorded = json.loads(cache.read_text())
    assert set(recorded) == {"test_quick.py", "test_marked.py", "test_new.py"}
    assert recorded["test_new.py"] >= 0.2 > recorded["test_quick.py"]


@pytest.mark.slow
def test_a_test_file_run_alone_reads_the_environment_it_sets() -> None:
    """First in its process, a test that sets ``DATABASE_URL`` gets it from ``get_settings``.
    The fixture that swaps the password hasher imported ``app.main`` after the settings
    cache was cleared, and building that app cached the defaults: ``pytest
    tests/unit/test_cli.py`` failed alone and passed inside the whole suite."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider",
         "tests/unit/test_cli.py::test_migrate_upgrades_and_downgrades"],
        cwd=REPO_ROOT, env=_nested_env(), capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
