"""A throwaway PostgreSQL cluster the fault tests may stop, restart and starve (ADR-0030).

The cluster lives in a temporary directory owned by the ``postgres`` OS user
(PostgreSQL refuses to run as root), listens on ``127.0.0.1`` on a free port,
keeps its unix socket inside that directory, trusts local connections and runs
with ``fsync=off``. It never touches the machine's shared server.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.processes import free_port

#: Where Debian/Ubuntu and the official images keep the server binaries.
_SEARCH_DIRS = ("/usr/local/bin", *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
_OS_USER = "postgres"


def find_binaries() -> tuple[str, str] | None:
    """``(initdb, pg_ctl)`` paths, or ``None`` when the server binaries are not installed."""
    for directory in (*os.environ.get("PATH", "").split(os.pathsep), *_SEARCH_DIRS):
        initdb, pg_ctl = Path(directory, "initdb"), Path(directory, "pg_ctl")
        if initdb.is_file() and pg_ctl.is_file():
            return str(initdb), str(pg_ctl)
    return None


def unavailable_reason() -> str | None:
    """Why a throwaway cluster cannot be started here, or ``None`` if it can."""
    if find_binaries() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "starting a throwaway PostgreSQL needs root (to run initdb/pg_ctl as `postgres`)"
    if shutil.which("runuser") is None:
        return "`runuser` is missing (needed to run initdb/pg_ctl as `postgres`)"
    try:
        import pwd

        pwd.getpwnam(_OS_USER)
    except KeyError:
        return "there is no `postgres` OS user to run the throwaway server as"
    return None


class ThrowawayPostgres:
    """One disposable cluster: :meth:`start`, :meth:`stop`, :meth:`restart`, :meth:`destroy`."""

    def __init__(self) -> None:
        binaries = find_binaries()
        if binaries is None:  # pragma: no cover - guarded by unavailable_reason()
            raise RuntimeError("PostgreSQL binaries not found")
        self._initdb, self._pg_ctl = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fault-pg-"))
        shutil.chown(self.root, user=_OS_USER)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._as_postgres(
            self._initdb,
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the cluster's ``postgres`` database."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", _OS_USER, "--", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.root} -F "
            "-c max_connections=30 -c shared_buffers=16MB"
        )
        self._as_postgres(
            self._pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )

    def stop(self) -> None:
        """Stop the server at once, closing every client connection (``-m fast``)."""
        self._as_postgres(self._pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        result = subprocess.run(
            ["runuser", "-u", _OS_USER, "--", self._pg_ctl, "-D", str(self.data), "status"],
            capture_output=True,
            check=False,
            timeout=30,
        )
        return result.returncode == 0

    def destroy(self) -> None:
        """Stop the server if it runs and delete the cluster."""
        try:
            if self.is_running():
                self._as_postgres(
                    self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"
                )
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
