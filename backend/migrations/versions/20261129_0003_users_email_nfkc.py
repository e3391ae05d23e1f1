"""users email NFKC

Stored addresses take the canonical form of ADR-0031 as it now is: Unicode NFKC, then
lower-cased. Until now the form was ``strip().lower()``, so an address typed with
compatibility characters (a fullwidth ``kate@example.com``, a ligature) was stored as
typed; its owner could no longer log in (the login input is normalised to
``kate@example.com``), and the plain spelling could sign up as a second account.

Each such row is rewritten to the canonical form, unless that form already belongs to
another row: then both rows stay as they are and a warning names their ids (an operator
decides which account keeps the address; logins with either spelling reach the plain
one). The function is frozen here on purpose: a migration must not change meaning when
``app.users.models.normalize_email`` changes later.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 09:00:00

"""

import logging
import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger("alembic.runtime.migration")

_users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String(254)))


def _canonical(email: str) -> str:
    """The ADR-0031 form at this revision: NFKC, trimmed, lower-cased, NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", email).strip().lower())


def _rewrite(bind: sa.Connection, form: Callable[[str], str]) -> None:
    """Set every row's email to ``form(email)`` unless another row already holds it."""
    rows = bind.execute(sa.select(_users.c.id, _users.c.email)).all()
    taken = {email for _, email in rows}
    for user_id, email in rows:
        target = form(email)
        if target == email:
            continue
        if target in taken:
            logger.warning(
                "users.email not normalised: another account already has the canonical "
                "form of user %s's address; decide which account keeps it",
                user_id,
            )
            continue
        bind.execute(sa.update(_users).where(_users.c.id == user_id).values(email=target))
        taken.discard(email)
        taken.add(target)


def upgrade() -> None:
    """Rewrite stored addresses to NFKC + lower case (conflicts are left and logged)."""
    _rewrite(op.get_bind(), _canonical)


def downgrade() -> None:
    """Revision 0002's rule (``strip().lower()``) holds for every NFKC + lower-case form,
    so re-applying it changes nothing the upgrade wrote; the spellings the upgrade
    replaced are not kept and cannot be restored (they named the same address)."""
    _rewrite(op.get_bind(), lambda email: email.strip().lower())
