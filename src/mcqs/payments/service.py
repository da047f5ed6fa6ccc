"""Paying the fee through GoldenPay.

GoldenPay is an outside party, so no transaction is open while we wait on it:

- opening a session: reserve the payment and hold the IMEIs (commit), ask GoldenPay for a
  key, then record the key (a second transaction);
- settling: claim the right to ask (commit; a claim already taken means someone is asking
  right now, so this caller does not ask too), ask GoldenPay, then apply the answer under
  the payment's row lock.

GoldenPay's browser return is unsigned: it only tells us *which* payment to ask about; the
result call decides. Every answer is stored (``payment_events``) before we act on it, and
applying one is idempotent. A payment stays pending until GoldenPay's own session is
certainly over (its 15 minutes plus a margin), so a citizen who pays at the last second is
never lost: a late "paid" ends registered, or rejected with the fee owed back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from mcqs.applications import lifecycle
from mcqs.applications.holds import hold_conflict, release_holds
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import get_application
from mcqs.config import Settings
from mcqs.db import Database
from mcqs.errors import (
    Conflict,
    DomainError,
    ExternalServiceError,
    FormErrors,
    InvalidInput,
    NotFound,
)
from mcqs.identity.rules import normalize_phone
from mcqs.payments.goldenpay import GoldenPayClient, PaymentResult
from mcqs.payments.models import (
    CARD_TYPES,
    FailureReason,
    Payment,
    PaymentEvent,
    PaymentMethod,
    PaymentStatus,
)

log = logging.getLogger(__name__)

# A payment reserved but never given a key (the process died while asking GoldenPay):
# after this it is given up.
OPENING_GIVEN_UP_AFTER = dt.timedelta(minutes=2)
# The same return for one payment, repeated within this, is the same fact: kept once.
RETURNS_RECORDED_EVERY = dt.timedelta(seconds=10)


def _ends(payment: Payment, settings: Settings) -> dt.datetime:
    """When GoldenPay's session is certainly over: nobody can pay it after this."""
    return payment.expires_at + dt.timedelta(minutes=settings.payment_late_margin_minutes)


# ---- opening a payment session -------------------------------------------------------------


@dataclass(frozen=True)
class OpenedPayment:
    payment_id: int
    payment_key: str


def _reserve(
    session: Session,
    *,
    settings: Settings,
    application_id: int,
    phone: str,
    card_type: str,
    now: dt.datetime,
) -> tuple[Payment, Application]:
    """Check the form, hold the IMEIs and write a payment without a key yet; returns it and
    its application.

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

    pending = [p for p in application.payments if p.status == PaymentStatus.PENDING]
    for payment in pending:
        if payment.payment_key is not None and payment.expires_at > now:
            return payment, application
        if payment.payment_key is None:
            raise Conflict("payment_being_opened")
    if pending:
        raise Conflict("payment_in_progress")  # its session ended; it is being settled
    if application.status not in lifecycle.PAYABLE:
        raise Conflict("application_not_payable")
    if application.expires_at <= now:
        raise Conflict("application_expired")

    expires_at = now + dt.timedelta(minutes=settings.payment_session_minutes)
    hold_until = expires_at + dt.timedelta(minutes=settings.payment_late_margin_minutes)
    blocked = lifecycle.await_payment(
        session,
        application,
        hold_until=hold_until,
        daily_allowance=dt.timedelta(minutes=settings.hold_minutes_per_imei_per_day),
        now=now,
    )
    if blocked:
        raise FormErrors([hold_conflict(next(iter(blocked.values())))])
    payment = Payment(
        application_id=application.id,
        method=PaymentMethod.GOLDENPAY,
        payment_key=None,
        card_type=card_type,
        amount_qepik=application.fee_qepik,
        status=PaymentStatus.PENDING,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(payment)
    session.flush()
    return payment, application


def start_payment(
    db: Database,
    *,
    goldenpay: GoldenPayClient,
    settings: Settings,
    application_id: int,
    phone: str,
    card_type: str,
    lang: str,
    now: Callable[[], dt.datetime],
) -> OpenedPayment:
    """The "Təsdiqlə və ödəniş et" step: take the phone number and open a GoldenPay session.

    Runs its own transactions, since GoldenPay is called between them: reserve (commit),
    ask for a key, record it. When GoldenPay fails or is too slow, the reservation is
    marked failed and the citizen may press again."""
    with db.transaction() as session:
        payment, application = _reserve(
            session,
            settings=settings,
            application_id=application_id,
            phone=phone,
            card_type=card_type,
            now=now(),
        )
        if payment.payment_key is not None:
            return OpenedPayment(payment.id, payment.payment_key)
        payment_id, amount, code = payment.id, payment.amount_qepik, application.notification_code
    try:
        payment_key = goldenpay.get_payment_key(
            amount_qepik=amount, card_type=card_type, description=f"MCQS {code}", lang=lang
        )
    except ExternalServiceError:
        with db.transaction() as session:
            _opening_failed(session, payment_id=payment_id, now=now())
        raise
    with db.transaction() as session:
        reserved = session.get(Payment, payment_id, with_for_update=True)
        if reserved is None or reserved.status != PaymentStatus.PENDING:
            raise Conflict("payment_being_opened")
        reserved.payment_key = payment_key
    return OpenedPayment(payment_id, payment_key)


def _opening_failed(session: Session, *, payment_id: int, now: dt.datetime) -> None:
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is not None and payment.status == PaymentStatus.PENDING:
        payment.status = PaymentStatus.FAILED
        application = get_application(session, payment.application_id)
        _stop_holding_if_unpaid(session, application, now=now)


def _stop_holding_if_unpaid(
    session: Session, application: Application, *, now: dt.datetime
) -> None:
    """A hold lasts only while a payment can still be made: with no session open, the
    IMEIs are free until the citizen presses "Təsdiqlə və ödəniş et" again."""
    if application.status in lifecycle.PAID_OR_DECIDED:
        return
    if any(p.status == PaymentStatus.PENDING for p in application.payments):
        return
    release_holds(session, application_id=application.id, now=now)


# ---- settling a payment ------------------------------------------------------------------


Outcome = Literal["paid", "failed", "pending", "expired"]


@dataclass(frozen=True)
class PaymentOutcome:
    """Where a payment stands, as the citizen's return page needs it."""

    state: Outcome
    application_id: int
    notification_code: str
    # Why it was not paid (a FailureReason), when GoldenPay said or the session ran out.
    failure_reason: str | None = None
    fin: str = ""  # whose application: a signed-in citizen sees only their own


