"""Runnable docs: the shell and Python blocks of a page, run against a live server (ADR-0040).

A page's fenced ``bash`` and ``python`` blocks are read in order. Each is either **run** or
marked, on the line right above it, ``<!-- not run: why -->`` (it starts a server, needs
Docker, changes the repository...); :func:`check_marked` reports every block that is
neither, so a new block cannot silently escape.

Expected output sits on its own line under the command, as a comment:

* ``bash``: every full-line ``# ...`` comment is output of the command above it;
* ``python``: a full-line comment right after a line that calls ``print(`` is its output.

In expected output ``<anything>`` matches any text (an id, a token, a time) and ``...``
matches the rest of a line. All ``bash`` blocks of a page run in one shell, in order, so a
variable set in one (``TOKEN=...``) is there in the next; ``http://127.0.0.1:8000`` is
replaced by the live server's URL. ``tests/docs/test_runnable_docs.py`` runs the tutorial
and the examples README this way.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The address the docs use for a local server (``make run``).
DOCS_BASE_URL = "http://127.0.0.1:8000"
LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
_FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(?P<why>.*?)\s*-->\s*$")


@dataclass
class Step:
    """One command (a shell command, or a whole Python block) and its expected output."""

    code: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    """A fenced code block of a page."""

    page: str
    line: int
    language: str
    body: str
    #: Why it is not run (``<!-- not run: why -->``), or None: it is run.
    not_run: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def blocks(page: Path, root: Path) -> list[Block]:
    """The ``bash``/``python`` blocks of ``page`` (other languages are not code to run)."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        language = LANGUAGES.get(match["lang"].lower())
        if language is None:
            continue
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _NOT_RUN.search(before)
        body = "\n".join(line.removeprefix(match["indent"]) for line in match["body"].splitlines())
        found.append(
            Block(
                str(page.relative_to(root)),
                text.count("\n", 0, match.start()) + 1,
                language,
                body,
                marker["why"] if marker else None,
            )
        )
    return found


def check_marked(found: list[Block]) -> list[str]:
    """A ``not run`` marker must say why."""
    return [
        f"{b.where}: `<!-- not run: -->` without a reason: say why the block cannot run"
        for b in found
        if b.not_run is not None and not b.not_run
    ]


def shell_steps(body: str) -> list[Step]:
    """Commands (``\\`` continuations joined) and the ``# ...`` lines under each."""
    steps: list[Step] = []
    pending = ""
    for line in body.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith("#"):
            if steps:
                steps[-1].expected.append(line[2:] if line.startswith("# ") else line[1:])
            continue
        elif line.strip():
            pending = line
        else:
            continue
        if not pending.endswith("\\"):
            steps.append(Step(pending))
            pending = ""
    return steps


def python_expected(body: str) -> list[str]:
    """Full-line comments right after a ``print(`` line: the block's expected output."""
    expected: list[str] = []
    previous = ""
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith("# ") and ("print(" in previous or previous.startswith("# ")):
            expected.append(stripped[2:])
            previous = stripped
            continue
        previous = stripped if stripped.startswith("print(") or "print(" in stripped else ""
    return expected


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; ``<...>`` matches any text, ``...`` the rest of the line."""
    if len(expected) != len(actual):
        return False
    for want, got in zip(expected, actual, strict=True):
        pattern = "".join(
            ".+?" if part.startswith("<") else ".*" if part == "..." else re.escape(part)
            for part in re.split(r"(<[^<>\s][^<>]*>|\.\.\.)", want)
            if part
        )
        if not re.fullmatch(pattern, got.rstrip()):
            return False
    return True


_MARK = "@@runnable-step-{}@@"


def run_shell(
    found: list[Block], base_url: str, env: Mapping[str, str], cwd: Path, timeout: float = 120
) -> list[str]:
    """Run every ``bash`` block that is not marked, in one shell; one problem per step
    whose output differs or that fails."""
    steps = [
        (block, step)
        for block in found
        if block.language == "bash" and block.not_run is None
        for step in shell_steps(block.body)
    ]
    script = ["set -uo pipefail"]
    for i, (_, step) in enumerate(steps):
        script += [f"echo '{_MARK.format(i)}'", step.code.replace(DOCS_BASE_URL, base_url)]
        script.append(f'__status=$?; echo; echo "{_MARK.format(i)} exit $__status"')
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )
    problems = []
    for i, (block, step) in enumerate(steps):
        mark = _MARK.format(i)
        section = done.stdout.partition(mark + "\n")[2].partition(mark + " exit ")
        output = [line for line in section[0].splitlines() if line.strip()]
        status = section[2].split("\n", 1)[0].strip() or "?"
        command = step.code.splitlines()[0]
        if status != "0":
            problems.append(f"{block.where}: `{command}` exited {status}: {done.stderr[-500:]}")
        elif not matches(step.expected, output):
            problems.append(
                f"{block.where}: `{command}` printed {output!r}, the page says {step.expected!r}"
            )
    return problems


def run_python(
    block: Block, base_url: str, env: Mapping[str, str], cwd: Path, python: str
) -> list[str]:
    """Run one ``python`` block; a problem when it fails or prints other than documented."""
    done = subprocess.run(
        [python, "-c", block.body.replace(DOCS_BASE_URL, base_url)],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        return [f"{block.where}: the Python block failed: {done.stderr.strip()[-800:]}"]
    expected = python_expected(block.body)
    output = [line for line in done.stdout.splitlines() if line.strip()]
    if not matches(expected, output):
        return [f"{block.where}: the Python block printed {output!r}, the page says {expected!r}"]
    return []
