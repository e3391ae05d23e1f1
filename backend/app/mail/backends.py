"""Mail backends behind one protocol: ``console``, ``smtp``, ``memory`` (ADR-0037).

Only jobs call :meth:`MailBackend.send` (mail never goes out inside a request). Each
send writes one ``event=mail.sent`` line with the template and a digest of the
recipient: never the address, the subject's values or a body (the bodies carry
single-use links, SECURITY E3, M4).

* ``console`` (development default): the whole message is printed to **stdout**, not
  through logging, between two marker lines, so a developer (or ``make examples``)
  can open the link. Refused with ``APP_ENV=prod``.
* ``smtp``: :func:`aiosmtplib.send` with ``SMTP_SECURITY`` (``none``, ``starttls``,
  ``tls``), optional login and ``SMTP_TIMEOUT_SECONDS`` on every step. A failure
  raises: the job retries it.
* ``memory``: keeps messages in :attr:`MemoryBackend.outbox` (tests).
"""

from __future__ import annotations

import hashlib
import logging
import sys
from typing import Protocol, TextIO

import aiosmtplib

from app.core.settings import Settings
from app.mail.messages import Message

logger = logging.getLogger("app.mail")

CONSOLE_BEGIN = "----- mail (MAIL_BACKEND=console) -----"
CONSOLE_END = "----- end of mail -----"


def address_fingerprint(address: str) -> str:
    """A short digest naming a recipient in logs (never the address)."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


class MailBackend(Protocol):
    """What every backend implements."""

    name: str

    async def send(self, message: Message) -> None: ...


def _sent(backend: str, message: Message) -> None:
    logger.info(
        "mail sent",
        extra={
            "event": "mail.sent",
            "outcome": "sent",
            "backend": backend,
            "template": message.template,
            "to_fp": address_fingerprint(message.to),
        },
    )


class ConsoleBackend:
    """Print each message to a stream (stdout): development only."""

    name = "console"

    def __init__(self, sender: str, stream: TextIO | None = None) -> None:
        self.sender = sender
        self.stream = stream

    async def send(self, message: Message) -> None:
        stream = self.stream or sys.stdout
        stream.write(
            f"{CONSOLE_BEGIN}\nFrom: {self.sender}\nTo: {message.to}\n"
            f"Subject: {message.subject}\n\n{message.text.rstrip()}\n{CONSOLE_END}\n"
        )
        stream.flush()
        _sent(self.name, message)


class MemoryBackend:
    """Keep messages in :attr:`outbox` (tests; refused in production)."""

    name = "memory"

    def __init__(self, sender: str) -> None:
        self.sender = sender
        self.outbox: list[Message] = []

    async def send(self, message: Message) -> None:
        self.outbox.append(message)
        _sent(self.name, message)


class SMTPBackend:
    """Send through an SMTP server; one connection per message."""

    name = "smtp"

    def __init__(self, settings: Settings) -> None:
        self.sender = settings.mail_from
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.username = settings.smtp_username
        self.password = settings.smtp_password
        self.security = settings.smtp_security
        self.timeout = settings.smtp_timeout_seconds

    async def send(self, message: Message) -> None:
        await aiosmtplib.send(
            message.to_email(self.sender),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password.get_secret_value() if self.password else None,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            timeout=self.timeout,
        )
        _sent(self.name, message)


def build_backend(settings: Settings) -> MailBackend:
    """The backend ``MAIL_BACKEND`` names."""
    if settings.mail_backend == "smtp":
        return SMTPBackend(settings)
    if settings.mail_backend == "memory":
        return MemoryBackend(settings.mail_from)
    return ConsoleBackend(settings.mail_from)
