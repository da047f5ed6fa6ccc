"""What the payments domain does when an application's lifecycle moves: refunds owed."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from mcqs.applications.lifecycle import (
    ApplicationCancelled,
    ApplicationRejected,
    PaymentReceivedTwice,
    on,
    on_each,
)
from mcqs.db import insert_rows
from mcqs.payments.models import REFUND_CANCELLED_AT_POINT, Refund, RefundStatus


@on_each(ApplicationRejected)
def owe_fee_back(session: Session, events: list[ApplicationRejected]) -> None:
    """Rejected after payment: the fee is owed back (GoldenPay has no refund call;
    finance pays it out). A batch of rejections is written with one statement."""
    owed = []
    for event in events:
        payment = event.application.paid_payment
        if payment is None:
            raise RuntimeError(f"application {event.application.id} is rejected but not paid")
        owed.append(
            {
                "application_id": event.application.id,
                "payment_id": payment.id,
                "amount_qepik": payment.amount_qepik,
                "reason": event.reason,
                "status": RefundStatus.OWED,
                "created_at": event.now,
            }
        )
    insert_rows(session, cast(Table, Refund.__table__), owed)


@on(ApplicationCancelled)
def owe_cancelled_fee_back(session: Session, event: ApplicationCancelled) -> None:
    """Cancelled at a point after payment: the fee is owed back, paid out by the back office."""
    payment = event.application.paid_payment
    if payment is None:
        raise RuntimeError(f"application {event.application.id} is cancelled but not paid")
    _owe(
        session,
        event.application.id,
        payment.id,
        payment.amount_qepik,
        REFUND_CANCELLED_AT_POINT,
        event,
    )


@on(PaymentReceivedTwice)
def owe_second_payment_back(session: Session, event: PaymentReceivedTwice) -> None:
    _owe(
        session,
        event.application.id,
        event.payment_id,
        event.amount_qepik,
        "duplicate_payment",
        event,
    )
    session.flush()


def _owe(
    session: Session,
    application_id: int,
    payment_id: int,
    amount_qepik: int,
    reason: str,
    event: ApplicationRejected | ApplicationCancelled | PaymentReceivedTwice,
) -> None:
    session.add(
        Refund(
            application_id=application_id,
            payment_id=payment_id,
            amount_qepik=amount_qepik,
            reason=reason,
            status=RefundStatus.OWED,
            created_at=event.now,
        )
    )
