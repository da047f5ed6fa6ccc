"""The EIR at national scale (decision record 0006): network sightings without the per-row
foreign key to operators and without the (operator, month) index that nothing reads, so a
day's file merges at several times the speed; and a partial covering index on eir_imeis of
the rows that can be blacklisted, so a list run reads those instead of every IMEI.

Revision ID: 0013
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text as mcqs.eir.models.BLACKLISTABLE, which the list queries repeat so that
# PostgreSQL can prove they only want rows of the index.
BLACKLISTABLE = (
    "blacklist_reason = 'stolen' OR clone OR (NOT registered AND grace_until IS NOT NULL)"
)


def upgrade() -> None:
    op.drop_index("ix_network_sightings_operator_month", table_name="network_sightings")
    with op.batch_alter_table("network_sightings") as batch_op:
        batch_op.drop_constraint("fk_network_sightings_operator_id_operators", type_="foreignkey")
    op.create_index(
        "ix_eir_imeis_blacklistable",
        "eir_imeis",
        ["imei_norm"],
        postgresql_include=["blacklist_reason", "clone", "grace_until", "registered"],
        postgresql_where=sa.text(BLACKLISTABLE),
        sqlite_where=sa.text(BLACKLISTABLE),
    )


def downgrade() -> None:
    op.drop_index("ix_eir_imeis_blacklistable", table_name="eir_imeis")
    with op.batch_alter_table("network_sightings") as batch_op:
        batch_op.create_foreign_key(
            "fk_network_sightings_operator_id_operators", "operators", ["operator_id"], ["id"]
        )
    op.create_index(
        "ix_network_sightings_operator_month", "network_sightings", ["operator_id", "month"]
    )
