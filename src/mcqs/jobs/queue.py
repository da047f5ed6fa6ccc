"""A durable job queue in the application's own database.

A job is written in the same transaction as the state change that needs it, so a
rollback discards both. A worker claims a due job in a short transaction of its own
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers scale out; SQLite runs
one at a time) and leases it; the task then runs with no transaction of the queue's
open — it opens its own, and calls outside parties between them — and the outcome is
recorded in a third. A worker that dies mid-task leaves a lease that runs out: the job
is due again. Tasks are therefore idempotent: run twice, they change nothing twice.

Jobs are claimed in batches; a task that has a batch form (:func:`batch_task`, e.g. the
registrations) runs the jobs of a batch together, with a few statements for all of them,
and falls back to one job at a time when the batch fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from mcqs.db import Database, among, insert_rows, utcnow
from mcqs.jobs.models import Job, JobStatus

log = logging.getLogger(__name__)

# How long a claimed job is its worker's; past this, another worker may take it again.
LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class JobContext:
    """What a task needs besides its payload: the database to open transactions on, the
    adapters, and the moment the job was claimed."""

    db: Database
    services: Any  # mcqs.services.Services (kept loose to avoid an import cycle)
    now: dt.datetime
    # A batch task's jobs, and those of them it marked done itself (mark_batch_done).
    batch: tuple[_Claimed, ...] = ()
    marked: set[int] = field(default_factory=set, compare=False)
    # The worker's heartbeat: a batch task whose jobs each wait on a party (the SMS) calls
    # it as it goes, so that a slow party does not make the worker look dead.
    alive: Callable[[], object] = field(default=lambda: None, compare=False)

    def mark_batch_done(self, session: Session) -> None:
        """Mark the batch's jobs done in ``session``, the batch task's own (last)
        transaction: the work and its record commit together, a transaction fewer per
        batch. Each only if still this worker's claim, as when the worker marks them."""
        _mark_done(session, list(self.batch), now=utcnow())
        self.marked.update(job.id for job in self.batch)


TaskFunction = Callable[[JobContext, dict[str, Any]], None]
TASKS: dict[str, TaskFunction] = {}
# Tasks that can also run many of their jobs at once: (context, payloads in claim order).
BatchTaskFunction = Callable[[JobContext, list[dict[str, Any]]], None]
BATCH_TASKS: dict[str, BatchTaskFunction] = {}


def task(name: str) -> Callable[[TaskFunction], TaskFunction]:
    """Register a background task under ``domain.verb_noun``."""

    def register(function: TaskFunction) -> TaskFunction:
        if name in TASKS and TASKS[name] is not function:
            raise ValueError(f"task {name} registered twice")
        TASKS[name] = function
        return function

    return register


def batch_task(name: str) -> Callable[[BatchTaskFunction], BatchTaskFunction]:
    """Register how to run many jobs of the task ``name`` at once (the task itself is
    registered with :func:`task`, which still runs a job alone).

    When the batch function raises, the worker runs each job of the batch alone instead,
    so one bad job fails alone and the others are not lost; like every task it must
    therefore be safe to run again (best: one transaction, all or nothing). It returning
    means every job in it is done."""

    def register(function: BatchTaskFunction) -> BatchTaskFunction:
        if name in BATCH_TASKS and BATCH_TASKS[name] is not function:
            raise ValueError(f"batch task {name} registered twice")
        BATCH_TASKS[name] = function
        return function

    return register


def enqueue(
    session: Session, name: str, payload: dict[str, Any], *, run_after: dt.datetime | None = None
) -> Job:
    job = Job(task=name, payload=payload, status=JobStatus.QUEUED, run_after=run_after or utcnow())
    session.add(job)
    session.flush()
    return job


def enqueue_all(
    session: Session,
    name: str,
    payloads: list[dict[str, Any]],
    *,
    run_after: dt.datetime | None = None,
) -> None:
    """Queue one job of ``name`` per payload with one statement, whatever their number (the
    worker's batch of decisions queues an SMS job per decision)."""
    now = utcnow()
    due = run_after or now
    insert_rows(
        session,
        cast(Table, Job.__table__),
        [
            {
                "task": name,
                "payload": payload,
                "status": JobStatus.QUEUED,
                "attempts": 0,
                "run_after": due,
                "created_at": now,
            }
            for payload in payloads
        ],
    )


