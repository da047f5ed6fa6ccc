"""The worker: runs queued jobs and sweeps for work nobody queued (abandoned payments)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from mcqs.applications.service import expire_unstarted_applications, paid_applications_waiting
from mcqs.db import Database, utcnow
from mcqs.errors import ExternalServiceError
from mcqs.jobs.heartbeat import record_heartbeat, this_worker_id
from mcqs.jobs.queue import purge_finished_jobs, run_due_jobs
from mcqs.payments.service import (
    expire_unpaid_applications,
    give_up_unopened,
    payments_to_settle,
    settle_payment,
)
from mcqs.registrations.service import register_application
from mcqs.security.service import purge_expired
from mcqs.services import Services
from mcqs.wiring import connect

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0
# /healthz calls a worker silent after MCQS_HEALTH_WORKER_SILENT_SECONDS (60 by default).
HEARTBEAT_SECONDS = 5.0
# Jobs claimed (and marked done) per transaction: two commits per batch, not two per job,
# and a batch of registrations decided with a fixed handful of statements whatever its
# size (see docs/benchmarks.md for how the size was chosen).
JOBS_PER_BATCH = 100
# Jobs run between two looks at the sweep's clock (the heartbeat beats between jobs).
JOBS_PER_TURN = 2 * JOBS_PER_BATCH


# The sweep's questions to GoldenPay stop after this long; the next sweep goes on.
SETTLE_BUDGET_SECONDS = 20.0


def sweep(
    db: Database,
    services: Services,
    *,
    now: dt.datetime | None = None,
    alive: Callable[[], object] = lambda: None,
) -> None:
    """Work nobody queued, each piece on its own so one failure stops no other: settle
    payments whose citizen never came back, register paid applications whose job gave
    up, expire what nobody will pay, purge what is past keeping. ``now`` lets tests be
    fifteen minutes later.

    A slow or absent GoldenPay must not silence the worker: ``alive`` (the heartbeat) is
    called between payments, the questions stop at the first GoldenPay failure and after
    ``SETTLE_BUDGET_SECONDS``, and what is left waits for the next sweep."""
    settings = services.settings

    def moment() -> dt.datetime:
        return now or utcnow()

    with db.transaction() as session:
        keys = payments_to_settle(session, now=moment())
        stuck = paid_applications_waiting(session, now=moment())
    deadline = time.monotonic() + SETTLE_BUDGET_SECONDS
    for key in keys:
        if time.monotonic() > deadline:
            log.warning("sweep: out of time for GoldenPay; the rest wait for the next sweep")
            break
        try:
            # Its own transactions: GoldenPay is asked with none open.
            settle_payment(
                db, goldenpay=services.goldenpay, settings=settings, payment_key=key, now=moment
            )
        except ExternalServiceError:
            log.warning("sweep: GoldenPay did not answer; asking again next sweep")
            break
        except Exception:
            log.exception("sweep: could not settle a payment; will try again")
        alive()
    for application_id in stuck:
        _attempt(
            db,
            f"register application {application_id}",
            partial(_register, application_id=application_id, now=moment()),
        )
    _attempt(db, "give up unopened payments", lambda s: give_up_unopened(s, now=moment()))
    _attempt(
        db, "expire unpaid applications", lambda s: expire_unpaid_applications(s, now=moment())
    )
    _attempt(db, "expire applications", lambda s: expire_unstarted_applications(s, now=moment()))
    _attempt(
        db,
        "purge security codes",
        lambda s: purge_expired(s, settings=settings, now=moment()),
    )
    keep = dt.timedelta(days=settings.job_retention_days)
    _attempt(db, "purge jobs", lambda s: purge_finished_jobs(s, retention=keep, now=moment()))


def _register(session: Session, **kwargs: Any) -> None:
    register_application(session, **kwargs)


def _attempt(db: Database, what: str, step: Callable[[Session], object]) -> None:
    try:
        with db.transaction() as session:
            step(session)
    except Exception:
        log.exception("sweep: could not %s; will try again", what)


def work_once(db: Database, services: Services, *, now: dt.datetime | None = None) -> int:
    """One pass: sweep, then run every due job. Returns how many jobs ran."""
    sweep(db, services, now=now)
    return run_due_jobs(
        db, services, max_attempts=services.settings.job_max_attempts, batch=JOBS_PER_BATCH
    )


def run_worker(
    db: Database,
    services: Services,
    *,
    stop: threading.Event | None = None,
    exit_with_parent: bool = False,
) -> None:
    """Run until ``stop`` is set (the job running is finished, the rest of its batch handed
    back). ``exit_with_parent``: also stop once the process that started this one is gone
    (the demo's worker must not outlive the demo)."""
    connect()
    stop = stop or threading.Event()
    parent = os.getppid()
    poll = services.settings.worker_poll_seconds
    next_sweep = 0.0
    worker_id, started_at = this_worker_id(), utcnow()
    next_beat = 0.0

    def beat() -> None:
        nonlocal next_beat
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + HEARTBEAT_SECONDS
            record_heartbeat(db, worker_id, started_at=started_at, now=utcnow())

    log.info("worker %s started", worker_id)
    while not stop.is_set():
        if exit_with_parent and os.getppid() != parent:
            log.info("worker: the demo that started it is gone; stopping")
            break
        beat()
        if time.monotonic() >= next_sweep:
            next_sweep = time.monotonic() + SWEEP_SECONDS
            try:
                sweep(db, services, alive=beat)
            except Exception:  # e.g. the database is away for a moment: try next time
                log.exception("worker: the sweep failed; will try again")
        try:
            ran = run_due_jobs(
                db,
                services,
                max_attempts=services.settings.job_max_attempts,
                limit=JOBS_PER_TURN,
                batch=JOBS_PER_BATCH,
                stopping=stop.is_set,
                alive=beat,
            )
        except Exception:
            log.exception("worker: running jobs failed; retrying")
            ran = 0
        if not ran:
            stop.wait(poll)
