"""Domain registration drift (tests/docs/domains.py)."""

from __future__ import annotations

from pathlib import Path

from tests.docs import domains, drift
from tests.docs.drift import REPO


def test_every_domain_is_in_the_maps_and_the_routes_contract() -> None:
    names = domains.domains(REPO / "backend" / "app")
    assert {"users", "items", "auth", "health"} <= set(names)
    problems = domains.check_domains_registered(REPO, drift.load_pyproject(REPO), names)
    assert not problems, "domain registration drift:\n" + "\n".join(f"  - {p}" for p in problems)


def test_an_unregistered_domain_is_reported(tmp_path: Path) -> None:
    """Planted drift: a ``gadgets`` domain nobody registered."""
    (tmp_path / "backend/app/gadgets").mkdir(parents=True)
    (tmp_path / "backend/app/gadgets/repository.py").write_text("")
    for doc in domains.MAPS:
        (tmp_path / doc).write_text("| `backend/app/items/` | x |\n| `items/` | x |\n")
    pyproject = {"tool": {"importlinter": {"contracts": [
        {"name": domains.ROUTES_CONTRACT, "source_modules": [], "forbidden_modules": []}
    ]}}}  # fmt: skip
    problems = domains.check_domains_registered(tmp_path, pyproject, ["gadgets"])
    assert len(problems) == 5
    assert problems[0].startswith("AGENTS.md has no map row for backend/app/gadgets/")
    assert '"app.gadgets.routes"' in problems[3]
    assert '"app.gadgets.repository"' in problems[4]
