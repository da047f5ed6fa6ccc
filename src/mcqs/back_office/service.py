"""Refunds owed, seen and paid out by the registry's back office.

GoldenPay has no refund call and a counter's cash is gone by evening: the back office pays
each refund (a bank transfer, or the point's cashier) and marks it paid with that
reference. The citizen is told by SMS and sees it in "Mənim cihazlarım"."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.applications.models import Application
from mcqs.applications.service import get_application
from mcqs.audit.service import record_staff_action
from mcqs.errors import Conflict, Forbidden, FormErrors, InvalidInput, NotFound
from mcqs.notifications.handlers import tell_refund_paid
from mcqs.payments.models import Payment, Refund, RefundStatus
from mcqs.principals import StaffMember
from mcqs.staff.models import RegistrationPoint, StaffRole

REFERENCE_LIMIT = 64
BACK_OFFICE_ROLES = frozenset({StaffRole.BACK_OFFICE, StaffRole.ADMIN})


@dataclass(frozen=True)
class RefundLine:
    """One refund as the back office's list shows it."""

    refund: Refund
    application: Application
    payment_method: str
    point_code: str | None  # the point it was paid at, for a counter application


def refunds(session: Session, *, status: RefundStatus | None = None) -> list[RefundLine]:
    """Every refund (online and at counters), owed ones first, oldest first: the order to
    pay them in."""
    query = (
        select(Refund, Application, Payment.method, RegistrationPoint.code)
        .join(Application, Refund.application_id == Application.id)
        .join(Payment, Refund.payment_id == Payment.id)
        .outerjoin(RegistrationPoint, Application.point_id == RegistrationPoint.id)
        .order_by(Refund.status, Refund.created_at, Refund.id)
    )
    if status is not None:
        query = query.where(Refund.status == status)
    return [
        RefundLine(refund=refund, application=application, payment_method=method, point_code=code)
        for refund, application, method, code in session.execute(query)
    ]


def mark_refund_paid(
    session: Session, *, member: StaffMember, refund_id: int, reference: str, now: dt.datetime
) -> Refund:
    """The back office paid this refund out: the bank's or the cashier's reference is
    recorded, the citizen gets one SMS in the application's language, and the audit log has
    it. Marking one already paid is refused (``refund_already_paid``): it is paid once."""
    if member.role not in BACK_OFFICE_ROLES:
        raise Forbidden("staff_role_refused")
    written = reference.strip()
    if not written:
        raise FormErrors([InvalidInput("refund_reference_required", field="reference")])
    if len(written) > REFERENCE_LIMIT:
        raise FormErrors([InvalidInput("refund_reference_too_long", field="reference")])
    refund = session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
    if refund is None:
        raise NotFound("refund_unknown")
    if refund.status != RefundStatus.OWED:
        raise FormErrors([Conflict("refund_already_paid")])
    refund.status = RefundStatus.PAID_OUT
    refund.paid_at = now
    refund.paid_reference = written
    refund.paid_by_id = member.account_id
    session.flush()
    application = get_application(session, refund.application_id)
    tell_refund_paid(session, application, amount_qepik=refund.amount_qepik)
    record_staff_action(
        session,
        member,
        "back_office.refund_paid",
        application_id=application.id,
        details={"refund_id": refund.id, "amount_qepik": refund.amount_qepik, "reference": written},
        now=now,
    )
    return refund
