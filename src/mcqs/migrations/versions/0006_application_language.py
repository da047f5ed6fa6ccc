"""The language of the page an application was made on (az, en, ru), so the worker writes
its SMS in it

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LANGUAGES = ("az", "en", "ru")


def upgrade() -> None:
    allowed = ", ".join(f"'{language}'" for language in LANGUAGES)
    # Applications made before this were made on Azerbaijani pages.
    with op.batch_alter_table("applications") as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=2), nullable=False, server_default="az")
        )
        batch_op.create_check_constraint(
            op.f("ck_applications_application_language"), sa.text(f"language IN ({allowed})")
        )


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch_op:
        batch_op.drop_constraint(op.f("ck_applications_application_language"), type_="check")
        batch_op.drop_column("language")
