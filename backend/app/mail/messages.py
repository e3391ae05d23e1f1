"""Messages rendered from templates: a plain-text and an HTML body (ADR-0037).

Each kind of mail is three files in ``templates/``: ``<name>.subject.txt``,
``<name>.txt`` and ``<name>.html``, with ``$placeholders`` (:class:`string.Template`).
Values are escaped for the HTML body; a missing value is an error, never a blank.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cache
from importlib import resources
from string import Template

#: The kinds of mail there are templates for.
TEMPLATES = ("password_reset", "verify_email")


@dataclass(frozen=True)
class Message:
    """One mail to one recipient. ``template`` names its kind (for logs and metrics)."""

    to: str
    subject: str
    text: str
    html: str
    template: str

    def __repr__(self) -> str:  # the bodies hold single-use links: never in a repr or log
        return f"Message(template={self.template!r})"

    def to_email(self, sender: str) -> EmailMessage:
        """A MIME ``multipart/alternative`` message: the text part first, then HTML."""
        email = EmailMessage()
        email["From"] = sender
        email["To"] = self.to
        email["Subject"] = self.subject
        email.set_content(self.text)
        email.add_alternative(self.html, subtype="html")
        return email


@cache
def _template(filename: str) -> Template:
    return Template(resources.files(__package__).joinpath("templates", filename).read_text("utf-8"))


def render(template: str, to: str, **values: str) -> Message:
    """Render the ``template`` mail for ``to``; ``values`` fill its placeholders."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown mail template {template!r}")
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    return Message(
        to=to,
        subject=_template(f"{template}.subject.txt").substitute(values).strip(),
        text=_template(f"{template}.txt").substitute(values),
        html=_template(f"{template}.html").substitute(escaped),
        template=template,
    )
