"""The worker: runs queued jobs and sweeps for work nobody queued (abandoned payments)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from mcqs.applications.service import expire_abandoned_applications
from mcqs.db import Database, utcnow
from mcqs.errors import DomainError
from mcqs.jobs.queue import run_due_jobs
from mcqs.payments.service import payments_to_reconcile, settle_payment
from mcqs.security.service import purge_expired
from mcqs.services import Services

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30.0


def load_tasks() -> None:
    """Import every module that registers tasks."""
    import mcqs.notifications.tasks  # noqa: F401
    import mcqs.registrations.tasks  # noqa: F401


def sweep(db: Database, services: Services, *, now: dt.datetime | None = None) -> None:
    """Settle payments whose citizen never came back, then expire what nobody will pay.

    ``now`` is for tests that need to be fifteen minutes later than they are."""
    with db.transaction() as session:
        keys = payments_to_reconcile(session, now=now or utcnow())
    for key in keys:
        try:
            with db.transaction() as session:
                settle_payment(
                    session, goldenpay=services.goldenpay, payment_key=key, now=now or utcnow()
                )
        except DomainError as error:
            log.warning("could not settle payment %s: %s", key, error.code)
    with db.transaction() as session:
        moment = now or utcnow()
        expire_abandoned_applications(session, now=moment)
        purge_expired(session, settings=services.settings, now=moment)


def work_once(db: Database, services: Services, *, now: dt.datetime | None = None) -> int:
    """One pass: sweep, then run every due job. Returns how many jobs ran."""
    sweep(db, services, now=now)
    return run_due_jobs(db, services, max_attempts=services.settings.job_max_attempts)


def run_worker(db: Database, services: Services, *, stop: threading.Event | None = None) -> None:
    load_tasks()
    stop = stop or threading.Event()
    poll = services.settings.worker_poll_seconds
    next_sweep = 0.0
    log.info("worker started")
    while not stop.is_set():
        try:
            if time.monotonic() >= next_sweep:
                sweep(db, services)
                next_sweep = time.monotonic() + SWEEP_SECONDS
            ran = run_due_jobs(db, services, max_attempts=services.settings.job_max_attempts)
        except Exception:
            log.exception("worker pass failed; retrying")
            ran = 0
        if not ran:
            stop.wait(poll)
