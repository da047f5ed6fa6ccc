from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime

#: The hash the first entry is chained to.
GENESIS_HASH = "0" * 64


class AuditEntry(Base):
    """One staff action: who (account, username, role, point, address), when, what (an
    action code and details), on which application. Written by the service that does the
    action, in its transaction; never updated or deleted (on PostgreSQL a trigger refuses
    it, and the web role has no grant for it)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_application_id", "application_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # 1, 2, 3… with no gap: a missing number is a deleted entry.
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_account_id: Mapped[int | None] = mapped_column(Integer)
    actor_username: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(32))
    point_code: Mapped[str | None] = mapped_column(String(32))
    client_address: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    application_id: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """The chain's end, one row: the last sequence and hash. Appends lock it (one at a
    time), and it shows a deleted last entry, which the chain alone could not."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
