"""The audit log: each entry chained to the one before; an edit, a deletion or a
reordering is found and named; on PostgreSQL nobody but a superuser setting triggers
aside can change a row at all; appends at the same moment keep one chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from mcqs.audit.models import AuditEntry
from mcqs.audit.service import (
    AuditChainBroken,
    RecordedActor,
    record_staff_action,
    restore_head,
    verify_chain,
)
from mcqs.db import Database

from conftest import at_the_same_moment

AGENT = RecordedActor(7, "agent.post", "counter_agent", "AZPOST-BAKU-01", "10.0.0.5")


def _write(db: Database, count: int) -> list[int]:
    with db.transaction() as session:
        return [
            record_staff_action(
                session, AGENT, "counter.payment_taken", application_id=n, details={"n": n}
            ).id
            for n in range(1, count + 1)
        ]


def _tamper(db: Database, statement: str, **params: object) -> None:
    """What only someone past the database's guards could do (on PostgreSQL, a superuser
    setting the append-only trigger aside)."""
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(statement), params)


def _verified(db: Database) -> tuple[int, str] | None:
    with db.reading() as session:
        broken = verify_chain(session)
    return None if broken is None else (broken.sequence, broken.reason)


def test_an_intact_chain_verifies(db: Database) -> None:
    assert _verified(db) is None  # empty
    _write(db, 5)
    assert _verified(db) is None
    with db.reading() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)).all()
    assert [e.sequence for e in entries] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[0].details == {"n": 1} and entries[0].point_code == "AZPOST-BAKU-01"


def test_an_edited_entry_is_named(db: Database) -> None:
    ids = _write(db, 5)
    _tamper(db, "UPDATE audit_entries SET client_address = '1.2.3.4' WHERE id = :id", id=ids[2])
    assert _verified(db) == (3, "edited")


def test_an_edit_with_its_hash_recomputed_breaks_the_next_link(db: Database) -> None:
    from mcqs.audit.service import entry_hash

    ids = _write(db, 4)
    with db.reading() as session:
        entry = session.get(AuditEntry, ids[1])
        assert entry is not None
        entry.application_id = 999
        forged = entry_hash(entry)
    _tamper(
        db,
        "UPDATE audit_entries SET application_id = 999, hash = :hash WHERE id = :id",
        hash=forged,
        id=ids[1],
    )
    assert _verified(db) == (3, "unlinked")


def test_a_deleted_entry_is_named(db: Database) -> None:
    ids = _write(db, 5)
    _tamper(db, "DELETE FROM audit_entries WHERE id = :id", id=ids[1])
    assert _verified(db) == (2, "missing")


def test_a_deleted_last_entry_is_named(db: Database) -> None:
    ids = _write(db, 3)
    _tamper(db, "DELETE FROM audit_entries WHERE id = :id", id=ids[-1])
    assert _verified(db) == (3, "missing")


def test_reordered_entries_are_named(db: Database) -> None:
    ids = _write(db, 5)
    # Entries 2 and 4 change places (their sequence numbers swapped).
    _tamper(db, "UPDATE audit_entries SET sequence = -2 WHERE id = :id", id=ids[1])
    _tamper(db, "UPDATE audit_entries SET sequence = 2 WHERE id = :id", id=ids[3])
    _tamper(db, "UPDATE audit_entries SET sequence = 4 WHERE id = :id", id=ids[1])
    assert _verified(db) == (2, "out_of_order")


def test_contents_moved_between_entries_are_named(db: Database) -> None:
    """Entries 2 and 3 keep their numbers but swap what they say (who, what, on which
    application): each no longer matches its hash."""
    ids = _write(db, 4)
    _tamper(db, "UPDATE audit_entries SET application_id = -1 WHERE id = :id", id=ids[1])
    _tamper(db, "UPDATE audit_entries SET application_id = 2 WHERE id = :id", id=ids[2])
    _tamper(db, "UPDATE audit_entries SET application_id = 3 WHERE id = :id", id=ids[1])
    assert _verified(db) == (2, "edited")


def test_a_lost_chain_head_stops_appends_until_an_administrator_restores_it(
    db: Database,
) -> None:
    """The head deleted with the last entries would hide them if it were remade from what
    is left: appends are refused instead, until ``restore_head``, which the chain records."""
    _write(db, 3)
    _tamper(db, "DELETE FROM audit_entries WHERE sequence = 3")
    _tamper(db, "DELETE FROM audit_chain_head")
    assert _verified(db) == (2, "head_missing")

    with pytest.raises(AuditChainBroken):
        _write(db, 1)
    assert _verified(db) == (2, "head_missing")

    admin = RecordedActor(None, "admin", "admin", None, "cli")
    with db.transaction() as session:
        assert restore_head(session, admin) == 2
    assert _verified(db) is None
    with db.reading() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc())).first()
    assert last is not None
    assert (last.sequence, last.action, last.details) == (
        3,
        "audit.head_restored",
        {"restored_at_sequence": 2},
    )
    _write(db, 1)
    assert _verified(db) is None


def test_a_new_database_makes_its_chain_head_on_the_first_append(db: Database) -> None:
    _write(db, 1)
    assert _verified(db) is None


def test_actions_are_dotted_codes() -> None:
    with pytest.raises(ValueError):
        record_staff_action(None, AGENT, "Signed In!")  # type: ignore[arg-type]


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET client_address = '1.2.3.4'",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "DELETE FROM audit_chain_head",
        "TRUNCATE audit_chain_head CASCADE",
    ],
)
def test_postgresql_refuses_to_change_audit_rows(db: Database, statement: str) -> None:
    _write(db, 2)
    with pytest.raises(DBAPIError) as refused, db.engine.begin() as connection:
        connection.execute(text(statement))
    assert "append-only" in str(refused.value.orig)
    assert _verified(db) is None


@pytest.mark.postgres_only
def test_appends_at_the_same_moment_keep_one_chain(db: Database) -> None:
    _write(db, 1)

    def append() -> str:
        with db.transaction() as session:
            record_staff_action(session, AGENT, "counter.receipt_printed")
        return "ok"

    assert at_the_same_moment([append] * 8, refused=Exception) == ["ok"] * 8
    with Session(db.engine) as session:
        assert verify_chain(session) is None
        assert session.scalar(select(AuditEntry.sequence).order_by(AuditEntry.sequence.desc())) == 9
