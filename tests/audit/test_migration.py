"""Migration 0011 goes down and up again on both databases (PostgreSQL: its triggers too)."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from mcqs.db import Database
from mcqs.migrate import alembic_config


def test_staff_and_audit_tables_go_down_and_up_again(db: Database, db_url: str) -> None:
    config = alembic_config(db_url)
    command.downgrade(config, "0010")
    db.engine.dispose()
    assert not {"staff_accounts", "audit_entries"} & set(inspect(db.engine).get_table_names())
    command.upgrade(config, "head")
    db.engine.dispose()
    assert {"registration_points", "staff_accounts", "staff_sessions", "audit_entries",
            "audit_chain_head"} <= set(inspect(db.engine).get_table_names())  # fmt: skip
