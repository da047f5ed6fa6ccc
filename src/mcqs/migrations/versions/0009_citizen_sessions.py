"""Citizen sessions on the server: a sign-in through e-gov is a row, the cookie holds
only its random id (the row keeps a hash of it), and signing out ends it

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "citizen_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("fin", sa.String(length=7), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_token", sa.Text(), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_citizen_sessions")),
    )
    op.create_index(
        "ix_citizen_sessions_signed_in_at", "citizen_sessions", ["signed_in_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_citizen_sessions_signed_in_at", table_name="citizen_sessions")
    op.drop_table("citizen_sessions")
