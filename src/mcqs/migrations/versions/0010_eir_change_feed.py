"""The EIR's change feed: every statement that writes eir_imeis notifies the keys it
changed on the channel ``mcqs_eir`` (delivered at commit, in commit order), so each serving
process's status snapshot stays fresh (mcqs.eir.snapshot; PostgreSQL only). Lists kept as
one row per run and kind (eir_list_files) instead of one row per line.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A notification's payload is at most 8000 bytes: 500 keys of 14 digits and a comma.
_NOTIFY = """
CREATE FUNCTION eir_imeis_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    batch text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('mcqs_eir', '*');
        RETURN NULL;
    END IF;
    FOR batch IN
        SELECT string_agg(imei_norm, ',') FROM (
            SELECT imei_norm, (row_number() OVER ()) / 500 AS part FROM changed
        ) AS numbered GROUP BY part
    LOOP
        PERFORM pg_notify('mcqs_eir', batch);
    END LOOP;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "eir_list_files",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('blacklist', 'notification', 'exceptions')",
            name=op.f("ck_eir_list_files_eir_list_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eir_list_runs.id"], name=op.f("fk_eir_list_files_run_id_eir_list_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "kind", name=op.f("pk_eir_list_files")),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    joined = (
        "string_agg(line, E'\\n' ORDER BY line COLLATE \"C\")"
        if postgres
        else "group_concat(line, char(10))"
    )
    source = (
        "eir_list_entries"
        if postgres
        else "(SELECT * FROM eir_list_entries ORDER BY run_id, kind, line) AS ordered"
    )
    op.execute(
        "INSERT INTO eir_list_files (run_id, kind, line_count, lines) "
        f"SELECT run_id, kind, count(*), {joined} FROM {source} GROUP BY run_id, kind"
    )
    op.drop_index("ix_eir_list_entries_run_kind", table_name="eir_list_entries")
    op.drop_table("eir_list_entries")
    if not postgres:
        return
    op.execute(_NOTIFY)
    for event, table in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        op.execute(
            f"CREATE TRIGGER eir_imeis_{event.lower()}_notify AFTER {event} ON eir_imeis "
            f"REFERENCING {table} TABLE AS changed FOR EACH STATEMENT "
            "EXECUTE FUNCTION eir_imeis_notify()"
        )
    op.execute(
        "CREATE TRIGGER eir_imeis_truncate_notify AFTER TRUNCATE ON eir_imeis "
        "FOR EACH STATEMENT EXECUTE FUNCTION eir_imeis_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("insert", "update", "delete", "truncate"):
            op.execute(f"DROP TRIGGER eir_imeis_{event}_notify ON eir_imeis")
        op.execute("DROP FUNCTION eir_imeis_notify()")
    op.create_table(
        "eir_list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("line", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            "kind IN ('blacklist', 'notification', 'exceptions')",
            name=op.f("ck_eir_list_entries_eir_list_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eir_list_runs.id"], name=op.f("fk_eir_list_entries_run_id_eir_list_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eir_list_entries")),
    )
    op.create_index("ix_eir_list_entries_run_kind", "eir_list_entries", ["run_id", "kind"])
    op.drop_table("eir_list_files")