def _outcome(session: Session, payment: Payment) -> PaymentOutcome:
    application = session.get(Application, payment.application_id)
    assert application is not None
    if application.status in lifecycle.PAID_OR_DECIDED:
        state: Outcome = "paid"
    elif payment.status == PaymentStatus.PENDING:
        state = "pending"
    elif application.status == ApplicationStatus.EXPIRED:
        state = "expired"
    else:
        state = "failed"
    reason = payment.failure_reason if state in ("failed", "expired") else None
    return PaymentOutcome(
        state, application.id, application.notification_code, reason, fin=application.fin
    )


def _record_return(session: Session, *, payment_key: str, outcome: str, now: dt.datetime) -> None:
    """Store a browser return from GoldenPay before anything acts on it: one row per key
    every few seconds, so a flood of the same return writes no more."""
    kind = f"return_{outcome}"
    recorded = session.scalar(
        select(PaymentEvent.id)
        .where(
            PaymentEvent.payment_key == payment_key,
            PaymentEvent.kind == kind,
            PaymentEvent.received_at > now - RETURNS_RECORDED_EVERY,
        )
        .limit(1)
    )
    if recorded is None:
        session.add(PaymentEvent(payment_key=payment_key, kind=kind, received_at=now))
        session.flush()


def _claim_question(
    session: Session, *, payment_key: str, settings: Settings, now: dt.datetime
) -> bool:
    """Take the right to ask GoldenPay about this payment now; False when it is final,
    someone else is asking, or it was asked about a moment ago."""
    lease = dt.timedelta(seconds=settings.goldenpay_timeout_seconds + 5)
    recently = now - dt.timedelta(seconds=settings.payment_ask_interval_seconds)
    claimed = session.execute(
        update(Payment)
        .where(
            Payment.payment_key == payment_key,
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.EXPIRED]),
            or_(Payment.asking_until.is_(None), Payment.asking_until <= now),
            # A time ahead of ours (another node's clock) does not count as recent.
            or_(
                Payment.checked_at.is_(None),
                Payment.checked_at <= recently,
                Payment.checked_at > now,
            ),
        )
        .values(asking_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def settle_payment(
    db: Database,
    *,
    goldenpay: GoldenPayClient,
    settings: Settings,
    payment_key: str,
    now: Callable[[], dt.datetime],
    came_back: str | None = None,
) -> PaymentOutcome:
    """Ask GoldenPay for the result of one payment and act on it; the citizen's return and
    the worker's sweep both come here. ``came_back`` ("success" / "failure"): the browser's
    return that brought us here, recorded first; a key that is not ours writes nothing.

    Returns for one key are coalesced: while one caller asks, the others read the state as
    it is (pending, most likely) without asking. A GoldenPay outage leaves it pending for
    the worker to settle; nothing is lost."""
    with db.transaction() as session:
        payment = session.scalar(select(Payment).where(Payment.payment_key == payment_key))
        if payment is None:
            raise NotFound("payment_unknown")
        if came_back is not None:
            _record_return(session, payment_key=payment_key, outcome=came_back, now=now())
        if not _claim_question(session, payment_key=payment_key, settings=settings, now=now()):
            return _outcome(session, payment)
    try:
        result = goldenpay.get_payment_result(payment_key)
    except ExternalServiceError:
        with db.transaction() as session:
            session.execute(
                update(Payment)
                .where(Payment.payment_key == payment_key)
                .values(asking_until=None)
                .execution_options(synchronize_session=False)
            )
        raise
    with db.transaction() as session:
        return apply_result(session, settings=settings, result=result, now=now())


def apply_result(
    session: Session, *, settings: Settings, result: PaymentResult, now: dt.datetime
) -> PaymentOutcome:
    """Act on GoldenPay's answer about one payment, under its row lock.

    Paid: the application becomes paid (its events queue the registration). Failed: the
    citizen may pay again. Still waiting once GoldenPay's session is certainly over, or a
    key GoldenPay no longer knows after our session ended: expired."""
    payment = session.scalar(
        select(Payment).where(Payment.payment_key == result.payment_key).with_for_update()
    )
    if payment is None:
        raise NotFound("payment_unknown")
    session.add(
        PaymentEvent(
            payment_key=result.payment_key, kind="result", code=result.code, body=result.raw
        )
    )
    payment.checked_at = now
    payment.asking_until = None
    if payment.status in (PaymentStatus.PAID, PaymentStatus.FAILED):
        return _outcome(session, payment)  # another caller applied an answer first
    payment.result_code = result.code
    application = get_application(session, payment.application_id, lock=True)
    if result.paid:
        _mark_paid(session, payment=payment, application=application, result=result, now=now)
    elif result.failed:
        payment.status = PaymentStatus.FAILED
        payment.failure_reason = FailureReason(result.failure_reason or FailureReason.FAILED)
    elif (
        # GoldenPay itself says the session is over: nobody can pay it any more, so the
        # citizen may start another at once rather than wait out our margin. (Were a
        # "paid" still to come, an expired payment is still asked about on return.)
        result.session_expired
        or now >= _ends(payment, settings)
        or (result.unknown_key and now >= payment.expires_at)
    ):
        payment.status = PaymentStatus.EXPIRED
        payment.failure_reason = FailureReason.EXPIRED
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED):
        _stop_holding_if_unpaid(session, application, now=now)
    _expire_if_unpayable(session, application, now=now)
    session.flush()
    return _outcome(session, payment)


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
    session.flush()
    lifecycle.mark_paid(
        session,
        application,
        payment_id=payment.id,
        amount_qepik=payment.amount_qepik,
        paid_at=payment.paid_at,
        now=now,
    )


