"""``tac_models.imported_at`` defaults to the time of the transaction that writes the row
(``now()``), so that the TAC import's ``COPY`` sends no timestamp: parsing one per row was
a third more of what PostgreSQL spent on a million new TACs (backend CPU 3.2 s against
2.4 s) (docs/benchmarks.md, "TAC
import"). Every row of one import is stamped with that import's time, as before.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tac_models") as batch_op:
        batch_op.alter_column(
            "imported_at", existing_type=sa.DateTime(timezone=True), server_default=sa.func.now()
        )


def downgrade() -> None:
    with op.batch_alter_table("tac_models") as batch_op:
        batch_op.alter_column(
            "imported_at", existing_type=sa.DateTime(timezone=True), server_default=None
        )
