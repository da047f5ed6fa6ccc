"""/healthz: 200 only while the database answers, a worker beats and no due job waits too
long; 503 with the reasons otherwise (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.health import check_health
from mcqs.jobs.heartbeat import record_heartbeat
from mcqs.jobs.models import WorkerHeartbeat
from mcqs.jobs.queue import enqueue

from conftest import make_settings


@pytest.fixture
def health(db: Database, db_url: str) -> Iterator[TestClient]:
    """The app on the test database, with the default thresholds (60 s, 300 s)."""
    with TestClient(create_app(make_settings(database_url=db_url), db=db)) as client:
        yield client


def beat(db: Database, *, seconds_ago: float, worker_id: str = "host-a:101") -> None:
    now = utcnow()
    at = now - dt.timedelta(seconds=seconds_ago)
    assert record_heartbeat(db, worker_id, started_at=at - dt.timedelta(hours=1), now=at)


def queue_job(db: Database, *, due_seconds_ago: float) -> None:
    with db.transaction() as session:
        run_after = utcnow() - dt.timedelta(seconds=due_seconds_ago)
        enqueue(session, "notifications.send_sms", {"sms_id": 1}, run_after=run_after)


def test_healthy_with_a_fresh_heartbeat_and_an_empty_queue(db: Database, health) -> None:
    beat(db, seconds_ago=3)
    answer = health.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert 3 <= body["worker"]["last_beat_seconds_ago"] < 30
    assert body["queue"] == {"oldest_due_job_seconds": None}
    assert body["problems"] == []


def test_unhealthy_when_no_worker_ever_reported(health) -> None:
    answer = health.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "ok"
    assert body["worker"] == {"last_beat_seconds_ago": None}
    assert body["problems"] == ["no worker has ever reported"]


def test_unhealthy_when_the_newest_heartbeat_is_old(db: Database, health) -> None:
    beat(db, seconds_ago=600, worker_id="host-a:101")
    beat(db, seconds_ago=90, worker_id="host-b:202")  # the newest of all workers counts
    answer = health.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert 90 <= body["worker"]["last_beat_seconds_ago"] < 120
    assert body["problems"] == ["no worker heartbeat for more than 60 s"]


def test_one_live_worker_is_enough(db: Database, health) -> None:
    beat(db, seconds_ago=600, worker_id="host-a:101")
    beat(db, seconds_ago=2, worker_id="host-b:202")
    assert health.get("/healthz").status_code == 200


def test_unhealthy_when_a_due_job_waits_too_long(db: Database, health) -> None:
    beat(db, seconds_ago=1)
    queue_job(db, due_seconds_ago=400)
    queue_job(db, due_seconds_ago=10)
    answer = health.get("/healthz")
    assert answer.status_code == 503
    body = answer.json()
    assert 400 <= body["queue"]["oldest_due_job_seconds"] < 430
    assert body["problems"] == ["a job has been due for more than 300 s"]


def test_healthy_with_a_job_due_later_or_due_recently(db: Database, health) -> None:
    """A job waiting for its back-off (due in an hour) is not stale, however old it is."""
    beat(db, seconds_ago=1)
    queue_job(db, due_seconds_ago=-3600)
    queue_job(db, due_seconds_ago=20)
    answer = health.get("/healthz")
    assert answer.status_code == 200
    assert 20 <= answer.json()["queue"]["oldest_due_job_seconds"] < 50


def test_the_thresholds_come_from_settings(db: Database, db_url: str) -> None:
    beat(db, seconds_ago=20)
    queue_job(db, due_seconds_ago=40)
    strict = make_settings(
        database_url=db_url, health_worker_silent_seconds=10, health_queue_stale_seconds=30
    )
    with db.reading() as session:
        report = check_health(session, settings=strict, now=utcnow())
    assert report.status_code == 503
    assert report.problems == [
        "no worker heartbeat for more than 10 s",
        "a job has been due for more than 30 s",
    ]


def test_unhealthy_when_the_database_is_down() -> None:
    gone = Database("postgresql+psycopg://mcqs@127.0.0.1:1/mcqs")  # nothing listens on port 1
    try:
        with TestClient(create_app(make_settings(database_url=str(gone.engine.url)), db=gone)) as c:
            answer = c.get("/healthz")
    finally:
        gone.dispose()
    assert answer.status_code == 503
    body = answer.json()
    assert body["database"] == "unavailable"
    assert body["problems"] == ["database unavailable"]


def test_health_does_not_wait_for_a_writer(db: Database, db_url: str) -> None:
    """A job holding its transaction open (on SQLite: the database's one write lock) must not
    hold up a health check; the check sees what is committed."""
    beat(db, seconds_ago=1)
    settings = make_settings(database_url=db_url)
    with db.transaction() as writer:
        writer.add(WorkerHeartbeat(worker_id="host-c:303", started_at=utcnow(), beat_at=utcnow()))
        writer.flush()
        started = time.monotonic()
        with db.reading() as session:
            report = check_health(session, settings=settings, now=utcnow())
        assert time.monotonic() - started < 2
    assert report.healthy


def test_a_threshold_of_zero_is_refused_at_start() -> None:
    with pytest.raises(ValidationError):
        Settings(health_worker_silent_seconds=0)
    with pytest.raises(ValidationError):
        Settings(health_queue_stale_seconds=-1)


def test_livez_answers_for_the_node_whatever_the_worker(health) -> None:
    """For the load balancer: no worker heartbeat at all (/healthz 503), and still 200."""
    assert health.get("/healthz").status_code == 503
    assert health.get("/livez").status_code == 200
