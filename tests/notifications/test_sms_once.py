"""An SMS is delivered once, even when the worker dies after the SMS centre accepted it
and before that was recorded (issue 5): the retry carries the same idempotency key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.db import Database
from mcqs.jobs.models import Job
from mcqs.jobs.queue import LEASE, run_next_job
from mcqs.notifications.models import SmsMessage
from mcqs.notifications.service import queue_sms, send_queued_sms
from mcqs.wiring import connect

from conftest import sms_to


class Crash(BaseException):
    """The process dies: nothing after this point runs (not an ordinary error)."""


class DiesBeforeRecording:
    """The database as the worker sees it, until the worker dies at the start of its
    ``n``-th transaction."""

    def __init__(self, db: Database, n: int) -> None:
        self._db = db
        self._left = n

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        self._left -= 1
        if self._left == 0:
            raise Crash
        with self._db.transaction() as session:
            yield session


@pytest.fixture
def phone() -> str:
    import random

    return f"+99455{random.randrange(10**6, 10**7)}"


def test_a_crash_after_the_sms_centre_accepted_sends_one_sms(
    db: Database, services, simulators: str, http: httpx.Client, phone: str
) -> None:
    with db.transaction() as session:
        sms_id = queue_sms(session, phone=phone, text="Salam", application_id=None)
    # Claim (1st transaction), hand to the SMS centre, die before recording it (2nd).
    with pytest.raises(Crash):
        send_queued_sms(DiesBeforeRecording(db, 2), services.sms, sms_id=sms_id)  # type: ignore[arg-type]
    assert len(sms_to(http, simulators, phone)) == 1
    with db.transaction() as session:
        assert session.get(SmsMessage, sms_id).status == "sending"  # type: ignore[union-attr]
    send_queued_sms(db, services.sms, sms_id=sms_id)  # the retry
    assert len(sms_to(http, simulators, phone)) == 1, "the SMS centre kept one message"
    with db.transaction() as session:
        assert session.get(SmsMessage, sms_id).status == "sent"  # type: ignore[union-attr]


def test_a_job_whose_worker_died_runs_again_when_its_lease_runs_out(
    db: Database, services, simulators: str, http: httpx.Client, phone: str
) -> None:
    """The whole path through the queue: the worker dies mid-job (no failure recorded,
    the job stays 'running'); no other worker takes it before its lease ends; after, one
    does, and the citizen still gets one SMS."""
    import datetime as dt

    connect()
    with db.transaction() as session:
        queue_sms(session, phone=phone, text="Cihazınız qeydiyyata alındı", application_id=None)
    now = dt.datetime.now(dt.UTC)
    with pytest.raises(Crash):
        run_next_job(DiesBeforeRecording(db, 3), services, max_attempts=5, now=now)  # type: ignore[arg-type]
    with db.transaction() as session:
        job = session.scalars(select(Job)).one()
        assert (job.status, job.attempts) == ("running", 1)
    assert not run_next_job(db, services, max_attempts=5, now=now + LEASE / 2)
    assert run_next_job(db, services, max_attempts=5, now=now + LEASE + dt.timedelta(seconds=1))
    with db.transaction() as session:
        job = session.scalars(select(Job)).one()
        assert (job.status, job.attempts) == ("done", 2)
    assert len(sms_to(http, simulators, phone)) == 1
