"""The worker claims and marks done jobs in batches: the flow's promises hold as they did
one job at a time (one registration per IMEI, every paid application registered or rejected
with a refund owed, one SMS per event), with two batch workers racing (PostgreSQL), a
worker dying with its batch leased, and finished jobs purged after their retention."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from mcqs.applications.models import Application
from mcqs.db import Database, utcnow
from mcqs.jobs.models import Job
from mcqs.jobs.queue import LEASE, TASKS, JobContext, _claim, enqueue, run_due_jobs, task
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Refund
from mcqs.registrations.models import RegistrationImei
from mcqs.wiring import connect

from factories import create_paid_application


def in_parallel(*runs: Callable[[], Any]) -> list[Any]:
    """Run each callable in its own thread (its own connection), started together."""
    barrier = threading.Barrier(len(runs))
    results: list[Any] = [None] * len(runs)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[n] = runs[n]()
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(runs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    return results


def assert_flow_promises_hold(db: Database, imeis: list[str]) -> None:
    with db.transaction() as session:
        applications = session.scalars(select(Application)).all()
        refunds = Counter(session.scalars(select(Refund.application_id)))
        active = Counter(
            session.scalars(select(RegistrationImei.imei_norm).where(RegistrationImei.active))
        )
        sms = Counter(session.scalars(select(SmsMessage.application_id)))
        sms_statuses = set(session.scalars(select(SmsMessage.status)))
        jobs = session.execute(select(Job.status, Job.attempts)).all()
    assert {a.status for a in applications} <= {"registered", "rejected"}, "none left paid"
    rejected = {a.id for a in applications if a.status == "rejected"}
    assert set(refunds) == rejected and set(refunds.values()) <= {1}, "one refund per rejection"
    assert set(active) == {imei[:14] for imei in imeis} and set(active.values()) == {1}
    assert set(sms) == {a.id for a in applications} and set(sms.values()) == {1}
    assert sms_statuses == {"sent"}
    assert {(status, attempts) for status, attempts in jobs} == {("done", 1)}, "each ran once"


def test_a_batch_worker_keeps_the_flows_promises(
    db: Database, demo_imeis, services, run_worker
) -> None:
    with db.transaction() as session:
        for n in range(12):
            create_paid_application(session, imeis=(demo_imeis[n % 4],), fin=f"FIN{n:04d}")
    connect()
    ran = run_due_jobs(db, services, max_attempts=3, batch=5)
    assert ran == 24, "12 registrations, then 12 SMS"
    assert_flow_promises_hold(db, demo_imeis[:4])


@pytest.mark.postgres_only
def test_two_batch_workers_racing_keep_the_flows_promises(
    db: Database, demo_imeis, services
) -> None:
    """Two workers claim batches from one queue at the same moment, many paid applications
    competing for few IMEIs: no job runs twice, no IMEI is registered twice."""
    with db.transaction() as session:
        for n in range(40):
            create_paid_application(session, imeis=(demo_imeis[n % 5],), fin=f"FIN{n:04d}")
    connect()

    def worker() -> int:
        return run_due_jobs(db, services, max_attempts=3, batch=7)

    ran = in_parallel(worker, worker)
    assert sum(ran) == 80 and min(ran) > 0, f"both workers worked: {ran}"
    assert_flow_promises_hold(db, demo_imeis[:5])


@pytest.fixture
def noted() -> Any:
    seen: list[int] = []

    @task("tests.note")
    def note(context: JobContext, payload: dict[str, Any]) -> None:
        if payload.get("fail"):
            raise RuntimeError("the party did not answer")
        seen.append(payload["n"])

    try:
        yield seen
    finally:
        TASKS.pop("tests.note", None)


def queue_notes(db: Database, count: int, **payload: Any) -> list[int]:
    with db.transaction() as session:
        return [enqueue(session, "tests.note", {"n": n, **payload}).id for n in range(count)]


def jobs_by_id(db: Database) -> dict[int, Job]:
    with db.transaction() as session:
        return {job.id: job for job in session.scalars(select(Job))}


def test_a_dead_workers_batch_is_taken_once_its_lease_runs_out(db: Database, noted) -> None:
    queue_notes(db, 6)
    now = utcnow()
    dead = _claim(db, now=now, count=4)  # claimed, then the worker died
    assert len(dead) == 4
    assert run_due_jobs(db, None, max_attempts=3, batch=10, now=now) == 2, "the others only"
    assert run_due_jobs(db, None, max_attempts=3, batch=10, now=now + LEASE / 2) == 0
    assert run_due_jobs(db, None, max_attempts=3, batch=10, now=now + LEASE) == 4
    assert sorted(noted) == list(range(6))
    jobs = jobs_by_id(db)
    assert {job.status for job in jobs.values()} == {"done"}
    assert sorted(job.attempts for job in jobs.values()) == [1, 1, 2, 2, 2, 2]


def test_a_job_that_outlived_its_lease_is_left_to_its_new_owner(db: Database, noted) -> None:
    """The first worker comes back after its lease ran out and another claimed the job:
    marking its batch done writes nothing over the new claim."""
    from mcqs.jobs.queue import _record_done

    (job_id,) = queue_notes(db, 1)
    now = utcnow()
    first = _claim(db, now=now, count=5)
    second = _claim(db, now=now + LEASE, count=5)
    assert [c.id for c in first] == [c.id for c in second] == [job_id]
    _record_done(db, first, now=now + LEASE)
    job = jobs_by_id(db)[job_id]
    assert (job.status, job.attempts) == ("running", 2), "still the second worker's"
    _record_done(db, second, now=now + LEASE)
    assert jobs_by_id(db)[job_id].status == "done"


def test_a_failing_job_in_a_batch_is_retried_alone(db: Database, noted) -> None:
    good = queue_notes(db, 3)
    (bad,) = queue_notes(db, 1, fail=True)
    now = utcnow()
    assert run_due_jobs(db, None, max_attempts=3, batch=10, now=now) == 4
    jobs = jobs_by_id(db)
    assert {jobs[i].status for i in good} == {"done"}
    assert (jobs[bad].status, jobs[bad].attempts) == ("queued", 1)
    assert jobs[bad].last_error is not None and "did not answer" in jobs[bad].last_error
    assert jobs[bad].run_after == now + dt.timedelta(seconds=2)


def test_finished_jobs_are_purged_after_the_retention(
    db: Database, noted, run_worker, services
) -> None:
    """The worker's sweep deletes done and failed jobs MCQS_JOB_RETENTION_DAYS after they
    ended; queued and running ones, and recent finished ones, stay."""
    days = services.settings.job_retention_days
    now = utcnow()
    old_done, old_failed, recent, waiting = queue_notes(db, 4)
    with db.transaction() as session:
        for job_id, status, ended in (
            (old_done, "done", now - dt.timedelta(days=days, minutes=1)),
            (old_failed, "failed", now - dt.timedelta(days=days, minutes=1)),
            (recent, "done", now - dt.timedelta(days=days) + dt.timedelta(minutes=1)),
        ):
            job = session.get_one(Job, job_id)
            job.status, job.finished_at = status, ended  # type: ignore[assignment]
        session.get_one(Job, waiting).run_after = now + dt.timedelta(days=1)
    run_worker(now=now)
    with db.transaction() as session:
        left = dict(session.execute(select(Job.id, Job.status)).all())
        assert session.scalar(select(func.count()).select_from(Job)) == 2
    assert left == {recent: "done", waiting: "queued"}


def test_a_worker_told_to_stop_hands_the_rest_of_its_batch_back(db: Database, noted) -> None:
    """SIGTERM sets the worker's stop: the job under way is finished, the rest of the batch
    is due again at once for any worker, with no attempt counted."""
    queue_notes(db, 5)
    now = utcnow()
    assert run_due_jobs(db, None, max_attempts=3, batch=5, now=now, stopping=lambda: bool(noted))
    assert noted == [0]
    jobs = sorted(jobs_by_id(db).values(), key=lambda job: job.id)
    assert [(job.status, job.attempts) for job in jobs] == [("done", 1)] + [("queued", 0)] * 4
    assert {job.run_after for job in jobs[1:]} == {now}
    assert run_due_jobs(db, None, max_attempts=3, batch=5, now=now) == 4
    assert noted == [0, 1, 2, 3, 4]


def test_a_failing_registration_does_not_lose_the_rest_of_its_batch(
    db: Database, demo_imeis, services
) -> None:
    """One application of the batch breaks its SMS (no phone number): the batch's
    transaction rolls back, each job runs alone, the others are registered and told, and
    the broken one's job waits for its retry with the error recorded."""
    with db.transaction() as session:
        apps = [
            create_paid_application(session, imeis=(imei,), fin=f"FIN{n:04d}")
            for n, imei in enumerate(demo_imeis[:5])
        ]
        apps[2].phone = None
        ids = [a.id for a in apps]
    connect()
    now = utcnow() + dt.timedelta(minutes=1)  # the SMS queued meanwhile are due; no retry is
    assert run_due_jobs(db, services, max_attempts=3, batch=10, now=now) == 5 + 4
    with db.transaction() as session:
        status = dict(session.execute(select(Application.id, Application.status)).all())
        sms = Counter(session.scalars(select(SmsMessage.application_id)))
        broken = session.scalars(
            select(Job).where(Job.payload["application_id"].as_integer() == ids[2])
        ).one()
    assert [status[i] for i in ids] == ["registered"] * 2 + ["paid"] + ["registered"] * 2
    assert sms == Counter(ids[:2] + ids[3:])
    assert (broken.status, broken.attempts) == ("queued", 1)
    assert broken.last_error is not None and "has no phone number" in broken.last_error


