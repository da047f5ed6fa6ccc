"""The job queue: retried with back-off, given up after MCQS_JOB_MAX_ATTEMPTS, run once
even with two workers (SQLite and PostgreSQL; the two-worker race on PostgreSQL only)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from mcqs.db import Database, utcnow
from mcqs.jobs.models import Job
from mcqs.jobs.queue import TASKS, JobContext, enqueue, run_due_jobs, run_next_job, task


class PartyDown(Exception):
    """What a task raises when the party it calls does not answer."""


@pytest.fixture
def calls() -> Iterator[list[dict[str, Any]]]:
    """Test tasks, registered for one test: ``tests.flaky`` fails while its payload says
    ``fail``; ``tests.slow`` takes a third of a second and notes how many others ran
    alongside it. Each call's payload is recorded."""
    seen: list[dict[str, Any]] = []
    running: list[dict[str, Any]] = []
    running_lock = threading.Lock()

    @task("tests.flaky")
    def flaky(context: JobContext, payload: dict[str, Any]) -> None:
        seen.append(payload)
        if payload.get("fail"):
            raise PartyDown("SMS centre did not answer")

    @task("tests.slow")
    def slow(context: JobContext, payload: dict[str, Any]) -> None:
        with running_lock:
            running.append(payload)
            seen.append({**payload, "alongside": len(running) - 1})
        time.sleep(0.3)
        with running_lock:
            running.remove(payload)

    try:
        yield seen
    finally:
        TASKS.pop("tests.flaky", None)
        TASKS.pop("tests.slow", None)


def queue_job(db: Database, name: str, payload: dict[str, Any], **kwargs: Any) -> int:
    with db.transaction() as session:
        return enqueue(session, name, payload, **kwargs).id


def load(db: Database, job_id: int) -> Job:
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_a_succeeding_job_is_done(db: Database, calls) -> None:
    job_id = queue_job(db, "tests.flaky", {"n": 1})
    assert run_next_job(db, None, max_attempts=3)
    job = load(db, job_id)
    assert (job.status, job.attempts, job.last_error) == ("done", 1, None)
    assert job.finished_at is not None
    assert calls == [{"n": 1}]
    assert not run_next_job(db, None, max_attempts=3), "a done job is not run again"


def test_a_failing_job_is_retried_with_growing_back_off_and_keeps_its_error(
    db: Database, calls
) -> None:
    job_id = queue_job(db, "tests.flaky", {"fail": True})
    now = utcnow()
    waits = []
    for _ in range(14):
        assert run_next_job(db, None, max_attempts=100, now=now)
        job = load(db, job_id)
        assert job.status == "queued"
        assert job.last_error is not None and "SMS centre did not answer" in job.last_error
        assert not run_next_job(db, None, max_attempts=100, now=now), "not due before back-off"
        waits.append((job.run_after - now).total_seconds())
        now = job.run_after
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600, 3600]
    assert load(db, job_id).attempts == 14
    assert len(calls) == 14


def test_a_job_that_fails_max_attempts_times_is_failed_and_not_run_again(
    db: Database, calls
) -> None:
    job_id = queue_job(db, "tests.flaky", {"fail": True})
    now = utcnow()
    for attempt in range(1, 4):
        assert run_next_job(db, None, max_attempts=3, now=now)
        job = load(db, job_id)
        assert job.attempts == attempt
        now = job.run_after if job.status == "queued" else now
    assert (job.status, job.finished_at) == ("failed", now)
    assert job.last_error is not None and "PartyDown" in job.last_error
    later = now + dt.timedelta(days=1)
    assert not run_next_job(db, None, max_attempts=3, now=later)
    assert len(calls) == 3


def test_a_job_that_succeeds_after_failures_is_done(db: Database, calls) -> None:
    job_id = queue_job(db, "tests.flaky", {"fail": True})
    now = utcnow()
    assert run_next_job(db, None, max_attempts=5, now=now)
    with db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.payload = {"fail": False}  # the party is back
    assert run_next_job(db, None, max_attempts=5, now=now + dt.timedelta(seconds=2))
    job = load(db, job_id)
    assert (job.status, job.attempts) == ("done", 2)


def test_a_task_nobody_registered_fails_like_any_other(db: Database, calls) -> None:
    job_id = queue_job(db, "tests.unknown", {})
    assert run_next_job(db, None, max_attempts=1)
    job = load(db, job_id)
    assert job.status == "failed"
    assert job.last_error is not None and "tests.unknown" in job.last_error


def test_a_job_not_yet_due_is_not_run(db: Database, calls) -> None:
    later = utcnow() + dt.timedelta(minutes=5)
    job_id = queue_job(db, "tests.flaky", {"n": 1}, run_after=later)
    assert run_due_jobs(db, None, max_attempts=3) == 0
    assert calls == []
    assert load(db, job_id).status == "queued"
    assert run_next_job(db, None, max_attempts=3, now=later)
    assert load(db, job_id).status == "done"


def test_due_jobs_run_oldest_first(db: Database, calls) -> None:
    now = utcnow()
    queue_job(db, "tests.flaky", {"n": 2}, run_after=now - dt.timedelta(seconds=1))
    queue_job(db, "tests.flaky", {"n": 1}, run_after=now - dt.timedelta(seconds=2))
    assert run_due_jobs(db, None, max_attempts=3) == 2
    assert calls == [{"n": 1}, {"n": 2}]


def test_a_rolled_back_transaction_queues_nothing(db: Database, calls) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        enqueue(session, "tests.flaky", {"n": 1})
        raise RuntimeError("the state change failed")
    assert run_due_jobs(db, None, max_attempts=3) == 0


@pytest.mark.postgres_only
def test_two_workers_never_take_one_job(db: Database, calls) -> None:
    """Two workers in threads, each with its own connection, drain one queue of slow jobs:
    SKIP LOCKED lets the second take the next job instead of the one being run."""
    job_ids = [queue_job(db, "tests.slow", {"n": n}) for n in range(6)]
    barrier = threading.Barrier(2)
    ran: dict[str, int] = {}
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            ran[name] = run_due_jobs(db, None, max_attempts=3)
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(c["n"] for c in calls) == list(range(6)), "each job ran exactly once"
    assert ran["a"] + ran["b"] == 6
    assert ran["a"] >= 1 and ran["b"] >= 1
    # Without SKIP LOCKED the second worker would wait for the first one's job instead.
    assert max(c["alongside"] for c in calls) == 1, "the two workers ran jobs at the same time"
    assert {load(db, job_id).status for job_id in job_ids} == {"done"}
    assert {load(db, job_id).attempts for job_id in job_ids} == {1}
