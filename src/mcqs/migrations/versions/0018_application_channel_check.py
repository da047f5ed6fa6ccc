"""The channel an application was made through (online without login, e-gov, a counter)
kept to the three the code knows, by a CHECK constraint in the database, as its status and
language are.

Revision ID: 0018
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = ("online_anonymous", "egov", "counter")


def upgrade() -> None:
    allowed = ", ".join(f"'{channel}'" for channel in CHANNELS)
    with op.batch_alter_table("applications") as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_applications_application_channel"), sa.text(f"channel IN ({allowed})")
        )


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_constraint(op.f("ck_applications_application_channel"), type_="check")
