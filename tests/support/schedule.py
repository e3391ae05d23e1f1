"""Longest test files first, so a parallel run ends when its work does (ADR-0043).

pytest-xdist (``--dist loadfile --no-loadscope-reorder``) hands whole files to its
workers in collection order, and a run lasts as long as its busiest worker. Its own
order (most tests first) started the scaffold round trip, one test of 30 s, last: the
other worker sat idle for its whole length. Here each worker collects the files ordered
by the seconds each took the last time it ran (pytest's cache, ``suite/file-seconds``,
read once by the controller), longest first. A file with no time on record (a fresh
clone, a new file) goes before those: files whose tests are all ``slow`` first, then by
their share of ``slow`` tests, then by number of tests. Runs without workers keep the
collection order.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from xdist.workermanage import WorkerController

CACHE_KEY = "suite/file-seconds"
_IN_WORKER = "PYTEST_XDIST_WORKER"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def order_files(tests: Iterable[tuple[str, bool]], seconds: Mapping[str, float]) -> list[str]:
    """The files of ``tests`` (``(nodeid, is_slow)`` in collection order), costliest first."""
    count: Counter[str] = Counter()
    slow: Counter[str] = Counter()
    for nodeid, is_slow in tests:
        count[file_of(nodeid)] += 1
        slow[file_of(nodeid)] += is_slow

    def cost(file: str) -> tuple[float, ...]:
        if file in seconds:
            return (0, seconds[file])
        return (1, slow[file] / count[file], count[file])

    return sorted(count, key=cost, reverse=True)  # stable: ties keep collection order


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: WorkerController) -> None:
    """The controller reads the times once and hands each worker the same copy: workers
    reading the file themselves could see two versions (another run ending meanwhile),
    collect in two orders, and xdist would abort the run."""
    cache = getattr(node.config, "cache", None)
    node.workerinput[CACHE_KEY] = cache.get(CACHE_KEY, {}) if cache is not None else {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seconds = getattr(config, "workerinput", {}).get(CACHE_KEY)
    if seconds is None:  # not an xdist worker: keep the collection order
        return
    tests = [(item.nodeid, item.get_closest_marker("slow") is not None) for item in items]
    rank = {file: n for n, file in enumerate(order_files(tests, seconds))}
    items.sort(key=lambda item: rank[file_of(item.nodeid)])


_seconds: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _IN_WORKER not in os.environ:  # the controller (or a run without workers) records
        _seconds[file_of(report.nodeid)] += report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    cache = getattr(session.config, "cache", None)
    if _IN_WORKER in os.environ or cache is None or not _seconds:
        return
    merged = {**cache.get(CACHE_KEY, {}), **{k: round(v, 2) for k, v in _seconds.items()}}
    root = session.config.rootpath
    cache.set(CACHE_KEY, {file: s for file, s in merged.items() if (root / file).is_file()})