def backoff(attempts: int) -> dt.timedelta:
    """2 s, 4 s, ... up to an hour between tries: an outage of a party (the SMS centre, say)
    of several hours is outlasted with the default MCQS_JOB_MAX_ATTEMPTS."""
    return dt.timedelta(seconds=min(2**attempts, 3600))


@dataclass(frozen=True)
class _Claimed:
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int


def _claim(db: Database, *, now: dt.datetime, count: int = 1) -> list[_Claimed]:
    """Claim up to ``count`` due jobs, the longest due first, with one statement in a short
    transaction; returned in the order they were queued (by id). A running job is due
    again only when its lease ran out (its worker died)."""
    due = (
        select(Job.id)
        .where(Job.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]), Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(count)
        .with_for_update(skip_locked=True)
    )
    with db.transaction() as session:
        rows = session.execute(
            update(Job)
            .where(Job.id.in_(due.scalar_subquery()))
            .values(status=JobStatus.RUNNING, attempts=Job.attempts + 1, run_after=now + LEASE)
            .returning(Job.id, Job.task, Job.payload, Job.attempts)
            .execution_options(synchronize_session=False)
        ).all()
    claimed = [
        _Claimed(job_id, name, dict(payload), tries) for job_id, name, payload, tries in rows
    ]
    return sorted(claimed, key=lambda job: job.id)


def _still_ours(session: Session, claimed: _Claimed) -> Job | None:
    """The job, locked, unless its lease ran out and another worker claimed it meanwhile:
    then that worker records the outcome, and this one writes nothing."""
    job = session.get(Job, claimed.id, with_for_update=True)
    if job is None or job.status != JobStatus.RUNNING or job.attempts != claimed.attempts:
        log.warning(
            "job %s (%s) outlived its lease; another worker has it", claimed.id, claimed.task
        )
        return None
    return job


def run_next_job(
    db: Database, services: Any, *, max_attempts: int, now: dt.datetime | None = None
) -> bool:
    """Claim one due job and run it. False when nothing is due.

    ``now`` lets tests run the queue as if at another time."""
    return _run_batch(db, services, max_attempts=max_attempts, count=1, now=now) > 0


def run_due_jobs(
    db: Database,
    services: Any,
    *,
    max_attempts: int,
    limit: int = 1000,
    batch: int = 1,
    now: dt.datetime | None = None,
    stopping: Callable[[], bool] = lambda: False,
    alive: Callable[[], object] = lambda: None,
) -> int:
    """Run jobs until none is due (or ``limit`` ran), claiming ``batch`` at a time.
    Returns how many ran. ``alive`` (the worker's heartbeat) is called after each job or
    batch task: a batch of slow jobs (SMS to a slow SMS centre) must not silence it.

    A batch is claimed in one transaction and its finished jobs are marked done in one
    more, so a busy queue costs two commits per batch instead of two per job; a failed
    job's outcome is still written on its own. A worker that dies leaves its whole batch
    leased: another worker takes it once the lease runs out. One told to stop
    (``stopping()`` true, e.g. after SIGTERM) finishes the job it is running and hands the
    rest of its batch back at once."""
    count = 0
    while count < limit and not stopping():
        ran = _run_batch(
            db,
            services,
            max_attempts=max_attempts,
            count=min(batch, limit - count),
            now=now,
            stopping=stopping,
            alive=alive,
        )
        if not ran:
            break
        count += ran
    return count


def _run_batch(
    db: Database,
    services: Any,
    *,
    max_attempts: int,
    count: int,
    now: dt.datetime | None,
    stopping: Callable[[], bool] = lambda: False,
    alive: Callable[[], object] = lambda: None,
) -> int:
    """Claim up to ``count`` jobs and run them, task by task in the order first claimed:
    the jobs of a task with a batch form (:func:`batch_task`) together, falling back to
    one by one if the batch fails; the others one by one. Returns how many ran."""

    def moment() -> dt.datetime:
        return now or utcnow()

    claimed_at = moment()
    claimed = _claim(db, now=claimed_at, count=count)
    context = JobContext(db=db, services=services, now=claimed_at)
    done: list[_Claimed] = []
    tried: set[int] = set()
    for group in _by_task(claimed):
        batched = len(group) > 1 and group[0].task in BATCH_TASKS and not stopping()
        together = JobContext(
            db=db, services=services, now=claimed_at, batch=tuple(group), alive=alive
        )
        if batched and _run_together(together, group):
            tried.update(job.id for job in group)
            done.extend(job for job in group if job.id not in together.marked)
            alive()
            continue
        for job in group:
            if stopping():
                break
            tried.add(job.id)
            if _run_alone(context, job, max_attempts=max_attempts, moment=moment):
                done.append(job)
            alive()
    left = [job for job in claimed if job.id not in tried]
    if left:
        _hand_back(db, left, now=claimed_at)
    if done:
        _record_done(db, done, now=moment())
    return len(tried)


