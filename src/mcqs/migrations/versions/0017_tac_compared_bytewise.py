"""``tac_models.tac`` compared byte by byte (``COLLATE "C"``) on PostgreSQL. A TAC is a code
of eight digits, not words: the database's language rules (``C.UTF-8``, or an Azerbaijani
or English locale in production) order digits as bytes do, only more slowly. Every row the
TAC import writes is compared a few times in the primary key's index: PostgreSQL's CPU for
a million new TACs was 2.53 s with ``C.UTF-8``, 3.15 s with ``az-Latn-AZ-x-icu`` and 2.02 s
with ``C`` (docs/benchmarks.md, "TAC import"). SQLite compares bytes already.

The primary key's index is rebuilt; no row changes.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "tac_models",
            "tac",
            type_=sa.String(length=8, collation="C"),
            existing_type=sa.String(length=8),
            existing_nullable=False,
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "tac_models",
            "tac",
            type_=sa.String(length=8),
            existing_type=sa.String(length=8, collation="C"),
            existing_nullable=False,
        )
