"""users token_version

``users.token_version``: bumped by a password change or a deactivation; access tokens
carry the version they were issued at and older ones are refused (SECURITY T9,
ADR-0018). Existing rows start at 0, so tokens issued before this migration stay
valid until their user's first change.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 04:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add ``users.token_version`` (0 for every existing user)."""
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    """Drop ``users.token_version``."""
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("token_version")
