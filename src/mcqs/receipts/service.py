"""A receipt (qəbz) is the paid application seen from the citizen's side."""

from __future__ import annotations

from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application
from mcqs.errors import NotFound
from mcqs.payments.models import card_type_of
from mcqs.receipts.schemas import ReceiptView


def verify_url(public_url: str, notification_code: str) -> str:
    return f"{public_url}/verify/{notification_code}"


def receipt_view(application: Application, *, public_url: str) -> ReceiptView:
    """The receipt of an application; there is none until it is paid."""
    payment = application.paid_payment
    if payment is None or payment.paid_at is None or application.phone is None:
        raise NotFound("receipt_unknown")
    return ReceiptView(
        notification_code=format_notification_code(application.notification_code),
        fin=application.fin,
        full_name=application.full_name,
        address=application.address,
        phone=application.phone,
        # GoldenPay's card page takes any card, whatever type was chosen before it.
        card_type=card_type_of(payment.masked_card) or payment.card_type,
        masked_card=payment.masked_card,
        imeis=tuple(item.imei for item in application.imeis),
        brand=application.brand,
        model=application.model,
        amount_qepik=payment.amount_qepik,
        paid_at=payment.paid_at,
        status=application.status,
        verify_url=verify_url(public_url, application.notification_code),
    )
