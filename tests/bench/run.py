"""``make bench``: the full app against bare FastAPI, on SQLite and/or PostgreSQL (ADR-0030).

    python -m tests.bench.run [--db sqlite|postgres ...] [--duration 5] [--connections 64]

Serves each app with uvicorn (uvloop + httptools, one worker, access log off),
measures startup cost (process start -> first 200 on ``/health``), drives every
scenario with wrk (or the asyncio fallback) and prints a Markdown report: the
machine, the exact command, the results table with ratios against bare FastAPI's
``/health``, and the performance targets with the measured values. A benchmark,
never a test: it asserts nothing and always exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from app.core.settings import Settings
from tests.bench.loadgen import Result, Scenario, run_one, run_together, wrk_available, wrk_version
from tests.support.processes import free_port, uvicorn_command, wait_until_serving
from tests.support.processes import stop as stop_processes

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_PASSWORD = "bench-correct-horse-battery-7"  # pragma: allowlist secret
#: Settings the bench environment must not inherit from the caller's shell.
_SETTING_NAMES = {name.upper() for name in Settings.model_fields} | {"APP_ENV_FILE"}

# Targets (ADR-0030): ratio or multiple, and how it is compared.
TARGET_HEALTH_RATIO = 0.80
TARGET_ME_RATIO = 0.40
TARGET_BURST_P99 = 3.0
#: Label of the baseline server in the report.
BARE = "bare FastAPI"
#: The latency probe: paced, so it measures waiting (event-loop stalls), not CPU share.
PROBE_IDLE = "/health idle (paced probe)"
PROBE_BURST = "/health during login burst (paced probe)"


@dataclass
class Row:
    scenario: str
    server: str
    db: str
    connections: int
    result: Result
    #: Server process CPU (user + system) per request, in ms; None when shared with another load.
    cpu_ms: float | None = None


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

    def start(self) -> float:
        """Start uvicorn; return seconds from process start to the first 200 on /health."""
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
        try:
            wait_until_serving(
                f"{self.base_url}/health", process=self.process, timeout=60, interval=0.005
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


def app_env(database_url: str) -> dict[str, str]:
    """Production-like settings: JSON logs at INFO (one line per request), a strong secret."""
    return {
        **base_env(),
        "APP_ENV": "local",
        "LOG_LEVEL": "INFO",
        "LOG_JSON": "true",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    }


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
    """Sign up ``email`` and return a bearer token for it."""
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
        return token


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.tool = args.tool if args.tool != "auto" else ("wrk" if wrk_available() else "python")
        self.rows: list[Row] = []
        self.startup: dict[str, list[float]] = {}
        self.run_id = secrets.token_hex(4)
        self.load_before = os.getloadavg()
        self.profiles: list[Path] = []
        self.bare: Server  # set by start_bare()

    async def measure(self, scenario: Scenario, server: Server, db: str) -> Result:
        if self.args.warmup > 0:
            await run_one(self._short(scenario, "warm"), self.tool, self.args.threads)
        pid = server.process.pid if server.process else 0
        spy = self._start_profiler(scenario, server, db, pid)
        cpu_before = process_cpu_seconds(pid)
        result = await run_one(scenario, self.tool, self.args.threads)
        cpu = process_cpu_seconds(pid) - cpu_before
        if spy is not None:
            await asyncio.to_thread(spy.wait, scenario.duration + 30)
        cpu_ms = cpu * 1000 / result.requests if result.requests else None
        self.rows.append(Row(scenario.name, server.label, db, scenario.connections, result, cpu_ms))
        return result

    def _start_profiler(
        self, scenario: Scenario, server: Server, db: str, pid: int
    ) -> subprocess.Popen[bytes] | None:
        """py-spy on the full app during /health and /users/me when ``--profile DIR``."""
        if not self.args.profile or server.label != "full app" or scenario.body != "none":
            return None
        if scenario.name not in ("/health", "GET /api/v1/users/me"):
            return None
        self.args.profile.mkdir(parents=True, exist_ok=True)
        out = self.args.profile / f"{db}-{scenario.path.strip('/').replace('/', '-')}.txt"
        self.profiles.append(out)
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                f"--pid={pid}",
                f"--duration={max(1, round(scenario.duration))}",
                "--rate=250",
                "--format=raw",
                f"--output={out}",
                "--nonblocking",
                "--gil",  # only the thread running Python: CPU, not waiting
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _short(self, scenario: Scenario, tag: str) -> Scenario:
        return Scenario(
            **{
                **scenario.__dict__,
                "duration": self.args.warmup,
                "prefix": f"{scenario.prefix}-{tag}",
            }
        )

    def scenario(
        self, name: str, server: Server, path: str, connections: int, **kw: object
    ) -> Scenario:
        return Scenario(
            name=name,
            base_url=server.base_url,
            path=path,
            connections=connections,
            duration=self.args.duration,
            password=BENCH_PASSWORD,
            prefix=f"bench-{self.run_id}-{name.split()[0].strip('/').replace('/', '-')}",
            **kw,  # type: ignore[arg-type]
        )

    def start_bare(self) -> Server:
        """Serve bare FastAPI for the whole run (idle between its measurements)."""
        self.bare = Server("tests.bench.bare_app:app", BARE, base_env(), self.workdir / "bare.log")
        self.startup[BARE] = [self.bare.start()]
        return self.bare

    async def measure_bare(self, db: str) -> None:
        """Bare ``/health`` right before the full app's on ``db``: each ratio compares two
        adjacent runs, so a machine that gets busier or quieter during the bench moves
        both sides alike."""
        scenario = self.scenario("/health", self.bare, "/health", self.args.connections)
        await self.measure(scenario, self.bare, db)

    async def run_full(self, db: str) -> None:
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{self.workdir / 'bench.db'}"
        else:
            url = os.environ.get("DATABASE_URL", "")
            if not url.startswith("postgres"):
                raise SystemExit("--db postgres needs DATABASE_URL=postgresql://...")
        env = app_env(url)
        for item in self.args.set:
            name, _, value = item.partition("=")
            env[name.strip().upper()] = value
        migrate(env)
        server = Server("app.main:app", "full app", env, self.workdir / f"app-{db}.log")
        runs = []
        try:
            for _ in range(self.args.startup_runs - 1):
                runs.append(server.start())
                server.stop()
            runs.append(server.start())
            self.startup[f"full app ({db})"] = runs
            token = make_user(server.base_url, f"bench-{self.run_id}-{db}@example.com")
            email = f"bench-{self.run_id}-{db}@example.com"
            conns, hconns, pconns = (
                self.args.connections,
                self.args.hash_connections,
                self.args.probe_connections,
            )
            full = server
            await self.measure_bare(db)
            await self.measure(self.scenario("/health", server, "/health", conns), full, db)
            me = self.scenario(
                "GET /api/v1/users/me",
                server,
                "/api/v1/users/me",
                conns,
                headers={"Authorization": f"Bearer {token}"},
            )
            await self.measure(me, full, db)
            await self.measure(
                self.scenario("POST /api/v1/users", server, "/api/v1/users", hconns, body="signup"),
                full,
                db,
            )
            login = self.scenario(
                "POST /api/v1/auth/login",
                server,
                "/api/v1/auth/login",
                hconns,
                body="login",
                login_email=email,
            )
            await self.measure(login, full, db)
            rate = self.args.probe_rate
            probe = self.scenario(PROBE_IDLE, server, "/health", pconns, rate=rate)
            await self.measure(probe, full, db)
            during = self.scenario(PROBE_BURST, server, "/health", pconns, rate=rate)
            probe_result, login_result = await run_together(
                [during, login], self.tool, self.args.threads
            )
            self.rows.append(Row(during.name, server.label, db, pconns, probe_result))
            self.rows.append(
                Row("POST /api/v1/auth/login (the burst)", server.label, db, hconns, login_result)
            )
        finally:
            server.stop()

    # --- report -----------------------------------------------------------------

    def find(self, scenario: str, server: str, db: str | None = None) -> Result | None:
        for row in self.rows:
            if row.scenario == scenario and row.server == server and (db is None or row.db == db):
                return row.result
        return None

    def base_rps(self, db: str) -> float:
        """Requests/s of the bare ``/health`` run paired with ``db`` (0 if none)."""
        bare = self.find("/health", BARE, db)
        return bare.rps if bare else 0.0

    def report(self, argv: list[str]) -> str:
        lines = ["## Results", ""]
        lines.append(
            "| Scenario | Server | DB | Conns | Req/s | p50 ms | p99 ms | Errors "
            "| Server CPU ms/req | vs bare /health |"
        )
        lines.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in self.rows:
            r = row.result
            base = self.base_rps(row.db)
            # Only the throughput runs compare (not hashing routes, not the paced probe).
            throughput = row.connections == self.args.connections and "probe" not in row.scenario
            ratio = f"{r.rps / base:.0%}" if base and throughput else "-"
            db = f"- (before {row.db})" if row.server == BARE else row.db
            lines.append(
                f"| {row.scenario} | {row.server} | {db} | {row.connections} | {r.rps:,.0f} "
                f"| {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.errors} "
                f"| {'-' if row.cpu_ms is None else f'{row.cpu_ms:.2f}'} | {ratio} |"
            )
        lines += ["", "## Startup cost (process start -> first 200 on /health)", ""]
        for name, runs in self.startup.items():
            shown = ", ".join(f"{s:.2f}" for s in runs)
            lines.append(f"- {name}: median {statistics.median(runs):.2f} s (runs: {shown})")
        lines += ["", "## Targets", "", "| Target | Measured | Verdict |", "|---|---|---|"]
        lines += self._targets()
        for profile in self.profiles:
            lines += ["", f"## Profile: {profile.name}", ""]
            lines += summarize_profile(profile)
        lines += ["", "## Machine", ""]
        lines += self._machine()
        lines += [
            "",
            "## Command",
            "",
            "```",
            "python -m tests.bench.run " + shlex.join(argv),
            "```",
        ]
        return "\n".join(lines) + "\n"

    def _targets(self) -> list[str]:
        out = []
        for db in self.args.db:
            base = self.base_rps(db)
            health = self.find("/health", "full app", db)
            if health and base:
                ratio = health.rps / base
                out.append(
                    f"| /health full stack >= {TARGET_HEALTH_RATIO:.0%} of bare ({db}) "
                    f"| {ratio:.0%} ({health.rps:,.0f} vs {base:,.0f} req/s) "
                    f"| {'met' if ratio >= TARGET_HEALTH_RATIO else 'MISSED'} |"
                )
        me = self.find("GET /api/v1/users/me", "full app", "postgres")
        base = self.base_rps("postgres")
        if me and base:
            ratio = me.rps / base
            out.append(
                f"| authenticated /users/me on PostgreSQL >= {TARGET_ME_RATIO:.0%} of bare /health "
                f"| {ratio:.0%} ({me.rps:,.0f} req/s) "
                f"| {'met' if ratio >= TARGET_ME_RATIO else 'MISSED'} |"
            )
        elif "postgres" not in self.args.db:
            out.append(
                "| authenticated /users/me on PostgreSQL >= 40 % | not run (no --db postgres) | - |"
            )
        for db in self.args.db:
            idle = self.find(PROBE_IDLE, "full app", db)
            burst = self.find(PROBE_BURST, "full app", db)
            if idle and burst and idle.p99_ms:
                factor = burst.p99_ms / idle.p99_ms
                out.append(
                    f"| /health p99 during login burst <= {TARGET_BURST_P99:g}x idle ({db}) "
                    f"| {factor:.1f}x ({burst.p99_ms:.2f} vs {idle.p99_ms:.2f} ms) "
                    f"| {'met' if factor <= TARGET_BURST_P99 else 'MISSED'} |"
                )
        return out

    def _machine(self) -> list[str]:
        cpu = platform.processor() or "unknown CPU"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        versions = ", ".join(
            f"{pkg} {_version(pkg)}"
            for pkg in (
                "fastapi",
                "starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "sqlalchemy",
                "asyncpg",
                "aiosqlite",
            )
        )
        load_after = os.getloadavg()
        tool = wrk_version() if self.tool == "wrk" else "asyncio fallback (tests/bench/loadgen.py)"
        a = self.args
        return [
            f"- CPU: {cpu}, {os.cpu_count()} logical cores; "
            f"{platform.system()} {platform.release()}",
            f"- Python {platform.python_version()}; {versions}",
            f"- Load generator: {tool}, on the same machine (it shares the cores with the server)",
            "- uvicorn: 1 worker, uvloop + httptools, --no-access-log; the app logs JSON at INFO "
            "(one line per request) to a file",
            f"- Duration {a.duration:g} s per scenario after {a.warmup:g} s warm-up; "
            f"{a.connections} connections (hashing routes {a.hash_connections}, "
            f"latency probe {a.probe_connections} paced at {a.probe_rate:g} req/s each)",
            f"- Load average (1/5/15 min) before: {_load(self.load_before)}; "
            f"after: {_load(load_after)} (above ~0.5: other processes competed for the cores)",
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


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{v:.2f}" for v in values)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--db",
        action="append",
        choices=["sqlite", "postgres"],
        help="database(s) for the full app (repeatable); default: sqlite, "
        "plus postgres when DATABASE_URL is set",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per scenario")
    parser.add_argument("--connections", type=int, default=64, help="connections for cheap routes")
    parser.add_argument(
        "--hash-connections", type=int, default=4, help="connections for sign-up/login (hashing)"
    )
    parser.add_argument(
        "--probe-connections", type=int, default=1, help="connections of the /health p99 probe"
    )
    parser.add_argument(
        "--probe-rate",
        type=float,
        default=200.0,
        help="requests/s per probe connection (paced, open loop)",
    )
    parser.add_argument("--startup-runs", type=int, default=3, help="startups to time (median)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--output", type=Path, help="also write the Markdown report here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an app setting for the full app (repeatable), e.g. PASSWORD_HASH_MAX_CONCURRENCY=1",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the full app's /health and /users/me runs into DIR",
    )
    args = parser.parse_args(argv)
    if not args.db:
        db_url = os.environ.get("DATABASE_URL", "")
        args.db = ["sqlite", "postgres"] if db_url.startswith("postgres") else ["sqlite"]
    args.startup_runs = max(1, args.startup_runs)
    return args


async def amain(argv: list[str]) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(args, Path(tmp))
        print(
            f"bench: tool={bench.tool}, dbs={args.db}, {args.duration:g} s per scenario",
            file=sys.stderr,
        )
        bare = bench.start_bare()
        try:
            for db in args.db:
                await bench.run_full(db)
        finally:
            bare.stop()
        report = bench.report(argv)
    print(report)
    if args.output:
        args.output.write_text(report)
    return 0


def main() -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    return asyncio.run(amain(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
