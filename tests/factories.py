"""Factories: plain ``create_x(session, **overrides)`` functions."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.applications.codes import new_notification_code
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import application_imeis
from mcqs.devices.imei import parse_imei
from mcqs.fees.models import TariffBand
from mcqs.payments.models import Payment, PaymentStatus

_keys = itertools.count(1)


def create_application(
    session: Session,
    *,
    imeis: tuple[str, ...],
    fin: str = "5ABC1D2",
    status: str = ApplicationStatus.CREATED,
    phone: str | None = "+994501234567",
    now: dt.datetime | None = None,
) -> Application:
    now = now or dt.datetime.now(dt.UTC)
    band = session.scalars(select(TariffBand).order_by(TariffBand.id)).first()
    assert band is not None
    parsed = [parse_imei(raw) for raw in imeis]
    application = Application(
        notification_code=new_notification_code(),
        status=status,
        channel="online_anonymous",
        fin=fin,
        id_card="AA1234567",
        surname="Məmmədov",
        name="Elvin",
        patronymic="Rəşid oğlu",
        address="Bakı şəhəri",
        phone=phone,
        tac=parsed[0].tac,
        tariff_band_id=band.id,
        fee_qepik=band.amount_qepik,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=30),
        imeis=application_imeis(parsed),
    )
    session.add(application)
    session.flush()
    return application


def create_paid_application(
    session: Session,
    *,
    imeis: tuple[str, ...],
    fin: str = "5ABC1D2",
    now: dt.datetime | None = None,
) -> Application:
    """An application as the payment step leaves it: paid, with its registration job queued."""
    from mcqs.jobs.queue import enqueue

    now = now or dt.datetime.now(dt.UTC)
    application = create_application(
        session, imeis=imeis, fin=fin, status=ApplicationStatus.PAID, now=now
    )
    application.paid_at = now
    session.add(
        Payment(
            application_id=application.id,
            payment_key=f"test-key-{next(_keys)}-{application.notification_code}",
            card_type="v",
            amount_qepik=application.fee_qepik,
            status=PaymentStatus.PAID,
            masked_card="422865******8101",
            rrn="123456789012",
            paid_at=now,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=15),
        )
    )
    enqueue(session, "registrations.register_application", {"application_id": application.id})
    session.flush()
    return application


def create_awaiting_payment(
    session: Session, *, imeis: tuple[str, ...], payment_key: str, now: dt.datetime
) -> Application:
    """An application sent to GoldenPay: a pending payment under ``payment_key``."""
    application = create_application(
        session, imeis=imeis, status=ApplicationStatus.AWAITING_PAYMENT, now=now
    )
    session.add(
        Payment(
            application_id=application.id,
            payment_key=payment_key,
            card_type="v",
            amount_qepik=application.fee_qepik,
            status=PaymentStatus.PENDING,
            created_at=now,
            expires_at=now + dt.timedelta(minutes=15),
        )
    )
    session.flush()
    return application
