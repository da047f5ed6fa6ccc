"""Registering a paid application's device: the registry's side of the flow.

The database keeps the rule 'an IMEI is actively registered to at most one person'
(a partial unique index); two applications for one IMEI paid at the same moment end
with one registered and the other rejected with a refund owed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import imei as stdnum_imei

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import get_application
from mcqs.devices.service import is_blacklisted
from mcqs.messages import REJECT_REASONS_AZ
from mcqs.money import format_azn
from mcqs.notifications.service import queue_sms
from mcqs.payments.models import Payment
from mcqs.receipts.codes import format_notification_code
from mcqs.registrations.models import Refund, Registration, RegistrationImei


def register_application(session: Session, *, application_id: int, now: dt.datetime) -> Application:
    """Move a paid application through submitted to registered, or to rejected with a refund."""
    application = get_application(session, application_id, lock=True)
    if application.status not in (ApplicationStatus.PAID, ApplicationStatus.SUBMITTED):
        return application  # already decided: running the job twice changes nothing
    application.status = ApplicationStatus.SUBMITTED
    application.submitted_at = application.submitted_at or now

    reason = _reject_reason(session, application)
    if reason is None:
        try:
            with session.begin_nested():
                _insert_registration(session, application, now=now)
        except IntegrityError:
            reason = "imei_registered_to_other"
    if reason is None:
        application.status = ApplicationStatus.REGISTERED
        application.decided_at = now
        device = " ".join(filter(None, [application.brand, application.model])) or "Mobil"
        queue_sms(
            session,
            phone=_phone(application),
            application_id=application.id,
            text=(
                f"{device} cihazınız (İMEİ {application.imeis[0].imei}) qeydiyyata alındı. "
                f"Bildirişin kodu: {format_notification_code(application.notification_code)}"
            ),
        )
    else:
        reject_paid_application(session, application=application, reason=reason, now=now)
    session.flush()
    return application


def reject_paid_application(
    session: Session, *, application: Application, reason: str, now: dt.datetime
) -> None:
    """Reject after payment: record the refund owed and tell the citizen by SMS."""
    payment = application.paid_payment
    if payment is None:
        raise RuntimeError(f"application {application.id} is not paid")
    application.status = ApplicationStatus.REJECTED
    application.reject_reason = reason
    application.decided_at = now
    _owe_refund(
        session,
        application=application,
        payment=payment,
        reason=reason,
        now=now,
        text=f"Cihazınız qeydiyyata alınmadı: {REJECT_REASONS_AZ[reason]}.",
    )


def refund_duplicate_payment(
    session: Session, *, application: Application, payment: Payment, now: dt.datetime
) -> None:
    """A second payment for an application already paid: owe it back, change nothing else."""
    _owe_refund(
        session,
        application=application,
        payment=payment,
        reason="duplicate_payment",
        now=now,
        text="Bu ərizə üçün ödəniş artıq edilib, təkrar ödəniş qəbul edilmədi.",
    )


def _owe_refund(
    session: Session,
    *,
    application: Application,
    payment: Payment,
    reason: str,
    now: dt.datetime,
    text: str,
) -> None:
    session.add(
        Refund(
            application_id=application.id,
            payment_id=payment.id,
            amount_qepik=payment.amount_qepik,
            reason=reason,
            status="owed",
            created_at=now,
        )
    )
    queue_sms(
        session,
        phone=_phone(application),
        application_id=application.id,
        text=(
            f"{text} Ödədiyiniz {format_azn(payment.amount_qepik)} geri qaytarılacaq. "
            f"Bildirişin kodu: {format_notification_code(application.notification_code)}"
        ),
    )


def _reject_reason(session: Session, application: Application) -> str | None:
    for item in application.imeis:
        if not stdnum_imei.is_valid(item.imei):
            return "imei_invalid"
        if is_blacklisted(session, imei_norm=item.imei_norm):
            return "imei_blacklisted"
    return None


def _insert_registration(session: Session, application: Application, *, now: dt.datetime) -> None:
    registration = Registration(
        application_id=application.id, fin=application.fin, registered_at=now
    )
    session.add(registration)
    session.flush()
    for item in application.imeis:
        session.add(
            RegistrationImei(
                registration_id=registration.id,
                imei=item.imei,
                imei_norm=item.imei_norm,
                active=True,
            )
        )
    session.flush()


def _phone(application: Application) -> str:
    if application.phone is None:
        raise RuntimeError(f"application {application.id} has no phone number")
    return application.phone
