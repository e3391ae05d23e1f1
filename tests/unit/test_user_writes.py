"""Every write to a user goes through ``app.users.service.UserService`` (ADR-0025).

The service is the one path that invalidates the user cache after a write; a write made
anywhere else (through the repository, or by setting a column on a ``User`` object and
letting the session flush it) would leave a stale cached payload until its TTL. This test
reads the application's source and fails on any such second path.
"""

from __future__ import annotations

import ast
import inspect

from app.users.models import User
from app.users.repository import UserRepository
from tests.support.repo import REPO_ROOT as REPO

APP = REPO / "backend" / "app"
THE_WRITE_PATH = APP / "users" / "service.py"
REPOSITORY = APP / "users" / "repository.py"
READ_PREFIXES = ("get", "list", "count")


def repository_writes() -> set[str]:
    """Public methods of the user repository that are not reads (derived, not listed)."""
    return {
        name
        for name, _ in inspect.getmembers(UserRepository, inspect.iscoroutinefunction)
        if not name.startswith("_") and not name.startswith(READ_PREFIXES)
    }


def user_columns() -> set[str]:
    return set(User.__table__.columns.keys()) - {"id"}


def second_write_paths(source: str, name: str, writes: set[str], columns: set[str]) -> list[str]:
    """``name:line what`` for each repository write call or column assignment in ``source``."""
    tree = ast.parse(source, filename=name)
    repo_names = {  # names bound to UserRepository(...) (``repo``, ``self.users``)
        ast.unparse(target)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func).endswith("UserRepository")
        for target in node.targets
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value)
            is_repo = receiver in repo_names or receiver.startswith("UserRepository(")
            if is_repo and node.func.attr in writes:
                found.append(f"{name}:{node.lineno} {ast.unparse(node.func)}(...)")
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in columns:
                    found.append(f"{name}:{node.lineno} {ast.unparse(target)} = ...")
    return found


def test_every_user_write_goes_through_the_user_service() -> None:
    """ADR-0025: outside the users service (and the repository it calls) no code calls a
    repository write or assigns a ``User`` column."""
    writes, columns = repository_writes(), user_columns()
    assert {"create", "delete", "change_roles", "replace_password_hash"} <= writes
    offenders = [
        hit
        for path in sorted(APP.rglob("*.py"))
        if path not in (THE_WRITE_PATH, REPOSITORY)
        for hit in second_write_paths(
            path.read_text(), str(path.relative_to(REPO)), writes, columns
        )
    ]
    assert offenders == [], (
        "Write users through app.users.service.UserService (it invalidates the cache): "
        + "; ".join(offenders)
    )


def test_the_check_finds_a_second_write_path() -> None:
    """The checker itself: a repository write and a column assignment are both found."""
    planted = (
        "async def f(session, user):\n"
        "    repo = UserRepository(session)\n"
        "    await repo.change_roles(user, is_active=False, is_superuser=None)\n"
        "    user.hashed_password = 'x'\n"
    )
    hits = second_write_paths(planted, "planted.py", repository_writes(), user_columns())
    assert sorted(hits) == [
        "planted.py:3 repo.change_roles(...)",
        "planted.py:4 user.hashed_password = ...",
    ]
