"""The pool's checkout liveness test asks the kernel, not the server (ADR-0042, SECURITY D2).

A pooled connection is idle: nothing may be waiting on its socket. A server that closes
it (restart, shutdown, ``pg_terminate_backend``) leaves its FATAL message and FIN there,
which ``poll()`` sees at once, before the event loop has read them. The end-to-end proof
(a real PostgreSQL restarted under a pooled connection) is
``tests/fault/test_database_faults.py::test_first_query_after_restart_succeeds``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import exc

from app.db.engine import _checkout_liveness, socket_is_idle


@dataclass
class Transport:
    sock: socket.socket | None

    def get_extra_info(self, name: str) -> socket.socket | None:
        return self.sock if name == "socket" else None


class Driver:
    """The two things the check reads from an asyncpg ``Connection``."""

    def __init__(self, sock: socket.socket | None, closed: bool = False) -> None:
        self._transport = Transport(sock) if sock is not None else None
        self.closed = closed

    def is_closed(self) -> bool:
        return self.closed


class Adapted:
    """SQLAlchemy's adapted DBAPI connection: only ``ping`` (the fallback) is used."""

    def __init__(self) -> None:
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1


@dataclass
class Proxy:
    driver_connection: Driver


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, server = socket.socketpair()
    yield ours, server
    ours.close()
    server.close()


def test_an_open_quiet_connection_is_idle(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _ = pair
    assert socket_is_idle(Driver(ours)) is True
    adapted = Adapted()
    _checkout_liveness(adapted, None, Proxy(Driver(ours)))  # passes, and sends nothing
    assert adapted.pings == 0


@pytest.mark.parametrize("server_does", ["close", "send"])
def test_a_connection_the_server_closed_is_replaced_without_a_round_trip(
    pair: tuple[socket.socket, socket.socket], server_does: str
) -> None:
    """Closed (FIN) or a message while idle (PostgreSQL's FATAL before it closes): the
    hook raises ``DisconnectionError``, on which the pool discards the connection and
    checks out another; no ping is sent."""
    ours, server = pair
    if server_does == "close":
        server.close()
    else:
        server.sendall(b"E\x00\x00\x00\x04")
    assert socket_is_idle(Driver(ours)) is False
    adapted = Adapted()
    with pytest.raises(exc.DisconnectionError):
        _checkout_liveness(adapted, None, Proxy(Driver(ours)))
    assert adapted.pings == 0


def test_a_connection_the_driver_knows_is_closed_is_replaced(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, _ = pair
    with pytest.raises(exc.DisconnectionError):
        _checkout_liveness(Adapted(), None, Proxy(Driver(ours, closed=True)))


def test_without_a_reachable_socket_it_pays_the_ping() -> None:
    """A driver that hides its socket still gets a liveness test: the round trip."""
    adapted = Adapted()
    assert socket_is_idle(Driver(None)) is None
    _checkout_liveness(adapted, None, Proxy(Driver(None)))
    assert adapted.pings == 1
