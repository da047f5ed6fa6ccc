"""A durable job queue in the application's own database.

A job is written in the same transaction as the state change that needs it, so a
rollback discards both. Workers claim due jobs with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (several workers scale out); SQLite runs one worker and ignores the clause.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.db import Database, utcnow
from mcqs.jobs.models import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a task needs besides its payload: the session of its transaction and the adapters."""

    session: Session
    services: Any  # mcqs.services.Services (kept loose to avoid an import cycle)
    now: dt.datetime


TaskFunction = Callable[[JobContext, dict[str, Any]], None]
TASKS: dict[str, TaskFunction] = {}


def task(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register a background task under ``domain.verb_noun``."""

    def register(function: TaskFunction) -> TaskFunction:
        if name in TASKS:
            raise ValueError(f"task {name} registered twice")
        TASKS[name] = function
        return function

    return register


def enqueue(
    session: Session, name: str, payload: dict[str, Any], *, run_after: dt.datetime | None = None
) -> Job:
    job = Job(task=name, payload=payload, status="queued", run_after=run_after or utcnow())
    session.add(job)
    session.flush()
    return job


def _backoff(attempts: int) -> dt.timedelta:
    # 2 s, 4 s, ... up to an hour between tries: an outage of a party (the SMS centre, say)
    # of several hours is outlasted with the default MCQS_JOB_MAX_ATTEMPTS.
    return dt.timedelta(seconds=min(2**attempts, 3600))


def run_next_job(
    db: Database, services: Any, *, max_attempts: int, now: dt.datetime | None = None
) -> bool:
    """Claim one due job and run it in its own transaction. False when nothing is due.

    ``now`` lets tests run the queue as if at another time."""

    def moment() -> dt.datetime:
        return now or utcnow()

    with db.transaction() as session:
        claimed_at = moment()
        job = session.scalars(
            select(Job)
            .where(Job.status == "queued", Job.run_after <= claimed_at)
            .order_by(Job.run_after, Job.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if job is None:
            return False
        job_id, name, payload = job.id, job.task, dict(job.payload)
        try:
            with session.begin_nested():
                context = JobContext(session=session, services=services, now=claimed_at)
                TASKS[name](context, payload)
        except Exception:
            error = traceback.format_exc(limit=5)
            log.warning("job %s (%s) failed", job_id, name, exc_info=True)
            job.attempts += 1
            job.last_error = error[-4000:]
            if job.attempts >= max_attempts:
                job.status = "failed"
                job.finished_at = moment()
            else:
                # Counted from the failure, not the claim: a task that failed by timing out
                # after ten seconds must still wait its back-off before the next try.
                job.run_after = moment() + _backoff(job.attempts)
            return True
        job.attempts += 1
        job.status = "done"
        job.finished_at = moment()
        return True


def run_due_jobs(db: Database, services: Any, *, max_attempts: int, limit: int = 1000) -> int:
    """Run jobs until none is due (or ``limit`` ran). Returns how many ran."""
    count = 0
    while count < limit and run_next_job(db, services, max_attempts=max_attempts):
        count += 1
    return count
