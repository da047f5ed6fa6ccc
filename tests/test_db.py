"""The batch helpers of ``mcqs.db`` (the worker's set-based writes): rows inserted with one
statement in the order given, conflicts skipped and not returned, and ``among`` matching
as ``IN`` does, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import cast

from sqlalchemy import Table, create_engine, event, func, select
from sqlalchemy.pool import NullPool

from mcqs.db import Database, among, insert_rows, serialise_on, utcnow
from mcqs.eir.models import EirImei
from mcqs.jobs.models import Job


def job_rows(count: int) -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "task": "tests.note",
            "payload": {"n": n},
            "status": "queued",
            "attempts": n % 3,
            "run_after": now,
            "created_at": now,
        }
        for n in range(count)
    ]


def test_rows_are_inserted_with_one_statement_in_the_order_given(db: Database) -> None:
    statements: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.transaction() as session:
            returned = insert_rows(
                session, cast(Table, Job.__table__), job_rows(30), returning=("id", "payload")
            )
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len([s for s in statements if s.lstrip().upper().startswith("INSERT")]) == 1
    by_id = sorted((job_id, payload["n"]) for job_id, payload in returned)
    assert [n for _id, n in by_id] == list(range(30)), "ids follow the order given"
    with db.transaction() as session:
        stored = session.execute(select(Job.payload, Job.attempts, Job.status)).all()
    assert sorted((p["n"], a, s) for p, a, s in stored) == [(n, n % 3, "queued") for n in range(30)]


def test_rows_in_conflict_are_skipped_and_not_returned(db: Database) -> None:
    table = cast(Table, EirImei.__table__)
    now = utcnow()

    def row(norm: str) -> dict[str, object]:
        return {"imei_norm": norm, "registered": True, "clone": False, "updated_at": now}

    with db.transaction() as session:
        insert_rows(session, table, [row("35000000000001")])
    with db.transaction() as session:
        new = insert_rows(
            session,
            table,
            [row("35000000000002"), row("35000000000001"), row("35000000000003")],
            returning=("imei_norm",),
            skip_conflicts_on=("imei_norm",),
        )
    assert sorted(norm for (norm,) in new) == ["35000000000002", "35000000000003"]
    with db.transaction() as session:
        assert session.scalar(select(EirImei.imei_norm).where(EirImei.clone)) is None
        assert len(session.scalars(select(EirImei.imei_norm)).all()) == 3


def test_among_matches_as_in_does(db: Database) -> None:
    with db.transaction() as session:
        returned = insert_rows(
            session, cast(Table, Job.__table__), job_rows(12), returning=("id", "attempts")
        )
    pairs = sorted((job_id, attempts) for job_id, attempts in returned)
    some = pairs[::3]
    with db.transaction() as session:
        by_id = session.scalars(
            select(Job.id).where(among(session, Job.id, [p[0] for p in some]))
        ).all()
        # A pair matches only with both of its values: (id, attempts + 1) never does.
        wanted = [*some, *((job_id, attempts + 1) for job_id, attempts in pairs[1::3])]
        by_pair = session.scalars(
            select(Job.id).where(among(session, (Job.id, Job.attempts), wanted))
        ).all()
        none = session.scalars(select(Job.id).where(among(session, Job.id, []))).all()
    assert sorted(by_id) == sorted(by_pair) == [p[0] for p in some]
    assert none == []


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(db: Database) -> None:
    """No ping before each transaction: pooled connections whose backends were terminated
    (as in a server restart) are found closed by their sockets at checkout and replaced,
    so the next transaction works."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect() as conn:  # at least one connection waits in the pool
        conn.exec_driver_sql("SELECT 1")
    others = "datname = current_database() AND pid <> pg_backend_pid()"
    # Autocommit: pg_stat_activity is read once per transaction.
    killer = create_engine(db.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as conn:
            conn.exec_driver_sql(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {others}"
            )
            deadline = time.monotonic() + 10
            while conn.exec_driver_sql(
                f"SELECT count(*) FROM pg_stat_activity WHERE {others}"
            ).scalar_one():
                assert time.monotonic() < deadline, "the backends did not end"
                time.sleep(0.05)
    finally:
        killer.dispose()
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Job)) is not None


def test_a_key_already_held_is_not_locked_again(db: Database) -> None:
    """``serialise_on``: one lock statement per key and transaction; a new transaction
    locks again, and a lock taken in a savepoint (released if it rolls back) is not
    remembered."""
    if db.engine.dialect.name != "postgresql":
        return
    statements: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "pg_advisory_xact_lock" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.transaction() as session:
            serialise_on(session, "test:a")
            serialise_on(session, "test:a")
            serialise_on(session, "test:b")
            with session.begin_nested():
                serialise_on(session, "test:a")  # held outside the savepoint: nothing asked
                serialise_on(session, "test:c")
            serialise_on(session, "test:c")
        assert len(statements) == 4  # a, b, c in the savepoint, c again after it
        with db.transaction() as session:
            serialise_on(session, "test:a")
        assert len(statements) == 5
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
