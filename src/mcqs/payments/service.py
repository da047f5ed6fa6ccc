"""Paying the fee through GoldenPay.

GoldenPay's browser return is unsigned, so it only tells us *which* payment to ask about;
the result call decides. Every answer is stored (``payment_events``) before we act on it,
and settling is idempotent: a return opened twice, or a return racing the reconciler,
changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import expire_if_abandoned, get_application
from mcqs.errors import Conflict, DomainError, FormErrors, InvalidInput, NotFound
from mcqs.identity.rules import normalize_phone
from mcqs.jobs.queue import enqueue
from mcqs.payments.goldenpay import GoldenPayClient, PaymentResult
from mcqs.payments.models import CARD_TYPES, Payment, PaymentEvent, PaymentStatus
from mcqs.registrations.service import refund_duplicate_payment

log = logging.getLogger(__name__)

# After a GoldenPay session ends, the worker asks for its result once more before giving up
# on it: a citizen who paid and closed the browser is settled all the same.
RECONCILE_DELAY = dt.timedelta(minutes=1)
PAID_OR_DECIDED = (
    ApplicationStatus.PAID,
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.REGISTERED,
    ApplicationStatus.REJECTED,
)


def start_payment(
    session: Session,
    *,
    goldenpay: GoldenPayClient,
    application_id: int,
    phone: str,
    card_type: str,
    lang: str,
    session_minutes: int,
    now: dt.datetime,
) -> Payment:
    """The "Təsdiqlə və ödəniş et" step: take the phone number and open a GoldenPay session.

    Pressed again while a session is open (double click, the Back button), it returns that
    session rather than opening a second one for the same fee."""
    application = get_application(session, application_id, lock=True)
    errors: list[DomainError] = []
    try:
        application.phone = normalize_phone(phone)
    except InvalidInput as error:
        errors.append(error)
    if card_type not in CARD_TYPES:
        errors.append(InvalidInput("card_type_required", field="card_type"))
    if errors:
        raise FormErrors(errors)

    open_session = next(
        (
            p
            for p in application.payments
            if p.status == PaymentStatus.PENDING and p.expires_at > now
        ),
        None,
    )
    if application.status == ApplicationStatus.AWAITING_PAYMENT and open_session is not None:
        return open_session
    if any(p.status == PaymentStatus.PENDING for p in application.payments):
        raise Conflict("payment_in_progress")  # its session ended; the worker settles it first
    if application.status not in (
        ApplicationStatus.CREATED,
        ApplicationStatus.AWAITING_PAYMENT,
    ):
        raise Conflict("application_not_payable")
    if application.expires_at <= now:
        raise Conflict("application_expired")

    payment_key = goldenpay.get_payment_key(
        amount_qepik=application.fee_qepik,
        card_type=card_type,
        description=f"MCQS {application.notification_code}",
        lang=lang,
    )
    expires_at = now + dt.timedelta(minutes=session_minutes)
    payment = Payment(
        application_id=application.id,
        provider="goldenpay",
        payment_key=payment_key,
        card_type=card_type,
        amount_qepik=application.fee_qepik,
        status=PaymentStatus.PENDING,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(payment)
    application.status = ApplicationStatus.AWAITING_PAYMENT
    application.expires_at = expires_at + RECONCILE_DELAY
    session.flush()
    return payment


def record_return(session: Session, *, payment_key: str, outcome: str) -> None:
    """Store a browser return from GoldenPay as it came, before anything acts on it."""
    session.add(PaymentEvent(payment_key=payment_key[:64], kind=f"return_{outcome}"))
    session.flush()


def settle_payment(
    session: Session, *, goldenpay: GoldenPayClient, payment_key: str, now: dt.datetime
) -> Application:
    """Ask GoldenPay for the result of one payment and act on it.

    Paid: the application becomes paid and its registration job is written in the same
    transaction. Failed: the citizen may try again. Waiting past the session: expired."""
    payment = session.scalar(
        select(Payment).where(Payment.payment_key == payment_key).with_for_update()
    )
    if payment is None:
        raise NotFound("payment_unknown")
    if payment.status != PaymentStatus.PENDING:
        return get_application(session, payment.application_id)

    result = goldenpay.get_payment_result(payment_key)
    session.add(
        PaymentEvent(payment_key=payment_key, kind="result", code=result.code, body=result.raw)
    )
    payment.checked_at = now
    payment.result_code = result.code
    application = get_application(session, payment.application_id, lock=True)
    if result.paid:
        _mark_paid(session, payment=payment, application=application, result=result, now=now)
    elif result.failed:
        payment.status = PaymentStatus.FAILED
    elif now >= payment.expires_at:
        # Still waiting after its session ended, or a key GoldenPay no longer knows: either
        # way nobody can pay it any more.
        payment.status = PaymentStatus.EXPIRED
    expire_if_abandoned(application, now=now)
    session.flush()
    return application


def _mark_paid(
    session: Session,
    *,
    payment: Payment,
    application: Application,
    result: PaymentResult,
    now: dt.datetime,
) -> None:
    if result.amount_qepik is not None and result.amount_qepik != payment.amount_qepik:
        # Money was taken, so the application goes on; finance sees the mismatch in the log
        # and in payment_events.
        log.error("payment %s: GoldenPay amount differs from ours", payment.id)
    payment.status = PaymentStatus.PAID
    payment.masked_card = result.masked_card
    payment.rrn = result.rrn
    payment.paid_at = result.paid_at or now
    if application.status in PAID_OR_DECIDED:
        # A second payment for an application already paid (two tabs): never a second
        # registration; the money is owed back.
        refund_duplicate_payment(session, application=application, payment=payment, now=now)
        return
    # Even an application we had given up on is paid now: it must end registered or refunded.
    application.status = ApplicationStatus.PAID
    application.paid_at = payment.paid_at
    enqueue(session, "registrations.register_application", {"application_id": application.id})


def payments_to_reconcile(session: Session, *, now: dt.datetime) -> list[str]:
    """Keys of pending payments whose GoldenPay session has ended without a return."""
    return list(
        session.scalars(
            select(Payment.payment_key).where(
                Payment.status == PaymentStatus.PENDING,
                Payment.expires_at <= now - RECONCILE_DELAY,
            )
        )
    )