def _by_task(claimed: list[_Claimed]) -> list[list[_Claimed]]:
    groups: dict[str, list[_Claimed]] = {}
    for job in claimed:
        groups.setdefault(job.task, []).append(job)
    return list(groups.values())


def _run_together(context: JobContext, group: list[_Claimed]) -> bool:
    """Run a task's jobs as one batch; False (nothing of it kept) if it raised."""
    try:
        BATCH_TASKS[group[0].task](context, [job.payload for job in group])
    except Exception:
        log.warning(
            "a batch of %d %s jobs failed; running each alone",
            len(group),
            group[0].task,
            exc_info=True,
        )
        return False
    return True


def _run_alone(
    context: JobContext, job: _Claimed, *, max_attempts: int, moment: Callable[[], dt.datetime]
) -> bool:
    """Run one job; a failure is recorded on its own (retried later, or failed for good)."""
    try:
        TASKS[job.task](context, job.payload)
    except Exception:
        log.warning("job %s (%s) failed", job.id, job.task, exc_info=True)
        _record_failure(
            context.db,
            job,
            error=traceback.format_exc(limit=5),
            max_attempts=max_attempts,
            now=moment(),
        )
        return False
    return True


def _record_failure(
    db: Database, claimed: _Claimed, *, error: str, max_attempts: int, now: dt.datetime
) -> None:
    with db.transaction() as session:
        job = _still_ours(session, claimed)
        if job is None:
            return
        job.last_error = error[-4000:]
        if claimed.attempts >= max_attempts:
            job.status = JobStatus.FAILED
            job.finished_at = now
        else:
            # Counted from the failure, not the claim: a task that failed by timing out
            # after ten seconds must still wait its back-off before the next try.
            job.status = JobStatus.QUEUED
            job.run_after = now + backoff(claimed.attempts)


def _hand_back(db: Database, claimed: list[_Claimed], *, now: dt.datetime) -> None:
    """Claimed jobs this worker will not run after all: due again at once, their claim
    not counted as an attempt."""
    with db.transaction() as session:
        session.execute(
            update(Job)
            .where(
                among(session, (Job.id, Job.attempts), [(job.id, job.attempts) for job in claimed]),
                Job.status == JobStatus.RUNNING,
            )
            .values(status=JobStatus.QUEUED, attempts=Job.attempts - 1, run_after=now)
            .execution_options(synchronize_session=False)
        )


def _record_done(db: Database, claimed: list[_Claimed], *, now: dt.datetime) -> None:
    """Mark the jobs done in one statement, each only if still this worker's claim (same
    attempt, still running): one whose lease ran out and was claimed again is left to its
    new owner."""
    with db.transaction() as session:
        _mark_done(session, claimed, now=now)


def _mark_done(session: Session, claimed: list[_Claimed], *, now: dt.datetime) -> None:
    result = session.execute(
        update(Job)
        .where(
            among(session, (Job.id, Job.attempts), [(job.id, job.attempts) for job in claimed]),
            Job.status == JobStatus.RUNNING,
        )
        .values(status=JobStatus.DONE, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    written = int(getattr(result, "rowcount", 0) or 0)
    if written < len(claimed):
        log.warning(
            "%d of %d jobs outlived their lease; other workers have them",
            len(claimed) - written,
            len(claimed),
        )


def purge_finished_jobs(session: Session, *, retention: dt.timedelta, now: dt.datetime) -> int:
    """Delete jobs that finished (done, or failed for good) more than ``retention`` ago, so
    the queue stays the size of its recent work. Returns how many were deleted."""
    result = session.execute(
        delete(Job).where(
            Job.status.in_([JobStatus.DONE, JobStatus.FAILED]), Job.finished_at < now - retention
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