@pytest.mark.postgres_only
def test_two_batches_racing_for_the_same_imeis_in_crossed_order(db: Database, demo_imeis) -> None:
    """Two workers' batches at the same moment, each with an application for each of the
    same IMEIs (in the opposite order): one registration per IMEI, each loser rejected
    with a refund owed and its SMS, and no deadlock (the IMEIs are inserted sorted)."""
    from mcqs.registrations.service import register_applications

    imeis = demo_imeis[:6]
    with db.transaction() as session:
        first = [create_paid_application(session, imeis=(i,), fin="5ABC1D2").id for i in imeis]
        second = [
            create_paid_application(session, imeis=(i,), fin="6DEF2G3").id for i in reversed(imeis)
        ]
    connect()

    def batch(ids: list[int]) -> list[int]:
        with db.transaction() as session:
            return register_applications(session, application_ids=ids, now=utcnow())

    assert in_parallel(lambda: batch(first), lambda: batch(second)) == [[], []]
    with db.transaction() as session:
        decided = Counter(session.scalars(select(Application.status)))
    assert decided == {"registered": 6, "rejected": 6}
    with db.transaction() as session:
        reasons = set(
            session.scalars(
                select(Application.reject_reason).where(Application.status == "rejected")
            )
        )
    assert reasons == {"imei_registered_to_other"}
    assert_flow_promises_hold_before_sms(db, imeis)


