"""Why a payment failed (declined, insufficient funds, cancelled, expired), as GoldenPay's
result said, so the citizen reads the matching message

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASONS = ("declined", "insufficient_funds", "cancelled", "expired", "failed")


def upgrade() -> None:
    allowed = ", ".join(f"'{reason}'" for reason in REASONS)
    with op.batch_alter_table("payments") as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=24), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_payments_payment_failure_reason"), sa.text(f"failure_reason IN ({allowed})")
        )


def downgrade() -> None:
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_constraint(op.f("ck_payments_payment_failure_reason"), type_="check")
        batch_op.drop_column("failure_reason")
