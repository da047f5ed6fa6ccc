"""One owner of the lifecycle: statuses checked by the database, IMEI holds, payments
opened before their key is known, coalesced questions to GoldenPay, SMS idempotency keys

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = {
    # table: (constraint, allowed values)
    "applications": (
        "ck_applications_application_status",
        (
            "created",
            "awaiting_payment",
            "paid",
            "submitted",
            "registered",
            "rejected",
            "expired",
        ),
    ),
    "payments": ("ck_payments_payment_status", ("pending", "paid", "failed", "expired")),
    "refunds": ("ck_refunds_refund_status", ("owed", "paid_out")),
    "sms_messages": ("ck_sms_messages_sms_status", ("queued", "sending", "sent")),
    "jobs": ("ck_jobs_job_status", ("queued", "running", "done", "failed")),
}


def upgrade() -> None:
    for table, (name, values) in STATUSES.items():
        allowed = ", ".join(f"'{value}'" for value in values)
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_check_constraint(op.f(name), sa.text(f"status IN ({allowed})"))

    op.create_table(
        "imei_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("imei_norm", sa.String(length=14), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("fin", sa.String(length=7), nullable=False),
        sa.Column("held_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_imei_holds_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imei_holds")),
    )
    with op.batch_alter_table("imei_holds") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_imei_holds_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(
            "uq_imei_holds_unreleased_imei",
            ["imei_norm"],
            unique=True,
            postgresql_where=sa.text("released_at IS NULL"),
            sqlite_where=sa.text("released_at IS NULL"),
        )
    # Applications being paid for or paid hold their IMEIs from now on.
    op.execute(
        """
        INSERT INTO imei_holds (imei_norm, application_id, fin, held_from, held_until)
        SELECT ai.imei_norm, a.id, a.fin, a.created_at,
               CASE WHEN a.status = 'awaiting_payment' THEN a.expires_at END
        FROM applications a JOIN application_imeis ai ON ai.application_id = a.id
        WHERE a.status IN ('awaiting_payment', 'paid', 'submitted')
        """
    )

    with op.batch_alter_table("payments") as batch_op:
        batch_op.alter_column("payment_key", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("asking_until", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=32), nullable=True))
    random_key = (
        "md5(random()::text || id::text)"
        if op.get_bind().dialect.name == "postgresql"
        else "lower(hex(randomblob(16)))"
    )
    op.execute(f"UPDATE sms_messages SET idempotency_key = {random_key}")
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.alter_column("idempotency_key", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(
            batch_op.f("uq_sms_messages_idempotency_key"), ["idempotency_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("sms_messages") as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sms_messages_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("payments") as batch_op:
        batch_op.drop_column("asking_until")
        batch_op.alter_column("payment_key", existing_type=sa.String(length=64), nullable=False)
    op.drop_table("imei_holds")
    for table, (name, _values) in STATUSES.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(name), type_="check")