def assert_flow_promises_hold_before_sms(db: Database, imeis: list[str]) -> None:
    with db.transaction() as session:
        applications = session.scalars(select(Application)).all()
        refunds = Counter(session.scalars(select(Refund.application_id)))
        active = Counter(
            session.scalars(select(RegistrationImei.imei_norm).where(RegistrationImei.active))
        )
        sms = Counter(session.scalars(select(SmsMessage.application_id)))
    rejected = {a.id for a in applications if a.status == "rejected"}
    assert set(refunds) == rejected and set(refunds.values()) == {1}
    assert active == Counter({imei[:14]: 1 for imei in imeis})
    assert sms == Counter(a.id for a in applications)


@pytest.mark.postgres_only
def test_two_workers_on_one_queue_with_dual_sim_phones(
    db: Database, demo_imeis, services, caplog: pytest.LogCaptureFixture
) -> None:
    """Two workers with full batches drain a queue of 60 paid applications competing for 6
    IMEIs, some dual-SIM phones among them: never two registrations of an IMEI, never two
    SMS for one decision, every job run once, and no batch had to fall back to one by one."""
    with db.transaction() as session:
        for n in range(60):
            first = demo_imeis[n % 6]
            both = (first, demo_imeis[(n + 1) % 6]) if n % 5 == 0 else (first,)
            create_paid_application(session, imeis=both, fin=f"FIN{n:04d}")
    connect()

    def worker() -> int:
        return run_due_jobs(db, services, max_attempts=3, batch=25)

    with caplog.at_level("WARNING", logger="mcqs.jobs.queue"):
        ran = in_parallel(worker, worker)
    assert sum(ran) == 120 and min(ran) > 0, f"both workers worked: {ran}"
    assert not [r for r in caplog.records if "running each alone" in r.getMessage()]
    assert_flow_promises_hold(db, demo_imeis[:6])


