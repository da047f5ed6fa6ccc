"""Payments indexed by status only where they are pending, not by status as a whole.

Almost every payment is paid, so the whole-column index on ``payments.status`` served only
the worker's look for pending ones; and where the statistics were behind a fast-growing
table it led PostgreSQL to read every paid payment through it when the worker's batch asked
for the paid payments of a hundred applications (``status = 'paid' AND application_id =
ANY(…)``): 23–33 ms a batch, growing with the table, where the application's own index
answers in well under a millisecond. A partial index holds the pending ones alone, which
the worker's sweep asks for (``payments_to_settle``, ``give_up_unopened``).

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_status"))
        batch_op.create_index(
            "ix_payments_pending",
            ["created_at"],
            unique=False,
            postgresql_where=PENDING,
            sqlite_where=PENDING,
        )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_index("ix_payments_pending")
        batch_op.create_index(batch_op.f("ix_payments_status"), ["status"], unique=False)
