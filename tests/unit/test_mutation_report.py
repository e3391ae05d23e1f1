"""The kill-rate report of ``make mutation`` (tests/support/mutation_report.py), fed a
made-up ``mutmut results --all true`` listing."""

from __future__ import annotations

import io

import pytest

from tests.support import mutation_report
from tests.support.mutation_report import ListingError, parse, render

LISTING = """\
    app.core.errors.x_error_response__mutmut_1: killed
    app.core.errors.x_error_response__mutmut_2: killed
    app.core.errors.x_error_response__mutmut_3: timeout
    app.core.errors.xǁAppErrorǁ__init____mutmut_1: caught by type check
    app.core.errors.xǁAppErrorǁ__init____mutmut_2: skipped

    app.users.service.xǁUserServiceǁdelete__mutmut_1: killed
    app.users.service.xǁUserServiceǁdelete__mutmut_2: survived
    app.users.service.x_helper__mutmut_1: no tests
    app.users.service.x_helper__mutmut_2: not checked
"""


def test_mutants_are_counted_by_module_functions_and_methods_alike() -> None:
    by_module = parse(LISTING.splitlines())
    assert by_module == {
        "app.core.errors": {"killed": 2, "timeout": 1, "caught by type check": 1, "skipped": 1},
        "app.users.service": {"killed": 1, "survived": 1, "no tests": 1, "not checked": 1},
    }


def test_table_rates_and_modules_under_the_minimum() -> None:
    table, below = render(parse(LISTING.splitlines()), minimum=85)
    rows = table.splitlines()
    assert rows[0].split() == ["module", "killed/total", "rate", "undetected"]
    # Killed, timed out and type-check refusals are kills; skipped is out of the total.
    assert rows[1].split() == ["app.core.errors", "4/4", "100.0%", "-"]
    assert rows[2].split() == [
        "app.users.service", "1/4", "25.0%", "1", "no", "tests,", "1", "not", "checked,",
        "1", "survived",
    ]  # fmt: skip
    assert rows[3].split()[:3] == ["all", "5/8", "62.5%"]
    assert below == ["app.users.service"]
    assert render(parse(LISTING.splitlines()), minimum=25)[1] == []


def test_exit_code_follows_the_minimum(tmp_path, capsys) -> None:
    listing = tmp_path / "results.txt"
    listing.write_text(LISTING, encoding="utf-8")
    assert mutation_report.main([str(listing)]) == 1
    out = capsys.readouterr().out
    assert "FAIL: under 85% killed: app.users.service" in out
    assert "warning: 1 mutants were not checked" in out
    assert mutation_report.main(["--min", "0", str(listing)]) == 0
    assert "FAIL" not in capsys.readouterr().out


def test_all_killed_passes_from_stdin(monkeypatch, capsys) -> None:
    listing = "app.db.session.x_after_commit__mutmut_1: killed\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(listing))
    assert mutation_report.main(["-"]) == 0
    assert "app.db.session" in capsys.readouterr().out


@pytest.mark.parametrize(
    "listing",
    [
        "app.core.errors.x_error_response__mutmut_1 killed\n",  # no colon
        "app.core.errors.error_response__mutmut_1: killed\n",  # not a mangled name
        "app.core.errors.x_error_response: killed\n",  # no mutant number
    ],
)
def test_an_unexpected_line_is_an_error_not_a_wrong_rate(listing, tmp_path, capsys) -> None:
    with pytest.raises(ListingError):
        parse(listing.splitlines())
    path = tmp_path / "results.txt"
    path.write_text(listing, encoding="utf-8")
    assert mutation_report.main([str(path)]) == 2
    assert "is not '<mutant>: <status>'" in capsys.readouterr().err


def test_an_empty_listing_is_an_error(tmp_path, capsys) -> None:
    path = tmp_path / "results.txt"
    path.write_text("\n", encoding="utf-8")
    assert mutation_report.main([str(path)]) == 2
    assert "no mutants" in capsys.readouterr().err
