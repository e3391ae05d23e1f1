"""The offline validators of ``make validate`` accept the repository and reject mistakes (ADR-0029).

For each validator (hadolint, compose-spec schema, Kubernetes schemas, actionlint,
ShellCheck) the
committed files pass, and a copy with one planted mistake fails: a validator that
silently accepts everything would otherwise look exactly like a clean repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.repo import load_module

ROOT = Path(__file__).resolve().parents[2]

validate = load_module(ROOT / ".ci" / "validate_deploy.py", "validate_deploy")
NAMES = [v.name for v in validate.VALIDATORS]


def _validator(name: str) -> object:
    return next(v for v in validate.VALIDATORS if v.name == name)


def test_every_delivery_file_kind_has_a_validator() -> None:
    assert NAMES == ["hadolint", "compose-spec", "kubernetes", "actionlint", "shellcheck"]


@pytest.mark.parametrize("name", NAMES)
def test_repository_files_pass(name: str) -> None:
    validator = _validator(name)
    paths = validator.files(ROOT)  # type: ignore[attr-defined]
    assert paths, f"{name} found nothing to check"
    result = validate.run(validator, paths)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_planted_mistake_fails(name: str, tmp_path: Path) -> None:
    validator = _validator(name)
    planted = validate.plant_mistake(validator, tmp_path)
    result = validate.run(validator, [planted])
    assert result.returncode != 0, f"{name} accepted a planted mistake"
    output = result.stdout + result.stderr
    # The failure names the mistake, not some unrelated problem of the copy.
    expected = {
        "hadolint": "missing whitespace",
        "compose-spec": "retsart",
        "kubernetes": "readinessProbes",
        "actionlint": "expression",
        "shellcheck": "SC2068",
    }[name]
    assert expected in output, output
