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


def _tell(session: Session, application: Application, text: str) -> None:
    """Queue ``text`` for the application's phone, ending with its notification code."""
    if application.phone is None:
        raise RuntimeError(f"application {application.id} has no phone number")
    code = format_notification_code(application.notification_code)
    queue_sms(
        session,
        phone=application.phone,
        application_id=application.id,
        text=f"{text} Bildirişin kodu: {code}",
    )


@on(ApplicationRegistered)
def tell_registered(session: Session, event: ApplicationRegistered) -> None:
    application = event.application
    device = application.device_name or "Mobil"
    _tell(
        session,
        application,
        f"{device} cihazınız (İMEİ {application.imeis[0].imei}) qeydiyyata alındı.",
    )


@on(ApplicationRejected)
def tell_rejected(session: Session, event: ApplicationRejected) -> None:
    application = event.application
    payment = application.paid_payment
    amount = format_azn(payment.amount_qepik if payment else application.fee_qepik)
    _tell(
        session,
        application,
        f"Cihazınız qeydiyyata alınmadı: {REJECT_REASONS_AZ[event.reason]}. "
        f"Ödədiyiniz {amount} geri qaytarılacaq.",
    )


@on(PaymentReceivedTwice)
def tell_paid_twice(session: Session, event: PaymentReceivedTwice) -> None:
    _tell(
        session,
        event.application,
        "Bu ərizə üçün ödəniş artıq edilib, təkrar ödəniş qəbul edilmədi. "
        f"Ödədiyiniz {format_azn(event.amount_qepik)} geri qaytarılacaq.",
    )
