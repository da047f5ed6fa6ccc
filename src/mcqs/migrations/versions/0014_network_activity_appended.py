"""Network imports at COPY's speed (decision record 0006): an import appends its accepted
rows to ``network_activity`` (no key, no index; binary COPY) instead of merging them into
the sightings; the sightings table becomes ``network_sightings_folded``, into which the job
``eir.fold_sightings`` folds the appended rows; and ``network_sightings`` is now a view of
both, one row per operator, triplet and month, so what reads sightings reads the same;
``network_triplets`` is the cheaper view of who was seen with what (the notification list).

On SQLite (the demo) the import still merges straight into the folded table, and the view
is that table.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = ("imei_norm", "imsi", "msisdn", "month", "operator_id")
SAME_KEY = " AND ".join(f"a.{c} = f.{c}" for c in KEY)
# The appended rows per operator, triplet and month, as text again: the IMEI's 14 digits,
# the IMSI and the MSISDN without the 1 written before their digits (which keeps a leading 0).
ACTIVITY_SIGHTINGS = """
CREATE VIEW network_activity_sightings AS
SELECT lpad(imei::text, 14, '0') AS imei_norm, substr(imsi::text, 2) AS imsi,
    substr(msisdn::text, 2) AS msisdn, month, operator_id, first_seen, last_seen, rats
FROM (
    SELECT imei, imsi, msisdn, date_trunc('month', day::timestamp)::date AS month,
        operator_id, min(day) AS first_seen, max(day) AS last_seen, bit_or(rats)::int AS rats
    FROM network_activity
    GROUP BY imei, imsi, msisdn, 4, operator_id
) AS grouped
"""
# The folded sightings that nothing appended since, and the appended ones widened by what
# was folded before. The appended rows are aggregated once (a CTE used twice is computed
# once); with none appended (folded after each import) this is the folded table.
SIGHTINGS = f"""
CREATE VIEW network_sightings AS
WITH appended AS (SELECT * FROM network_activity_sightings)
SELECT f.imei_norm::text AS imei_norm, f.imsi::text AS imsi, f.msisdn::text AS msisdn,
    f.month, f.operator_id, f.first_seen, f.last_seen, f.rats
FROM network_sightings_folded AS f
WHERE NOT EXISTS (SELECT 1 FROM appended AS a WHERE {SAME_KEY})
UNION ALL
SELECT a.imei_norm, a.imsi, a.msisdn, a.month, a.operator_id,
    LEAST(a.first_seen, f.first_seen), GREATEST(a.last_seen, f.last_seen),
    a.rats | coalesce(f.rats, 0)
FROM appended AS a LEFT JOIN network_sightings_folded AS f ON {SAME_KEY}
"""
# Who was seen with what, whatever the month (the notification list's question): the folded
# triplets and the appended ones, a triplet once per month and import (readers take DISTINCT);
# nothing aggregated, so reading it costs a scan, appended rows or not.
TRIPLETS = """
CREATE VIEW network_triplets AS
SELECT imei_norm::text AS imei_norm, imsi::text AS imsi, msisdn::text AS msisdn, operator_id
FROM network_sightings_folded
UNION ALL
SELECT lpad(imei::text, 14, '0'), substr(imsi::text, 2), substr(msisdn::text, 2), operator_id
FROM network_activity
"""
SQLITE_TRIPLETS = """
CREATE VIEW network_triplets AS
SELECT imei_norm, imsi, msisdn, operator_id FROM network_sightings_folded
"""
SQLITE_SIGHTINGS = f"""
CREATE VIEW network_sightings AS
SELECT {", ".join(KEY)}, first_seen, last_seen, rats FROM network_sightings_folded
"""
FOLD = f"""
INSERT INTO network_sightings_folded AS f ({", ".join(KEY)}, first_seen, last_seen, rats)
SELECT {", ".join(KEY)}, first_seen, last_seen, rats FROM network_activity_sightings
ON CONFLICT ({", ".join(KEY)}) DO UPDATE SET
    first_seen = LEAST(f.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(f.last_seen, EXCLUDED.last_seen),
    rats = f.rats | EXCLUDED.rats
"""


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.rename_table("network_sightings", "network_sightings_folded")
    if postgresql:
        op.execute(
            "ALTER TABLE network_sightings_folded "
            "RENAME CONSTRAINT pk_network_sightings TO pk_network_sightings_folded"
        )
    op.create_table(
        "network_activity",
        sa.Column("imei", sa.BigInteger(), nullable=False),
        sa.Column("imsi", sa.BigInteger(), nullable=False),
        sa.Column("msisdn", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rats", sa.SmallInteger(), nullable=False),
    )
    if postgresql:
        op.execute(ACTIVITY_SIGHTINGS)
        op.execute(SIGHTINGS)
        op.execute(TRIPLETS)
    else:
        op.execute(SQLITE_SIGHTINGS)
        op.execute(SQLITE_TRIPLETS)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute("DROP VIEW network_triplets")
    op.execute("DROP VIEW network_sightings")
    if postgresql:
        op.execute(FOLD)  # nothing appended is lost
        op.execute("DROP VIEW network_activity_sightings")
    op.drop_table("network_activity")
    if postgresql:
        op.execute(
            "ALTER TABLE network_sightings_folded "
            "RENAME CONSTRAINT pk_network_sightings_folded TO pk_network_sightings"
        )
    op.rename_table("network_sightings_folded", "network_sightings")
