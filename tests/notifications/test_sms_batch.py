"""A batch of SMS jobs is handed to the SMS centre several at once, each message once; a
message the centre refuses retries alone, and the others are not sent again."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from sqlalchemy import select

from mcqs.db import Database
from mcqs.errors import ExternalServiceError
from mcqs.jobs.models import Job
from mcqs.jobs.queue import run_due_jobs
from mcqs.notifications.models import SmsMessage
from mcqs.notifications.service import SmsToQueue, queue_sms_all, send_queued_sms_all
from mcqs.wiring import connect

from conftest import sms_to

REFUSED = "0501234567"  # not E.164: the SMS centre answers 422


def _phones(count: int) -> list[str]:
    import random

    first = random.randrange(10**6, 9 * 10**6)
    return [f"+99477{first + n}" for n in range(count)]


def _queue(db: Database, phones: list[str]) -> list[int]:
    with db.transaction() as session:
        return queue_sms_all(session, [SmsToQueue(phone, "Salam", None) for phone in phones])


def _statuses(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {m.phone: m.status for m in session.scalars(select(SmsMessage))}


def test_a_batch_of_jobs_sends_each_sms_once(
    db: Database, services, simulators: str, http: httpx.Client
) -> None:
    connect()
    phones = _phones(12)  # more than one wave of MCQS_SMS_SENDS_AT_ONCE (8)
    _queue(db, phones)
    delivered_at_beats: list[int] = []

    def beat() -> None:  # the worker's heartbeat: how far the batch had gone
        delivered_at_beats.append(sum(len(sms_to(http, simulators, p)) for p in phones))

    assert run_due_jobs(db, services, max_attempts=5, batch=100, alive=beat) == 12
    for phone in phones:
        assert len(sms_to(http, simulators, phone)) == 1
    # It beat in the middle of the batch, not only after it: a slow SMS centre does not
    # make a worker sending a batch look dead.
    assert any(0 < delivered < 12 for delivered in delivered_at_beats), delivered_at_beats
    with db.transaction() as session:
        messages = session.scalars(select(SmsMessage)).all()
        assert {m.status for m in messages} == {"sent"}
        assert all(m.provider_message_id and m.sent_at for m in messages)
        assert {job.status for job in session.scalars(select(Job))} == {"done"}


def test_a_refusal_stops_the_batch_after_its_wave(
    db: Database, services, simulators: str, http: httpx.Client
) -> None:
    phones = [REFUSED, *_phones(9)]
    ids = _queue(db, phones)
    with pytest.raises(ExternalServiceError) as refused:
        send_queued_sms_all(db, services.sms, sms_ids=ids, at_once=2)
    assert refused.value.code == "sms_unavailable"
    statuses = _statuses(db)
    # The first wave: the refused message and the one beside it, which was sent and recorded.
    assert statuses[REFUSED] == "sending"
    assert statuses[phones[1]] == "sent"
    assert len(sms_to(http, simulators, phones[1])) == 1
    # The rest were not tried: a centre refusing everything costs one wave, not ten tries.
    for phone in phones[2:]:
        assert statuses[phone] == "sending"
        assert sms_to(http, simulators, phone) == []


def test_after_a_refusal_each_job_runs_alone_and_nothing_is_sent_twice(
    db: Database, services, simulators: str, http: httpx.Client
) -> None:
    connect()
    phones = [*_phones(3), REFUSED, *_phones(6)]
    _queue(db, phones)
    now = dt.datetime.now(dt.UTC)
    assert run_due_jobs(db, services, max_attempts=5, batch=100, now=now) == 10
    statuses = _statuses(db)
    good = [phone for phone in phones if phone != REFUSED]
    for phone in good:
        assert statuses[phone] == "sent"
        assert len(sms_to(http, simulators, phone)) == 1
    assert statuses[REFUSED] == "sending"
    with db.transaction() as session:
        jobs = session.scalars(select(Job)).all()
        assert sorted(job.status for job in jobs) == ["done"] * 9 + ["queued"]
        retried = next(job for job in jobs if job.status == "queued")
        assert retried.attempts == 1 and retried.last_error
        assert retried.run_after > now  # backs off as a single job does
