"""``make flaky``: repeat the fault and timing tests while every CPU is busy.

Starts one busy-loop process per CPU (``--load``; ``FLAKY_LOAD`` in ``make flaky``), then
runs ``pytest -m "fault or timing" --count N`` (pytest-repeat; ``FLAKY_COUNT``, default 20)
the way ``make test`` runs the suite: on its xdist workers, with coverage tracing. So each
test shares the cores with the other worker *and* with the load, and a test that relies on
being scheduled promptly fails here long before it fails in ``make test`` by chance.

The load processes are stopped by PID when pytest ends, on Ctrl-C and on SIGTERM; each
one also exits by itself once this process is gone (it watches its parent PID), so even a
``kill -9`` of this script leaves no busy loop behind. The exit code is pytest's.

    python -m tests.support.flaky --count 20 [-- extra pytest args]

See docs/testing.md ("Hunting flaky tests").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

#: Spin, checking every few million iterations that the parent (this script) still runs.
BUSY_LOOP = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(2_000_000):
        pass
"""
MARKERS = "fault or timing"


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def start_load(processes: int) -> list[subprocess.Popen[bytes]]:
    """``processes`` busy loops in their own session (Ctrl-C in the terminal skips them)."""
    command = [sys.executable, "-c", BUSY_LOOP, str(os.getpid())]
    return [
        subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(processes)
    ]


def stop_all(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """Kill each process this script started that still runs (by PID), then reap it."""
    for process in processes:
        if process.poll() is None:
            process.kill()
    for process in processes:
        process.wait(timeout=10)


def pytest_command(count: int, extra: Sequence[str]) -> list[str]:
    return [
        sys.executable, "-m", "pytest",
        "-m", MARKERS,
        "--count", str(count),
        # Coverage tracing as `make coverage` and CI run it (it slows the code under test),
        # without the report and the threshold, which only the whole suite can meet.
        "--cov", "--cov-report=", "--cov-fail-under=0",
        "-q", "-p", "no:cacheprovider",
        *extra,
    ]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20, help="repetitions of each test")
    parser.add_argument(
        "--load", type=int, default=cpu_count(), help="busy-loop processes (default: one per CPU)"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)

    started = time.monotonic()
    load = start_load(args.load)
    tests: subprocess.Popen[bytes] | None = None

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        if tests is not None and tests.poll() is None:
            tests.send_signal(signal.SIGINT)  # what Ctrl-C would have sent it
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    print(
        f"flaky: {args.load} busy-loop processes (PIDs {', '.join(str(p.pid) for p in load)}) "
        f"on {cpu_count()} CPUs; each '{MARKERS}' test {args.count} times",
        flush=True,
    )
    try:
        tests = subprocess.Popen(pytest_command(args.count, args.pytest_args))
        code = tests.wait()
    except KeyboardInterrupt:
        # pytest got the SIGINT too and is stopping its throwaway servers: give it a minute.
        code = 130
        if tests is not None:
            try:
                tests.wait(timeout=60)
            except subprocess.TimeoutExpired:
                tests.kill()
                tests.wait()
    finally:
        stop_all(load)
    print(f"flaky: pytest exited {code} after {time.monotonic() - started:.0f} s", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
