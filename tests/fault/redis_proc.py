"""Throwaway Redis servers for the Redis fault tests (ADR-0024, SECURITY RL1-RL8).

* :class:`ThrowawayRedis`: a real ``redis-server`` on a free 127.0.0.1 port, no
  persistence, that a test may kill and restart on the same port.
* :class:`SilentServer`: a socket that accepts connections and never answers.

A port nothing listens on: :func:`tests.support.processes.closed_port`.

Never the machine's shared Redis.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from types import TracebackType

from tests.support.processes import free_port


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class ThrowawayRedis:
    """``start`` / ``kill`` / ``restart`` one disposable redis-server."""

    def __init__(self) -> None:
        binary = redis_server_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 5.0) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--protected-mode", "no",
                "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _pings(self.port):
                return
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()


class SilentServer:
    """Accepts TCP connections (the kernel completes the handshake) and never answers.

    :meth:`connections` counts the connections clients have opened so far: a behavioural
    measure of "did the app talk to Redis", unlike a latency, which a loaded machine
    stretches.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.sock.setblocking(False)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def connections(self) -> int:
        """How many connections clients have opened so far.

        A loopback ``connect()`` returns once the kernel has queued the connection for
        ``accept()``, so draining the queue here counts every connection opened before this
        call, without a thread and without a race. The accepted sockets stay open (and
        silent) until :meth:`__exit__`.
        """
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return len(self.accepted)
            self.accepted.append(conn)

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()
