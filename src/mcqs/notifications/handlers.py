"""The SMS a citizen gets when their application is decided, or paid twice."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mcqs.applications.codes import format_notification_code
from mcqs.applications.lifecycle import (
    ApplicationRegistered,
    ApplicationRejected,
    PaymentReceivedTwice,
    on,
)
from mcqs.applications.models import Application
from mcqs.messages import REJECT_REASONS_AZ
from mcqs.money import format_azn
from mcqs.notifications.service import queue_sms


def _code(application: Application) -> str:
    return f"Bildirişin kodu: {format_notification_code(application.notification_code)}"


def _phone(application: Application) -> str:
    if application.phone is None:
        raise RuntimeError(f"application {application.id} has no phone number")
    return application.phone


@on(ApplicationRegistered)
def tell_registered(session: Session, event: ApplicationRegistered) -> None:
    application = event.application
    device = application.device_name or "Mobil"
    queue_sms(
        session,
        phone=_phone(application),
        application_id=application.id,
        text=(
            f"{device} cihazınız (İMEİ {application.imeis[0].imei}) qeydiyyata alındı. "
            f"{_code(application)}"
        ),
    )


@on(ApplicationRejected)
def tell_rejected(session: Session, event: ApplicationRejected) -> None:
    application = event.application
    payment = application.paid_payment
    amount = format_azn(payment.amount_qepik if payment else application.fee_qepik)
    queue_sms(
        session,
        phone=_phone(application),
        application_id=application.id,
        text=(
            f"Cihazınız qeydiyyata alınmadı: {REJECT_REASONS_AZ[event.reason]}. "
            f"Ödədiyiniz {amount} geri qaytarılacaq. {_code(application)}"
        ),
    )


@on(PaymentReceivedTwice)
def tell_paid_twice(session: Session, event: PaymentReceivedTwice) -> None:
    application = event.application
    queue_sms(
        session,
        phone=_phone(application),
        application_id=application.id,
        text=(
            "Bu ərizə üçün ödəniş artıq edilib, təkrar ödəniş qəbul edilmədi. "
            f"Ödədiyiniz {format_azn(event.amount_qepik)} geri qaytarılacaq. {_code(application)}"
        ),
    )
