"""Worker heartbeats: one row per worker, kept fresh by the worker loop, and a database
that is away never stops the worker (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import select

from mcqs.db import Database, utcnow
from mcqs.jobs.heartbeat import record_heartbeat, this_worker_id
from mcqs.jobs.models import WorkerHeartbeat
from mcqs.worker import run_worker


def heartbeats(db: Database) -> dict[str, WorkerHeartbeat]:
    with db.transaction() as session:
        return {b.worker_id: b for b in session.scalars(select(WorkerHeartbeat))}


def test_a_worker_has_one_row_that_each_beat_moves_on(db: Database) -> None:
    started = utcnow() - dt.timedelta(minutes=5)
    first, second = started + dt.timedelta(seconds=5), started + dt.timedelta(seconds=10)
    assert record_heartbeat(db, "host-a:101", started_at=started, now=first)
    assert record_heartbeat(db, "host-a:101", started_at=started, now=second)
    rows = heartbeats(db)
    assert list(rows) == ["host-a:101"]
    assert (rows["host-a:101"].started_at, rows["host-a:101"].beat_at) == (started, second)


def test_a_new_worker_forgets_workers_gone_for_a_week(db: Database) -> None:
    now = utcnow()
    long_ago = now - dt.timedelta(days=8)
    assert record_heartbeat(db, "old-host:7", started_at=long_ago, now=long_ago)
    assert record_heartbeat(db, "host-a:101", started_at=now, now=now - dt.timedelta(days=1))
    assert record_heartbeat(db, "host-b:202", started_at=now, now=now)
    assert sorted(heartbeats(db)) == ["host-a:101", "host-b:202"]


def test_a_beat_that_cannot_be_written_does_not_raise() -> None:
    gone = Database("postgresql+psycopg://mcqs@127.0.0.1:1/mcqs")  # nothing listens on port 1
    try:
        assert not record_heartbeat(gone, "host-a:101", started_at=utcnow(), now=utcnow())
    finally:
        gone.dispose()


def test_the_running_worker_beats(catalogue: Database, services) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(catalogue, services), kwargs={"stop": stop})
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while this_worker_id() not in heartbeats(catalogue) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(timeout=15)
    assert not worker.is_alive()
    beat = heartbeats(catalogue)[this_worker_id()]
    assert utcnow() - beat.beat_at < dt.timedelta(seconds=15)
