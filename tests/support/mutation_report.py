"""Per-module kill rates of a mutmut run: the last step of ``make mutation``.

Reads the listing ``mutmut results --all true`` prints, one mutant a line::

    <module>.x_error_response__mutmut_3: killed
    <module>.xǁUserServiceǁdelete__mutmut_7: survived

and prints ``module  killed/total  rate`` per module (plus the undetected mutants by
status), then exits 1 when a module's rate is under ``--min`` percent (85 by default;
``--min 0`` only reports). A mutant counts as *killed* when a test failed on it
(``killed``), it ran out of time (``timeout``) or the type checker refused it; ``skipped``
mutants are left out of the total; every other status (``survived``, ``no tests``,
``not checked``, ``suspicious``, ...) counts against the rate. A line the listing format
does not explain is an error (exit 2): a silent misread would report a wrong rate.

Usage: ``python -m tests.support.mutation_report [--min 85] mutants/results.txt`` (``-``
reads standard input). See docs/testing.md, "Mutation testing".
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Statuses that mean the tests (or the type checker) noticed the mutant.
DETECTED = frozenset({"killed", "timeout", "caught by type check"})
#: Statuses left out of the total (mutmut was told not to run them).
EXCLUDED = frozenset({"skipped"})
DEFAULT_MIN = 85.0

#: ``<module>.x_<function>__mutmut_<n>: <status>`` or ``<module>.xǁ<Class>ǁ<method>...``
LINE = re.compile(r"^(?P<module>[\w.]+?)\.x(?:_|ǁ)\S*__mutmut_\d+: (?P<status>[a-z ]+)$")


class ListingError(ValueError):
    """A line of the listing is not ``<mutant>: <status>``."""


def parse(lines: Iterable[str]) -> dict[str, Counter[str]]:
    """Mutant statuses counted by module, from ``mutmut results --all true`` lines."""
    by_module: dict[str, Counter[str]] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        match = LINE.match(line)
        if match is None:
            raise ListingError(f"line {number} is not '<mutant>: <status>': {line!r}")
        by_module.setdefault(match["module"], Counter())[match["status"]] += 1
    return by_module


def score(statuses: Counter[str]) -> tuple[int, int]:
    """``(killed, total)`` of one module's statuses."""
    killed = sum(n for status, n in statuses.items() if status in DETECTED)
    total = sum(n for status, n in statuses.items() if status not in EXCLUDED)
    return killed, total


def rate(killed: int, total: int) -> float:
    """Percentage killed; a module without mutants has nothing to miss (100)."""
    return 100.0 * killed / total if total else 100.0


def render(by_module: dict[str, Counter[str]], minimum: float) -> tuple[str, list[str]]:
    """The table, and the modules under ``minimum`` percent."""
    width = max([len("module"), len("all"), *map(len, by_module)])
    lines = [f"{'module':<{width}}  {'killed/total':>12}  {'rate':>6}  undetected"]
    below: list[str] = []
    everything: Counter[str] = Counter()
    for module in sorted(by_module):
        statuses = by_module[module]
        everything.update(statuses)
        killed, total = score(statuses)
        if rate(killed, total) < minimum:
            below.append(module)
        lines.append(_row(module, statuses, width))
    lines.append(_row("all", everything, width))
    return "\n".join(lines), below


def _row(name: str, statuses: Counter[str], width: int) -> str:
    killed, total = score(statuses)
    missed = ", ".join(
        f"{n} {status}"
        for status, n in sorted(statuses.items())
        if status not in DETECTED | EXCLUDED
    )
    fraction = f"{killed}/{total}"
    return f"{name:<{width}}  {fraction:>12}  {rate(killed, total):5.1f}%  {missed or '-'}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listing", help="output of `mutmut results --all true`, or - for stdin")
    parser.add_argument(
        "--min",
        type=float,
        default=DEFAULT_MIN,
        help=f"fail when a module's kill rate is under this percentage ({DEFAULT_MIN:g})",
    )
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.listing == "-" else Path(args.listing).read_text("utf-8")
    try:
        by_module = parse(text.splitlines())
    except ListingError as exc:
        print(f"mutation report: {exc}", file=sys.stderr)
        return 2
    if not by_module:
        print("mutation report: no mutants in the listing (did mutmut run?)", file=sys.stderr)
        return 2
    table, below = render(by_module, args.min)
    print(table)
    unchecked = sum(statuses["not checked"] for statuses in by_module.values())
    if unchecked:
        print(f"warning: {unchecked} mutants were not checked (an interrupted run?)")
    if below:
        print(f"FAIL: under {args.min:g}% killed: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
