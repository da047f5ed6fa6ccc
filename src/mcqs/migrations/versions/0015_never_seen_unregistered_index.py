"""The unregistered IMEIs never seen, in a partial index of their own (decision record
0006): a network import asks for each of a file's IMEIs whether it is unknown or so, and
with this index it reads only the primary key's index to know which exist, instead of a
row of the ten-million-row table per IMEI.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text as mcqs.eir.models.NEVER_SEEN_UNREGISTERED.
NEVER_SEEN_UNREGISTERED = (
    "NOT registered AND first_seen_at IS NULL AND grace_until IS NULL AND blacklist_reason IS NULL"
)


def upgrade() -> None:
    op.create_index(
        "ix_eir_imeis_never_seen_unregistered",
        "eir_imeis",
        ["imei_norm"],
        postgresql_where=sa.text(NEVER_SEEN_UNREGISTERED),
        sqlite_where=sa.text(NEVER_SEEN_UNREGISTERED),
    )


def downgrade() -> None:
    op.drop_index("ix_eir_imeis_never_seen_unregistered", table_name="eir_imeis")
