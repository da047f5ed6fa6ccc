"""The EIR: operators and their clients, each IMEI's network status (filled from the
registrations and the blacklist already there), clone pairings, network sightings per
triplet and month, numbered list runs

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _check(column: str, values: tuple[str, ...]) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    moment = sa.DateTime(timezone=True)
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("imsi_prefixes", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=40), nullable=False),
        sa.Column("client_secret_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", moment, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("client_id", name=op.f("uq_operators_client_id")),
        sa.UniqueConstraint("code", name=op.f("uq_operators_code")),
    )
    op.create_table(
        "eir_imeis",
        sa.Column("imei_norm", sa.String(length=14), nullable=False),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", moment, nullable=True),
        sa.Column("grace_until", moment, nullable=True),
        sa.Column("clone", sa.Boolean(), nullable=False),
        sa.Column("blacklist_reason", sa.String(length=16), nullable=True),
        sa.Column("blacklisted_at", moment, nullable=True),
        sa.Column("blacklist_source", sa.String(length=20), nullable=True),
        sa.Column("blacklist_operator_id", sa.Integer(), nullable=True),
        sa.Column("blacklist_run_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", moment, nullable=False),
        sa.CheckConstraint(
            _check("blacklist_reason", ("stolen", "grace_expired", "clone")),
            name=op.f("ck_eir_imeis_eir_blacklist_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["blacklist_operator_id"],
            ["operators.id"],
            name=op.f("fk_eir_imeis_blacklist_operator_id_operators"),
        ),
        sa.ForeignKeyConstraint(
            ["blacklist_run_id"],
            ["operator_runs.id"],
            name=op.f("fk_eir_imeis_blacklist_run_id_operator_runs"),
        ),
        sa.PrimaryKeyConstraint("imei_norm", name=op.f("pk_eir_imeis")),
    )
    op.create_table(
        "eir_pairings",
        sa.Column("imei_norm", sa.String(length=14), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["operator_runs.id"], name=op.f("fk_eir_pairings_run_id_operator_runs")
        ),
        sa.PrimaryKeyConstraint("imei_norm", "imsi", name=op.f("pk_eir_pairings")),
    )
    op.create_table(
        "network_sightings",
        sa.Column("imei_norm", sa.String(length=14), nullable=False),
        sa.Column("imsi", sa.String(length=15), nullable=False),
        sa.Column("msisdn", sa.String(length=15), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.Date(), nullable=False),
        sa.Column("last_seen", sa.Date(), nullable=False),
        sa.Column("rats", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name=op.f("fk_network_sightings_operator_id_operators"),
        ),
        sa.PrimaryKeyConstraint(
            "imei_norm", "imsi", "msisdn", "month", "operator_id", name=op.f("pk_network_sightings")
        ),
    )
    op.create_index(
        "ix_network_sightings_operator_month", "network_sightings", ["operator_id", "month"]
    )
    op.create_table(
        "eir_list_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("generated_at", moment, nullable=False),
        sa.Column("as_of", moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_eir_list_runs_operator_id_operators")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eir_list_runs")),
    )
    op.create_index(op.f("ix_eir_list_runs_operator_id"), "eir_list_runs", ["operator_id"])
    op.create_table(
        "eir_list_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("line", sa.String(length=120), nullable=False),
        sa.CheckConstraint(
            _check("kind", ("blacklist", "notification", "exceptions")),
            name=op.f("ck_eir_list_entries_eir_list_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["eir_list_runs.id"], name=op.f("fk_eir_list_entries_run_id_eir_list_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eir_list_entries")),
    )
    op.create_index("ix_eir_list_entries_run_kind", "eir_list_entries", ["run_id", "kind"])

    # What the registry knows already: registered IMEIs are whitelisted, stolen ones black.
    op.execute(
        "INSERT INTO eir_imeis (imei_norm, registered, clone, updated_at) "
        "SELECT DISTINCT imei_norm, true, false, CURRENT_TIMESTAMP "
        "FROM registration_imeis WHERE active"
    )
    op.execute(
        "UPDATE eir_imeis SET blacklist_reason = 'stolen', blacklist_source = 'migration', "
        "blacklisted_at = CURRENT_TIMESTAMP "
        "WHERE imei_norm IN (SELECT imei_norm FROM blacklisted_imeis)"
    )
    op.execute(
        "INSERT INTO eir_imeis (imei_norm, registered, clone, blacklist_reason, "
        "blacklist_source, blacklisted_at, updated_at) "
        "SELECT imei_norm, false, false, 'stolen', 'migration', listed_at, CURRENT_TIMESTAMP "
        "FROM blacklisted_imeis WHERE imei_norm NOT IN (SELECT imei_norm FROM eir_imeis)"
    )


def downgrade() -> None:
    op.drop_index("ix_eir_list_entries_run_kind", table_name="eir_list_entries")
    op.drop_table("eir_list_entries")
    op.drop_index(op.f("ix_eir_list_runs_operator_id"), table_name="eir_list_runs")
    op.drop_table("eir_list_runs")
    op.drop_index("ix_network_sightings_operator_month", table_name="network_sightings")
    op.drop_table("network_sightings")
    op.drop_table("eir_pairings")
    op.drop_table("eir_imeis")
    op.drop_table("operators")
