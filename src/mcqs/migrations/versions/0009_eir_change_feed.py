"""The EIR's change feed: every statement that writes eir_imeis notifies the keys it
changed on the channel ``mcqs_eir`` (delivered at commit, in commit order), so each serving
process's status snapshot stays fresh (mcqs.eir.snapshot). PostgreSQL only.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
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
    if op.get_bind().dialect.name != "postgresql":
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
    if op.get_bind().dialect.name != "postgresql":
        return
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER eir_imeis_{event}_notify ON eir_imeis")
    op.execute("DROP FUNCTION eir_imeis_notify()")