@pytest.mark.postgres_only
def test_two_workers_with_full_batches_race_for_the_same_imeis(
    db: Database, demo_imeis, services, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker's own batch size: each of two workers claims a full batch at the same
    moment, every batch with applications for all of 8 IMEIs (dual-SIM phones among them,
    typed in either order), so the two race inside each batch's one IMEI insert. Never two
    registrations of an IMEI, every loser rejected with a refund owed, one SMS per
    decision, every job run once, no batch fallen back to one by one."""
    from mcqs.worker import JOBS_PER_BATCH

    imeis = demo_imeis[:8]
    with db.transaction() as session:
        for n in range(2 * JOBS_PER_BATCH):
            first, second = imeis[n % 8], imeis[(n + 3) % 8]
            both = ((first, second) if n % 2 else (second, first)) if n % 7 == 0 else (first,)
            create_paid_application(session, imeis=both, fin=f"FIN{n:04d}")
    connect()

    def worker() -> int:
        return run_due_jobs(db, services, max_attempts=3, batch=JOBS_PER_BATCH, limit=10**4)

    with caplog.at_level("WARNING", logger="mcqs.jobs.queue"):
        ran = in_parallel(worker, worker)
    assert sum(ran) == 4 * JOBS_PER_BATCH and min(ran) > 0, f"both workers worked: {ran}"
    assert not [r for r in caplog.records if "running each alone" in r.getMessage()]
    assert_flow_promises_hold(db, imeis)
    with db.transaction() as session:
        reasons = Counter(session.scalars(select(Application.reject_reason)))
    assert set(reasons) == {None, "imei_registered_to_other"}


def test_the_heartbeat_beats_between_the_jobs_of_a_batch(db: Database, noted) -> None:
    """A batch of slow jobs (SMS to a slow SMS centre) must not silence the worker."""
    queue_notes(db, 5)
    beats: list[int] = []
    assert run_due_jobs(db, None, max_attempts=3, batch=5, alive=lambda: beats.append(1)) == 5
    assert len(beats) == 5


def test_a_batch_of_registrations_takes_two_transactions(db: Database, demo_imeis) -> None:
    """The claim, then the registrations with their jobs marked done in the same one."""
    from sqlalchemy import event

    with db.transaction() as session:
        for n, imei in enumerate(demo_imeis[:8]):
            create_paid_application(session, imeis=(imei,), fin=f"FIN{n:04d}")
    connect()
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(db.engine, "commit", count)
    try:
        assert run_due_jobs(db, None, max_attempts=3, limit=8, batch=8) == 8
    finally:
        event.remove(db.engine, "commit", count)
    assert len(commits) == 2
    with db.transaction() as session:
        jobs = session.execute(select(Job.task, Job.status)).all()
    assert Counter(jobs) == {
        ("registrations.register_application", "done"): 8,
        ("notifications.send_sms", "queued"): 8,
    }
