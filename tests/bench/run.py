"""``make bench``: the full app against the least code doing the same work (ADR-0030).

    python -m tests.bench.run [--db sqlite|postgres ...] [--duration 5] [--connections 8 ...]

For each database it serves the full app and, beside it in the same run, its
references: bare FastAPI for ``/health`` (``bare_app.py``) and raw-driver FastAPI apps
for ``/users/me`` and the items list (``reference_app.py``). Each scenario runs at
every ``--connections`` count, the reference right before the app, so each ratio
compares two adjacent runs. Then sign-up, login, and a paced ``/health`` probe idle
and during a login burst. Prints a Markdown report (``report.py``). A benchmark,
never a test: it always exits 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bench.loadgen import Result, Scenario, run_one, run_together, wrk_available
from tests.bench.report import (
    FULL,
    HEALTH,
    ITEMS,
    ME,
    PROBE_BURST,
    PROBE_IDLE,
    REFERENCE,
    Report,
    Row,
)
from tests.bench.servers import (
    BENCH_PASSWORD,
    ITEMS_PER_USER,
    Server,
    app_env,
    base_env,
    make_user,
    migrate,
    process_cpu_seconds,
)

PATHS = {HEALTH: "/health", ME: "/api/v1/users/me", ITEMS: f"/api/v1/items?limit={ITEMS_PER_USER}"}


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.tool = args.tool if args.tool != "auto" else ("wrk" if wrk_available() else "python")
        self.run_id = secrets.token_hex(4)
        self.report = Report(args, self.tool, os.getloadavg())
        self.bare: Server  # set by start_bare()

    async def measure(self, scenario: Scenario, server: Server, db: str) -> Result:
        if self.args.warmup > 0:
            await run_one(self._short(scenario), self.tool, self.args.threads)
        spy = self._start_profiler(scenario, server, db)
        cpu_before = process_cpu_seconds(server.pid)
        result = await run_one(scenario, self.tool, self.args.threads)
        cpu = process_cpu_seconds(server.pid) - cpu_before
        if spy is not None:
            await asyncio.to_thread(spy.wait, scenario.duration + 30)
        cpu_ms = cpu * 1000 / result.requests if result.requests else None
        row = Row(scenario.name, server.label, db, scenario.connections, result, cpu_ms)
        self.report.rows.append(row)
        return result

    def _start_profiler(
        self, scenario: Scenario, server: Server, db: str
    ) -> subprocess.Popen[bytes] | None:
        """py-spy on the full app during its throughput runs when ``--profile DIR``."""
        if not self.args.profile or server.label != FULL or scenario.name not in PATHS:
            return None
        self.args.profile.mkdir(parents=True, exist_ok=True)
        slug = scenario.path.strip("/").replace("/", "-").split("?")[0]
        out = self.args.profile / f"{db}-{slug}-{scenario.connections}.txt"
        self.report.profiles.append(out)
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                f"--pid={server.pid}",
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

    def _short(self, scenario: Scenario) -> Scenario:
        fields = {**scenario.__dict__, "duration": self.args.warmup}
        return Scenario(**{**fields, "prefix": f"{scenario.prefix}-warm"})

    def scenario(
        self, name: str, server: Server, path: str, connections: int, **kw: object
    ) -> Scenario:
        slug = name.split()[-1].strip("/").replace("/", "-").split("?")[0]
        return Scenario(
            name=name,
            base_url=server.base_url,
            path=path,
            connections=connections,
            duration=self.args.duration,
            password=BENCH_PASSWORD,
            prefix=f"bench-{self.run_id}-{slug}",
            **kw,  # type: ignore[arg-type]
        )

    def start_bare(self) -> None:
        """Serve bare FastAPI for the whole run (idle between its measurements)."""
        self.bare = Server("tests.bench.bare_app:app", REFERENCE, base_env(), self.log("bare"))
        self.report.startup["bare FastAPI"] = [self.bare.start()]

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    async def compare(self, name: str, db: str, servers: tuple[Server, Server], token: str) -> None:
        """``name`` on the reference then on the full app, at every connection count."""
        headers = {"Authorization": f"Bearer {token}"} if name != HEALTH else {}
        for conns in self.args.connections:
            for server in servers:
                scenario = self.scenario(name, server, PATHS[name], conns, headers=headers)
                await self.measure(scenario, server, db)

    async def run_full(self, db: str) -> None:
        if db == "sqlite":
            url = f"sqlite+aiosqlite:///{self.workdir / 'bench.db'}"
        else:
            url = os.environ.get("DATABASE_URL", "")
            if not url.startswith("postgres"):
                raise SystemExit("--db postgres needs DATABASE_URL=postgresql://...")
        env = app_env(url, self.args.set)
        migrate(env)
        full = Server("app.main:app", FULL, env, self.log(f"app-{db}"))
        reference = Server("tests.bench.reference_app:app", REFERENCE, env, self.log(f"ref-{db}"))
        runs = []
        try:
            for _ in range(self.args.startup_runs - 1):
                runs.append(full.start())
                full.stop()
            runs.append(full.start())
            self.report.startup[f"full app ({db})"] = runs
            email = f"bench-{self.run_id}-{db}@example.com"
            token = make_user(full.base_url, email)
            reference.start()
            await self.compare(HEALTH, db, (self.bare, full), token)
            await self.compare(ME, db, (reference, full), token)
            await self.compare(ITEMS, db, (reference, full), token)
            reference.stop()
            await self.hashing_and_probe(db, full, email)
        finally:
            reference.stop()
            full.stop()

    async def hashing_and_probe(self, db: str, server: Server, email: str) -> None:
        """Sign-up, login (argon2id-bound), and the paced /health probe idle and during a
        login burst."""
        hconns, pconns = self.args.hash_connections, self.args.probe_connections
        signup = self.scenario("POST /api/v1/users", server, "/api/v1/users", hconns, body="signup")
        await self.measure(signup, server, db)
        login = self.scenario(
            "POST /api/v1/auth/login",
            server,
            "/api/v1/auth/login",
            hconns,
            body="login",
            login_email=email,
        )
        await self.measure(login, server, db)
        rate = self.args.probe_rate
        await self.measure(
            self.scenario(PROBE_IDLE, server, "/health", pconns, rate=rate), server, db
        )
        during = self.scenario(PROBE_BURST, server, "/health", pconns, rate=rate)
        probe, burst = await run_together([during, login], self.tool, self.args.threads)
        self.report.rows.append(Row(during.name, FULL, db, pconns, probe))
        self.report.rows.append(Row("POST /api/v1/auth/login (the burst)", FULL, db, hconns, burst))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add(
        "--db",
        action="append",
        choices=["sqlite", "postgres"],
        help="database(s) for the full "
        "app (repeatable); default: sqlite, plus postgres when DATABASE_URL is set",
    )
    add("--duration", type=float, default=5.0, help="seconds per scenario")
    add("--warmup", type=float, default=1.0, help="warm-up seconds per scenario")
    add(
        "--connections",
        type=int,
        action="append",
        help="connection counts of the compared scenarios (repeatable; default 8 and 64)",
    )
    add("--hash-connections", type=int, default=4, help="connections for sign-up/login (hashing)")
    add("--probe-connections", type=int, default=1, help="connections of the /health p99 probe")
    add("--probe-rate", type=float, default=200.0, help="requests/s per probe connection (paced)")
    add("--startup-runs", type=int, default=3, help="startups to time (median)")
    add("--threads", type=int, default=1, help="wrk threads")
    add("--tool", choices=["auto", "wrk", "python"], default="auto")
    add("--output", type=Path, help="also write the Markdown report here")
    add(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an app setting for the full app and its reference (repeatable), e.g. DB_POOL_SIZE=20",
    )
    add(
        "--profile",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the full app's compared runs into DIR",
    )
    args = parser.parse_args(argv)
    if not args.db:
        db_url = os.environ.get("DATABASE_URL", "")
        args.db = ["sqlite", "postgres"] if db_url.startswith("postgres") else ["sqlite"]
    args.connections = sorted(set(args.connections or [8, 64]))
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
        bench.start_bare()
        try:
            for db in args.db:
                await bench.run_full(db)
        finally:
            bench.bare.stop()
        report = bench.report.render(argv)
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
