"""The model registry: importing this module registers every table on ``Base.metadata``.

Alembic's ``env.py`` and the test schema fixtures import it. It sits at the top
of the package (next to ``main``) because it imports every domain. Add each new
domain's models module here (ADR-0009).
"""

from __future__ import annotations

from app.auth.models import AccountToken
from app.db.base import Base
from app.items.models import Item
from app.sessions.models import LoginSession, RefreshToken
from app.users.models import User

__all__ = ["AccountToken", "Base", "Item", "LoginSession", "RefreshToken", "User"]
