"""Mail helpers for the job and mail tests: read links out of delivered messages, run
a real SMTP server (aiosmtpd) on a free 127.0.0.1 port, and drain the in-process queue."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email.message import Message as MimeMessage
from typing import Any

from aiosmtpd.controller import Controller
from fastapi import FastAPI

from app.jobs.queues import ArqQueue, InProcessQueue
from app.mail.backends import MemoryBackend
from app.mail.messages import Message

LINK = re.compile(r"(https?://\S+/(reset-password|verify-email)\?token=([A-Za-z0-9_-]+))")


def token_in(text: str, path: str) -> str:
    """The token of the ``/{path}?token=`` link in ``text`` (exactly one such link)."""
    found = {match[2] for match in LINK.findall(text) if match[1] == path}
    assert len(found) == 1, f"expected one {path} link, found {len(found)}"
    return found.pop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def outbox(app: FastAPI) -> list[Message]:
    """The messages the app's ``memory`` backend holds."""
    backend = app.state.container.mail
    assert isinstance(backend, MemoryBackend), "build the app with mail_backend='memory'"
    return backend.outbox


async def drain(app: FastAPI) -> None:
    """Wait until the app's in-process jobs (or its arq queue's fallback) are done."""
    queue = app.state.container.jobs
    local = queue.fallback if isinstance(queue, ArqQueue) else queue
    assert isinstance(local, InProcessQueue)
    await local.drain()


class _Recorder:
    """aiosmtpd handler keeping every accepted message."""

    def __init__(self) -> None:
        self.messages: list[MimeMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SMTPServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1; :attr:`messages` holds what it accepted."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.recorder = _Recorder()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[MimeMessage]:
        return self.recorder.messages

    def start(self) -> SMTPServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[SMTPServer]:
    server = SMTPServer(port).start()
    try:
        yield server
    finally:
        server.stop()


def body_text(message: MimeMessage) -> str:
    """The text/plain part of a received message."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")