def _expire_if_unpayable(session: Session, application: Application, *, now: dt.datetime) -> None:
    """An application waiting for payment whose last session is over and whose time to
    start another has passed: nobody will pay for it any more."""
    if application.status != ApplicationStatus.AWAITING_PAYMENT or application.expires_at > now:
        return
    if any(p.status == PaymentStatus.PENDING for p in application.payments):
        return
    lifecycle.expire(session, application, now=now)


# ---- the worker's side -------------------------------------------------------------------


def payments_to_settle(session: Session, *, now: dt.datetime) -> list[str]:
    """Keys of open payments worth asking about: a citizen who paid and never came back is
    settled within about a minute, and every session is settled once it is over."""
    quiet = now - dt.timedelta(minutes=1)
    return list(
        session.scalars(
            select(Payment.payment_key).where(
                Payment.status == PaymentStatus.PENDING,
                Payment.payment_key.is_not(None),
                Payment.created_at <= quiet,
                or_(Payment.checked_at.is_(None), Payment.checked_at <= quiet),
            )
        )
    )


def give_up_unopened(session: Session, *, now: dt.datetime) -> int:
    """Payments reserved but never given a key (the process died while asking GoldenPay):
    nobody can pay them, so they fail and their applications may expire."""
    stale = session.scalars(
        select(Payment)
        .where(
            Payment.status == PaymentStatus.PENDING,
            Payment.payment_key.is_(None),
            Payment.created_at <= now - OPENING_GIVEN_UP_AFTER,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for payment in stale:
        payment.status = PaymentStatus.FAILED
        application = get_application(session, payment.application_id)
        _stop_holding_if_unpaid(session, application, now=now)
    return len(stale)


def expire_unpaid_applications(session: Session, *, now: dt.datetime) -> int:
    """Applications waiting for payment whose sessions are all over and whose time to start
    another has passed."""
    candidates = session.scalars(
        select(Application)
        .where(
            Application.status == ApplicationStatus.AWAITING_PAYMENT,
            Application.expires_at <= now,
        )
        .options(selectinload(Application.payments))
        .with_for_update(skip_locked=True)
    ).all()
    expired = 0
    for application in candidates:
        before = application.status
        _expire_if_unpayable(session, application, now=now)
        expired += application.status != before
    return expired
