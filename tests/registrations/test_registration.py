"""The registry's side: a paid application always ends registered, or rejected with a
refund owed; an IMEI is actively registered to at most one person."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from mcqs.applications.models import Application
from mcqs.db import Database, utcnow
from mcqs.devices.models import BlacklistedImei
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Refund
from mcqs.registrations.models import RegistrationImei
from mcqs.registrations.service import register_application

from factories import create_paid_application


def statuses(db: Database) -> dict[int, str]:
    with db.transaction() as session:
        return dict(session.execute(select(Application.id, Application.status)).all())


def test_paid_application_is_registered_and_sms_queued(
    db: Database, demo_imeis, run_worker
) -> None:
    with db.transaction() as session:
        application_id = create_paid_application(session, imeis=(demo_imeis[0],)).id
    run_worker()
    assert statuses(db) == {application_id: "registered"}
    with db.transaction() as session:
        sms = session.scalars(select(SmsMessage)).one()
        assert sms.status == "sent" and "qeydiyyata alındı" in sms.text


@pytest.mark.parametrize("reason", ["imei_blacklisted", "imei_registered_to_other"])
def test_rejection_after_payment_owes_a_refund_and_tells_the_citizen(
    db: Database, demo_imeis, run_worker, reason: str
) -> None:
    imei = demo_imeis[0]
    with db.transaction() as session:
        if reason == "imei_registered_to_other":
            create_paid_application(session, imeis=(imei,), fin="6DEF2G3")
        else:
            session.add(BlacklistedImei(imei_norm=imei[:14], reason="stolen"))
        application_id = create_paid_application(session, imeis=(imei,)).id
    run_worker()
    with db.transaction() as session:
        application = session.get(Application, application_id)
        assert application is not None
        assert (application.status, application.reject_reason) == ("rejected", reason)
        refund = session.scalars(
            select(Refund).where(Refund.application_id == application_id)
        ).one()
        assert (refund.status, refund.amount_qepik) == ("owed", application.fee_qepik)
        sms = session.scalars(
            select(SmsMessage).where(SmsMessage.application_id == application_id)
        ).one()
        assert "geri qaytarılacaq" in sms.text


def test_running_the_registration_twice_changes_nothing(db: Database, demo_imeis) -> None:
    with db.transaction() as session:
        application_id = create_paid_application(session, imeis=(demo_imeis[0],)).id
    for _ in range(2):
        with db.transaction() as session:
            register_application(session, application_id=application_id, now=utcnow())
    with db.transaction() as session:
        assert len(session.scalars(select(RegistrationImei)).all()) == 1
        assert len(session.scalars(select(SmsMessage)).all()) == 1


def test_every_paid_application_ends_registered_or_refunded(
    db: Database, demo_imeis, run_worker
) -> None:
    """Many paid applications competing for few IMEIs: none is left paid or submitted."""
    with db.transaction() as session:
        for n in range(12):
            create_paid_application(session, imeis=(demo_imeis[n % 4],), fin=f"FIN{n:04d}")
    run_worker()
    with db.transaction() as session:
        applications = session.scalars(select(Application)).all()
        refunded = set(session.scalars(select(Refund.application_id)))
        active = session.scalars(select(RegistrationImei.imei_norm).where(RegistrationImei.active))
        active_imeis = list(active)
    assert {a.status for a in applications} <= {"registered", "rejected"}
    assert {a.id for a in applications if a.status == "rejected"} == refunded
    assert sorted(active_imeis) == sorted({imei[:14] for imei in demo_imeis[:4]})


def test_two_citizens_paying_for_one_imei_at_the_same_moment(db: Database, demo_imeis) -> None:
    """Real parallel transactions, each in its own thread and connection (SQLite serialises
    the two writers; PostgreSQL runs them at once and the unique index decides)."""
    imei = demo_imeis[0]
    with db.transaction() as session:
        ids = [
            create_paid_application(session, imeis=(imei,), fin=fin).id
            for fin in ("5ABC1D2", "6DEF2G3")
        ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def register(application_id: int) -> None:
        try:
            with db.transaction() as session:
                barrier.wait(timeout=10)
                register_application(session, application_id=application_id, now=utcnow())
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=register, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(statuses(db).values()) == ["registered", "rejected"]
    with db.transaction() as session:
        assert (
            len(session.scalars(select(RegistrationImei).where(RegistrationImei.active)).all()) == 1
        )
        assert len(session.scalars(select(Refund)).all()) == 1


def test_a_paid_application_whose_job_gave_up_is_registered_by_the_sweep(
    db: Database, demo_imeis, run_worker
) -> None:
    from mcqs.jobs.models import Job

    with db.transaction() as session:
        application_id = create_paid_application(session, imeis=(demo_imeis[0],)).id
        for job in session.scalars(select(Job)):
            job.status = "failed"  # as if every attempt had failed
    run_worker()
    assert statuses(db) == {application_id: "paid"}
    run_worker(now=utcnow() + dt.timedelta(minutes=31))
    assert statuses(db) == {application_id: "registered"}
