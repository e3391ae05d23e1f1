"""Read a link's token from mail printed by the ``console`` mail backend (ADR-0037).

The console backend prints each message to the server's stdout between
``----- mail (MAIL_BACKEND=console) -----`` and ``----- end of mail -----``; ``run.sh``
sends that output to a file and names it in ``MAIL_LOG``. This finds the newest message
to an address with a ``/reset-password`` or ``/verify-email`` link, waiting for the
job that sends it (jobs run after the response), and prints the token.

    python3 examples/mail_link.py LOGFILE ADDRESS reset-password|verify-email [SECONDS]

Development only: production refuses the console backend, and tokens never go to logs.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

BEGIN = "----- mail (MAIL_BACKEND=console) -----"
END = "----- end of mail -----"


def newest_token(text: str, to: str, kind: str) -> str | None:
    """The token of the newest ``kind`` link mailed to ``to`` in ``text``, if any."""
    link = re.compile(rf"/{re.escape(kind)}\?token=([A-Za-z0-9_-]+)")
    found = None
    for block in text.split(BEGIN)[1:]:
        body = block.split(END, 1)[0]
        if f"\nTo: {to}\n" in body and (match := link.search(body)):
            found = match[1]
    return found


def wait_for_token(
    log: str | Path, to: str, kind: str, *, after: str | None = None, within: float = 20.0
) -> str:
    """Poll ``log`` until a ``kind`` mail to ``to`` holds a token other than ``after``."""
    deadline = time.monotonic() + within
    while True:
        token = newest_token(Path(log).read_text(errors="replace"), to, kind)
        if token is not None and token != after:
            return token
        if time.monotonic() > deadline:
            raise SystemExit(f"no {kind} mail to {to} in {log} within {within:g} s")
        time.sleep(0.1)


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    seconds = float(sys.argv[4]) if len(sys.argv) == 5 else 20.0
    print(wait_for_token(sys.argv[1], sys.argv[2], sys.argv[3], within=seconds))
