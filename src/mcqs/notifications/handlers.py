"""The SMS a citizen gets when their application is decided, or paid twice: written in the
language the application was made in."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mcqs.applications.codes import format_notification_code
from mcqs.applications.lifecycle import (
    ApplicationCancelled,
    ApplicationRegistered,
    ApplicationRejected,
    PaymentReceivedTwice,
    on,
    on_each,
)
from mcqs.applications.models import Application
from mcqs.applications.records import ApplicationRecord
from mcqs.i18n import gettext as _
from mcqs.i18n import language
from mcqs.messages import reject_reasons
from mcqs.money import format_azn
from mcqs.notifications.service import SmsToQueue, queue_sms_all


def _message(application: Application | ApplicationRecord, text: str) -> SmsToQueue:
    """``text`` for the application's phone, ending with its notification code."""
    if application.phone is None:
        raise RuntimeError(f"application {application.id} has no phone number")
    code = format_notification_code(application.notification_code)
    return SmsToQueue(
        phone=application.phone,
        text=_("{text} Bildirişin kodu: {code}").format(text=text, code=code),
        application_id=application.id,
    )


def _tell(session: Session, application: Application, text: str) -> None:
    queue_sms_all(session, [_message(application, text)])


@on_each(ApplicationRegistered)
def tell_registered(session: Session, events: list[ApplicationRegistered]) -> None:
    messages = []
    for event in events:
        application = event.application
        with language(application.language):
            if application.device_name:
                text = _("{device} cihazınız (İMEİ {imei}) qeydiyyata alındı.")
            else:
                text = _("Mobil cihazınız (İMEİ {imei}) qeydiyyata alındı.")
            imei = application.imeis[0].imei
            text = text.format(device=application.device_name, imei=imei)
            messages.append(_message(application, text))
    queue_sms_all(session, messages)


@on_each(ApplicationRejected)
def tell_rejected(session: Session, events: list[ApplicationRejected]) -> None:
    messages = []
    for event in events:
        application = event.application
        payment = application.paid_payment
        with language(application.language):
            amount = format_azn(payment.amount_qepik if payment else application.fee_qepik)
            text = _(
                "Cihazınız qeydiyyata alınmadı: {reason}. Ödədiyiniz {amount} geri qaytarılacaq."
            )
            reason = reject_reasons[event.reason]
            messages.append(_message(application, text.format(reason=reason, amount=amount)))
    queue_sms_all(session, messages)


@on(PaymentReceivedTwice)
def tell_paid_twice(session: Session, event: PaymentReceivedTwice) -> None:
    application = event.application
    with language(application.language):
        text = _(
            "Bu ərizə üçün ödəniş artıq edilib, təkrar ödəniş qəbul edilmədi. "
            "Ödədiyiniz {amount} geri qaytarılacaq."
        )
        _tell(session, application, text.format(amount=format_azn(event.amount_qepik)))


@on(ApplicationCancelled)
def tell_cancelled(session: Session, event: ApplicationCancelled) -> None:
    application = event.application
    payment = application.paid_payment
    with language(application.language):
        amount = format_azn(payment.amount_qepik if payment else application.fee_qepik)
        text = _(
            "Cihazınızın qeydiyyatı qeydiyyat məntəqəsində ləğv edildi. "
            "Ödədiyiniz {amount} geri qaytarılacaq."
        )
        _tell(session, application, text.format(amount=amount))


def tell_refund_paid(session: Session, application: Application, *, amount_qepik: int) -> None:
    """The back office paid a refund out: one SMS, in the application's language."""
    with language(application.language):
        text = _("Sizə {amount} geri qaytarıldı.")
        _tell(session, application, text.format(amount=format_azn(amount_qepik)))
