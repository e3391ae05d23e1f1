"""The Markdown report of a bench run: targets first, then the comparison with the
references, every measured row, startup, profiles, machine and command (ADR-0030)."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tests.bench.loadgen import Result, wrk_version

#: Labels of the two servers of every comparison.
REFERENCE = "reference"
FULL = "full app"
#: Scenario names.
HEALTH = "/health"
ME = "GET /api/v1/users/me"
ITEMS = "GET /api/v1/items?limit=20"
PROBE_IDLE = "/health idle (paced probe)"
PROBE_BURST = "/health during login burst (paced probe)"

# Targets (ADR-0030): (scenario, minimum throughput ratio to the reference at the most
# connections, maximum p99 multiple of the reference there, minimum throughput at the
# most connections relative to the fewest).
TARGETS = {ME: (0.40, 4.0, 0.95), ITEMS: (0.40, 4.0, 0.95)}
TARGET_HEALTH_RATIO = 0.65
TARGET_BURST_P99 = 3.0


@dataclass
class Row:
    scenario: str
    server: str
    db: str
    connections: int
    result: Result
    #: Server process CPU (user + system) per request, in ms; None when shared with another load.
    cpu_ms: float | None = None


class Report:
    def __init__(self, args: argparse.Namespace, tool: str, load_before: tuple[float, ...]):
        self.args, self.tool, self.load_before = args, tool, load_before
        self.rows: list[Row] = []
        self.startup: dict[str, list[float]] = {}
        self.profiles: list[Path] = []

    def find(self, scenario: str, server: str, db: str, conns: int | None = None) -> Row | None:
        for row in self.rows:
            if (row.scenario, row.server, row.db) == (scenario, server, db) and (
                conns is None or row.connections == conns
            ):
                return row
        return None

    def render(self, argv: list[str]) -> str:
        lines = ["## Targets", "", "| Target | Measured | Verdict |", "|---|---|---|"]
        lines += self.targets()
        lines += ["", "## Against the references", ""]
        lines += self.comparison()
        lines += ["", "## Every run", ""]
        lines += self.results()
        lines += ["", "## Startup cost (process start -> first 200 on /health)", ""]
        for name, runs in self.startup.items():
            shown = ", ".join(f"{s:.2f}" for s in runs)
            lines.append(f"- {name}: median {statistics.median(runs):.2f} s (runs: {shown})")
        for profile in self.profiles:
            lines += ["", f"## Profile: {profile.name}", ""]
            lines += summarize_profile(profile)
        lines += ["", "## Machine", "", *self.machine(), "", "## Command", "", "```"]
        lines += ["python -m tests.bench.run " + shlex.join(argv), "```"]
        return "\n".join(lines) + "\n"

    def pair(self, scenario: str, db: str, conns: int) -> tuple[Row, Row] | None:
        ref, full = self.find(scenario, REFERENCE, db, conns), self.find(scenario, FULL, db, conns)
        return (ref, full) if ref and full and ref.result.rps and full.result.rps else None

    def comparison(self) -> list[str]:
        out = [
            "| Scenario | DB | Conns | Reference req/s | App req/s | Ratio | Reference p99 ms "
            "| App p99 ms | p99 multiple | Reference CPU ms/req | App CPU ms/req | CPU multiple |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for db in self.args.db:
            for scenario in (HEALTH, ME, ITEMS):
                for conns in self.args.connections:
                    found = self.pair(scenario, db, conns)
                    if not found:
                        continue
                    ref, full = found
                    r, f = ref.result, full.result
                    cpu = (
                        f"{full.cpu_ms / ref.cpu_ms:.1f}x"
                        if ref.cpu_ms and full.cpu_ms is not None
                        else "-"
                    )
                    out.append(
                        f"| {scenario} | {db} | {conns} | {r.rps:,.0f} | {f.rps:,.0f} "
                        f"| {f.rps / r.rps:.2f} | {r.p99_ms:.2f} | {f.p99_ms:.2f} "
                        f"| {f.p99_ms / r.p99_ms if r.p99_ms else 0:.1f}x | {_ms(ref.cpu_ms)} "
                        f"| {_ms(full.cpu_ms)} | {cpu} |"
                    )
        return out

    def results(self) -> list[str]:
        out = [
            "| Scenario | Server | DB | Conns | Req/s | p50 ms | p99 ms | Errors "
            "| Server CPU ms/req |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in self.rows:
            r = row.result
            out.append(
                f"| {row.scenario} | {row.server} | {row.db} | {row.connections} "
                f"| {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
                f"| {_ms(row.cpu_ms)} |"
            )
        return out

    def targets(self) -> list[str]:
        few, many = min(self.args.connections), max(self.args.connections)
        out = []
        for scenario, (ratio_min, p99_max, scale_min) in TARGETS.items():
            if "postgres" not in self.args.db:
                out.append(f"| {scenario} on PostgreSQL | not run (no --db postgres) | - |")
                continue
            found = self.pair(scenario, "postgres", many)
            if not found:
                continue
            ref, full = found
            ratio = full.result.rps / ref.result.rps
            out.append(
                _target(
                    f"{scenario} (PostgreSQL, {many} conns) >= {ratio_min:.2f}x reference req/s",
                    f"{ratio:.2f}x ({full.result.rps:,.0f} vs {ref.result.rps:,.0f})",
                    ratio >= ratio_min,
                )
            )
            p99 = full.result.p99_ms / ref.result.p99_ms if ref.result.p99_ms else float("inf")
            out.append(
                _target(
                    f"{scenario} (PostgreSQL, {many} conns) p99 <= {p99_max:g}x reference p99",
                    f"{p99:.1f}x ({full.result.p99_ms:.1f} vs {ref.result.p99_ms:.1f} ms)",
                    p99 <= p99_max,
                )
            )
            fewer = self.find(scenario, FULL, "postgres", few)
            if fewer and few != many and fewer.result.rps:
                scale = full.result.rps / fewer.result.rps
                out.append(
                    _target(
                        f"{scenario} (PostgreSQL) req/s at {many} conns >= {scale_min:.2f}x "
                        f"at {few}",
                        f"{scale:.2f}x ({full.result.rps:,.0f} vs {fewer.result.rps:,.0f})",
                        scale >= scale_min,
                    )
                )
        for db in self.args.db:
            found = self.pair(HEALTH, db, many)
            if found:
                ratio = found[1].result.rps / found[0].result.rps
                out.append(
                    _target(
                        f"/health full stack ({db}, {many} conns) >= "
                        f"{TARGET_HEALTH_RATIO:.2f}x bare FastAPI",
                        f"{ratio:.2f}x ({found[1].result.rps:,.0f} vs {found[0].result.rps:,.0f})",
                        ratio >= TARGET_HEALTH_RATIO,
                    )
                )
            idle, burst = self.find(PROBE_IDLE, FULL, db), self.find(PROBE_BURST, FULL, db)
            if idle and burst and idle.result.p99_ms:
                factor = burst.result.p99_ms / idle.result.p99_ms
                out.append(
                    _target(
                        f"/health p99 during login burst <= {TARGET_BURST_P99:g}x idle ({db})",
                        f"{factor:.1f}x ({burst.result.p99_ms:.2f} vs {idle.result.p99_ms:.2f} ms)",
                        factor <= TARGET_BURST_P99,
                    )
                )
        return out

    def machine(self) -> list[str]:
        cpu = platform.processor() or "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        packages = ("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "sqlalchemy")
        versions = ", ".join(
            f"{pkg} {_version(pkg)}" for pkg in (*packages, "asyncpg", "aiosqlite", "pyjwt")
        )
        tool = wrk_version() if self.tool == "wrk" else "asyncio fallback (tests/bench/loadgen.py)"
        a = self.args
        conns = " and ".join(str(c) for c in a.connections)
        return [
            f"- CPU: {cpu}, {os.cpu_count()} logical cores; "
            f"{platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}; {versions}",
            f"- Load generator: {tool}, on the same machine (it shares the cores with the server)",
            "- uvicorn: 1 worker, uvloop + httptools, --no-access-log; the app logs JSON at INFO "
            "(one line per request) to a file",
            f"- Duration {a.duration:g} s per scenario after {a.warmup:g} s warm-up; "
            f"{conns} connections (hashing routes {a.hash_connections}, "
            f"latency probe {a.probe_connections} paced at {a.probe_rate:g} req/s each)",
            f"- Load average (1/5/15 min) before: {_load(self.load_before)}; "
            f"after: {_load(os.getloadavg())} (above ~0.5: other processes competed for the "
            "cores; ratios and CPU per request travel, absolute req/s do not)",
        ]


def summarize_profile(path: Path, top: int = 15) -> list[str]:
    """The hottest frames of a py-spy ``raw`` (collapsed stacks) profile, as Markdown."""
    if not path.exists():
        return ["(no profile written: is py-spy installed? It is in the dev extra: `make install`)"]
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] = own.get(frames[-1], 0) + int(count)
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    if not total:
        return ["(empty profile)"]
    interesting = ("app/", "sqlalchemy/", "asyncpg/", "logging/", "jwt/", "threading", "to_thread")
    out = [f"{total} samples. Self time (top {top}):", ""]
    out += [f"- {n / total:.1%} `{f}`" for f, n in sorted(own.items(), key=lambda x: -x[1])[:top]]
    out += ["", "Inclusive time in app, database, logging, JWT and thread code:", ""]
    picked = [(f, n) for f, n in inclusive.items() if any(k in f for k in interesting)]
    out += [f"- {n / total:.1%} `{f}`" for f, n in sorted(picked, key=lambda x: -x[1])[:top]]
    return out


def _target(name: str, measured: str, met: bool) -> str:
    return f"| {name} | {measured} | {'met' if met else 'MISSED'} |"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def _load(values: tuple[float, ...]) -> str:
    return "/".join(f"{v:.2f}" for v in values)
