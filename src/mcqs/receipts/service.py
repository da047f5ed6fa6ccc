"""A receipt (qəbz) is the paid application seen from the citizen's side."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application
from mcqs.errors import NotFound
from mcqs.payments.models import card_type_of
from mcqs.receipts.models import ReceiptDocument
from mcqs.receipts.pdf import render_receipt_pdf
from mcqs.receipts.schemas import ReceiptView

DEFAULT_LANGUAGE = "az"


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


def receipt_pdf(
    session: Session, application: Application, *, public_url: str, language: str = DEFAULT_LANGUAGE
) -> bytes:
    """The receipt's PDF: made the first time it is asked for (in ``language``), kept, and
    the kept one served ever after. What it prints (code, amount, card, payment time) is
    fixed once paid, so the kept PDF stays the receipt of record.

    Two browsers asking for a new receipt at the same moment both make it; the first one
    stored wins, and both are sent the stored one."""
    receipt = receipt_view(application, public_url=public_url)
    kept = _kept_pdf(session, application.notification_code, language)
    if kept is not None:
        return kept
    made = render_receipt_pdf(receipt)
    try:
        with session.begin_nested():
            session.add(
                ReceiptDocument(
                    notification_code=application.notification_code, language=language, pdf=made
                )
            )
    except IntegrityError:
        return _kept_pdf(session, application.notification_code, language) or made
    return made


def _kept_pdf(session: Session, notification_code: str, language: str) -> bytes | None:
    return session.scalar(
        select(ReceiptDocument.pdf).where(
            ReceiptDocument.notification_code == notification_code,
            ReceiptDocument.language == language,
        )
    )
