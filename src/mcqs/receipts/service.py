"""A receipt (qəbz) is the paid application seen from the citizen's side."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mcqs.applications.codes import format_notification_code
from mcqs.applications.models import Application
from mcqs.db import Database
from mcqs.errors import NotFound
from mcqs.i18n import Language
from mcqs.i18n import language as in_language
from mcqs.payments.models import PaymentMethod, card_type_of
from mcqs.receipts.models import ReceiptDocument
from mcqs.receipts.pdf import A4, render_receipt_pdf
from mcqs.receipts.schemas import CounterParty, ReceiptView
from mcqs.staff.models import RegistrationPoint, StaffAccount

DEFAULT_LANGUAGE: str = Language.AZ


def verify_url(public_url: str, notification_code: str) -> str:
    return f"{public_url}/verify/{notification_code}"


def counter_of(session: Session, application: Application) -> CounterParty | None:
    """The point and agent of an application made at a counter (None for one made online),
    for its receipt."""
    if application.point_id is None:
        return None
    found = session.execute(
        select(RegistrationPoint.code, RegistrationPoint.name, RegistrationPoint.address).where(
            RegistrationPoint.id == application.point_id
        )
    ).one()
    agent = session.scalar(
        select(StaffAccount.username).where(StaffAccount.id == application.agent_id)
    )
    return CounterParty(
        point_code=found.code, point_name=found.name, point_address=found.address, agent=agent or ""
    )


def receipt_view(
    application: Application, *, public_url: str, counter: CounterParty | None = None
) -> ReceiptView:
    """The receipt of an application; there is none until it is paid. ``counter``: where it
    was made, if at a counter (:func:`counter_of`)."""
    payment = application.paid_payment
    if payment is None or payment.paid_at is None or application.phone is None:
        raise NotFound("receipt_unknown")
    online = payment.method == PaymentMethod.GOLDENPAY
    return ReceiptView(
        notification_code=format_notification_code(application.notification_code),
        fin=application.fin,
        full_name=application.full_name,
        address=application.address,
        phone=application.phone,
        # GoldenPay's card page takes any card, whatever type was chosen before it.
        card_type=(card_type_of(payment.masked_card) or payment.card_type) if online else None,
        masked_card=payment.masked_card,
        imeis=tuple(item.imei for item in application.imeis),
        brand=application.brand,
        model=application.model,
        amount_qepik=payment.amount_qepik,
        paid_at=payment.paid_at,
        status=application.status,
        verify_url=verify_url(public_url, application.notification_code),
        method=PaymentMethod(payment.method),
        slip_reference=payment.slip_reference,
        counter=counter,
    )


def kept_receipt_pdf(
    session: Session,
    notification_code: str,
    *,
    language: str = DEFAULT_LANGUAGE,
    layout: str = A4,
) -> bytes | None:
    """The receipt's PDF as made the first time it was asked for, if it was."""
    return session.scalar(
        select(ReceiptDocument.pdf).where(
            ReceiptDocument.notification_code == notification_code,
            ReceiptDocument.language == language,
            ReceiptDocument.layout == layout,
        )
    )


def make_receipt_pdf(
    db: Database,
    application: Application,
    *,
    public_url: str,
    language: str = DEFAULT_LANGUAGE,
    layout: str = A4,
    counter: CounterParty | None = None,
) -> bytes:
    """Make the receipt's PDF (in ``language``) and keep it; returns the kept one. What it
    prints (code, amount, card, payment time, QR code) is fixed once paid, so the kept PDF
    stays the receipt of record and is what :func:`kept_receipt_pdf` serves ever after.

    Made with no transaction open, one at a time per process; two browsers asking for a new
    receipt at the same moment both make it, the first one kept wins, and both are sent it."""
    receipt = receipt_view(application, public_url=public_url, counter=counter)
    with _making, in_language(language):
        made = render_receipt_pdf(receipt, layout=layout)
        _give_memory_back()
    try:
        with db.transaction() as session:
            session.add(
                ReceiptDocument(
                    notification_code=application.notification_code,
                    language=language,
                    layout=layout,
                    pdf=made,
                )
            )
    except IntegrityError:
        with db.transaction() as session:
            kept = kept_receipt_pdf(
                session, application.notification_code, language=language, layout=layout
            )
        return kept or made
    return made


# Making a PDF is CPU-bound (threads would take turns on the GIL anyway) and allocates
# several MB while fpdf2 parses and subsets the fonts: forty made at once in the thread pool
# held forty times that, and the process kept the memory (issue 10). One at a time, and the
# freed memory handed back to the system, keeps the process near its size when fresh.
_making = threading.Lock()
_libc = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6") if sys.platform == "linux" else None
)


def _give_memory_back() -> None:
    trim = getattr(_libc, "malloc_trim", None)  # glibc only
    if trim is not None:
        trim(0)
