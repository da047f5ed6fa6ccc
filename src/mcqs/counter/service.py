"""The counter's rules: an agent registers a device for the citizen in front of them.

The checks, the application, the lifecycle and the registration are the online flow's
own (``applications.service``, ``applications.lifecycle``, the registration job): the
counter adds only what a counter has — the citizen's phone typed with the rest, the form's
one-time key (a double submission is one application), money taken in cash or on the card
terminal (no outside party: paid the moment it is recorded), the point's day and its cash
report, and a supervisor's cancellation. Every staff action is written to the audit chain
in the transaction that does it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from mcqs.applications import lifecycle
from mcqs.applications.holds import hold_conflict
from mcqs.applications.models import Application, Channel
from mcqs.applications.service import (
    CheckedPerson,
    CheckInput,
    confirm_person,
    create_application,
    find_by_notification_code,
    get_application,
    parse_check_input,
)
from mcqs.audit.service import record_staff_action
from mcqs.counter.models import DayClose
from mcqs.db import serialise_on
from mcqs.errors import Conflict, DomainError, Forbidden, FormErrors, InvalidInput, NotFound
from mcqs.i18n import Language
from mcqs.identity.population import PopulationRegistryClient
from mcqs.identity.rules import normalize_phone
from mcqs.localtime import BAKU, baku_day
from mcqs.money import format_azn, parse_azn
from mcqs.payments.models import COUNTER_METHODS, Payment, PaymentMethod, PaymentStatus
from mcqs.principals import StaffMember, refuse_another_point
from mcqs.staff.models import StaffAccount, StaffRole

# The form's one-time key, as the counter form page makes it (secrets.token_urlsafe(24)).
_SUBMISSION_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
# What a terminal prints as the transaction's reference (RRN, authorisation code, slip no.).
# Starting with a letter or digit: the cash report's CSV is opened in spreadsheets, where a
# cell starting with "-" or "=" is a formula.
_SLIP_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,39}")
CANCEL_REASON_LIMIT = 500
# A counter payment holds the IMEIs for a moment only: it is paid in the same transaction.
_COUNTER_HOLD = dt.timedelta(minutes=1)


# ---- registering at the counter ----------------------------------------------------------------


@dataclass(frozen=True)
class CounterInput:
    """What the agent typed on the counter form."""

    submission_key: str
    id_card: str
    fin: str
    imeis: tuple[str, ...]
    phone: str


@dataclass(frozen=True)
class CounterCheck:
    checked: CheckedPerson
    phone: str
    submission_key: str


def confirm_at_counter(population: PopulationRegistryClient, data: CounterInput) -> CounterCheck:
    """Validate the counter form and ask the population registry, as the online check does
    (an expired card refused with its reason, a FİN not the card's refused). Every typed
    error is collected first, the phone's too. Called with no transaction open."""
    if not _SUBMISSION_KEY.fullmatch(data.submission_key):
        raise FormErrors([Conflict("counter_form_expired")])
    errors: list[DomainError] = []
    check = CheckInput(id_card=data.id_card, fin=data.fin, imeis=data.imeis)
    try:
        parse_check_input(check)
    except FormErrors as typed_wrong:
        errors.extend(typed_wrong.errors)
    phone = ""
    try:
        phone = normalize_phone(data.phone)
    except InvalidInput as error:
        errors.append(error)
    if errors:
        raise FormErrors(errors)
    checked = confirm_person(population, check)
    return CounterCheck(checked=checked, phone=phone, submission_key=data.submission_key)


def _by_submission_key(session: Session, key: str) -> Application | None:
    application_id = session.scalar(select(Application.id).where(Application.submission_key == key))
    return None if application_id is None else get_application(session, application_id)


def _the_same_form_again(
    member: StaffMember, existing: Application, check: CounterCheck
) -> Application:
    """The application a form's key already made, when this is that form sent again; a key
    sent again with other details (a replayed request, edited) would otherwise drop what
    was typed without a word: refused, so the agent starts a new form."""
    refuse_another_point(member, existing.point_id, code="notification_code_unknown")
    typed = (check.checked.fin, sorted(i.imei_norm for i in check.checked.imeis), check.phone)
    made = (existing.fin, sorted(i.imei_norm for i in existing.imeis), existing.phone)
    if typed != made:
        raise FormErrors([Conflict("counter_form_expired")])
    return existing


def register_at_counter(
    session: Session,
    *,
    member: StaffMember,
    check: CounterCheck,
    max_open_per_fin: int,
    now: dt.datetime,
    language: Language = Language.AZ,
) -> Application:
    """The application for the citizen at the counter, made by the online flow's own
    ``create_application`` (the same refusals: registered, blacklisted, held IMEIs, too many
    unpaid applications), recorded with the channel, the point and the agent.

    The form's key makes a second submission of the same form (a double click, a reload)
    answer the application the first one made, even when both arrive at once: the key is
    unique in the database, and the loser of the race reads the winner's."""
    _require_point_role(member)
    existing = _by_submission_key(session, check.submission_key)
    if existing is not None:
        return _the_same_form_again(member, existing, check)
    try:
        with session.begin_nested():
            created = create_application(
                session,
                checked=check.checked,
                channel=Channel.COUNTER,
                max_open_per_fin=max_open_per_fin,
                now=now,
                language=language,
            )
            application = get_application(session, created.id)
            application.phone = check.phone
            application.point_id = member.point_id
            application.agent_id = member.account_id
            application.submission_key = check.submission_key
            session.flush()
    except IntegrityError:
        existing = _by_submission_key(session, check.submission_key)
        if existing is None:
            raise
        return _the_same_form_again(member, existing, check)
    record_staff_action(
        session,
        member,
        "counter.application_created",
        application_id=application.id,
        details={"notification_code": application.notification_code},
        now=now,
    )
    return application


def application_at_point(
    session: Session, *, member: StaffMember, notification_code: str
) -> Application:
    """An application of the member's point, by its code; another point's (or one made
    online) answers exactly as a code that does not exist."""
    application = find_by_notification_code(session, notification_code)
    refuse_another_point(member, application.point_id, code="notification_code_unknown")
    return application


# ---- taking the payment -------------------------------------------------------------------------


@dataclass(frozen=True)
class CounterPaymentInput:
    method: str
    amount: str  # as typed, in manat
    slip_reference: str = ""


def _parse_payment(
    data: CounterPaymentInput, *, fee_qepik: int
) -> tuple[PaymentMethod, str | None]:
    errors: list[DomainError] = []
    method: PaymentMethod | None = None
    if data.method in {m.value for m in COUNTER_METHODS}:
        method = PaymentMethod(data.method)
    else:
        errors.append(InvalidInput("payment_method_required", field="method"))
    amount = parse_azn(data.amount)
    if not data.amount.strip():
        errors.append(InvalidInput("amount_required", field="amount"))
    elif amount is None:
        errors.append(InvalidInput("amount_malformed", field="amount"))
    elif amount != fee_qepik:
        # Not a float compare: qəpik, both. More or less than the fee is a mistake to fix
        # before the money is taken, not change to give.
        errors.append(InvalidInput("amount_not_fee", field="amount", fee=format_azn(fee_qepik)))
    slip: str | None = None
    if method == PaymentMethod.CARD_TERMINAL:
        slip = data.slip_reference.strip().upper()
        if not slip:
            errors.append(InvalidInput("slip_reference_required", field="slip_reference"))
        elif not _SLIP_REFERENCE.fullmatch(slip):
            errors.append(InvalidInput("slip_reference_malformed", field="slip_reference"))
    if errors:
        raise FormErrors(errors)
    assert method is not None
    return method, slip


def take_payment(
    session: Session,
    *,
    member: StaffMember,
    notification_code: str,
    data: CounterPaymentInput,
    now: dt.datetime,
) -> Application:
    """The fee taken at the counter, in cash (the amount typed must be the fee) or on the
    card terminal (the slip's reference recorded). The application then moves exactly as a
    paid online one: ``await_payment`` holds its IMEIs, ``mark_paid`` publishes
    ``ApplicationPaid`` and the registration job is queued, all in this transaction.

    Taken twice (the form sent again), the second changes nothing. Refused once the point's
    day is closed."""
    _require_point_role(member)
    application = application_at_point(session, member=member, notification_code=notification_code)
    application = get_application(session, application.id, lock=True)
    if application.status in lifecycle.PAID_OR_DECIDED:
        return application
    method, slip = _parse_payment(data, fee_qepik=application.fee_qepik)
    _lock_point_day(session, point_id=application.point_id, day=baku_day(now))
    if _day_close(session, point_id=application.point_id, day=baku_day(now)) is not None:
        raise FormErrors([Conflict("day_closed_no_payments")])
    if application.status not in lifecycle.PAYABLE:
        raise FormErrors([Conflict("application_not_payable")])
    if application.expires_at <= now:
        raise FormErrors([Conflict("application_expired")])
    blocked = lifecycle.await_payment(session, application, hold_until=now + _COUNTER_HOLD, now=now)
    if blocked:
        raise FormErrors([hold_conflict(next(iter(blocked.values())))])
    payment = Payment(
        application_id=application.id,
        method=method,
        payment_key=None,
        card_type=None,
        amount_qepik=application.fee_qepik,
        status=PaymentStatus.PAID,
        slip_reference=slip,
        paid_at=now,
        created_at=now,
        expires_at=now,
    )
    application.payments.append(payment)
    session.flush()
    lifecycle.mark_paid(
        session,
        application,
        payment_id=payment.id,
        amount_qepik=payment.amount_qepik,
        paid_at=now,
        now=now,
    )
    record_staff_action(
        session,
        member,
        "counter.payment_taken",
        application_id=application.id,
        details={
            "method": method.value,
            "amount_qepik": payment.amount_qepik,
            "slip_reference": slip,
        },
        now=now,
    )
    return application


def record_receipt_printed(
    session: Session,
    *,
    member: StaffMember,
    application: Application,
    layout: str,
    now: dt.datetime,
) -> None:
    """Each print of a receipt at the counter is in the audit log (a copy given out)."""
    record_staff_action(
        session,
        member,
        "counter.receipt_printed",
        application_id=application.id,
        details={"layout": layout},
        now=now,
    )


# ---- the point's day ----------------------------------------------------------------------------


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The Baku calendar day as UTC moments [start, end)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=BAKU)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


@dataclass(frozen=True)
class MethodTotal:
    method: PaymentMethod
    count: int
    amount_qepik: int


@dataclass(frozen=True)
class PointDay:
    """A point's day as its agents see it: what was made and taken, and whether closed."""

    point_id: int
    day: dt.date
    applications: list[Application]  # made at the point that day, newest first
    payments: list[tuple[Payment, Application]]  # taken at the point that day, in order
    totals: list[MethodTotal] = field(default_factory=list)
    closed: DayClose | None = None

    @property
    def total_qepik(self) -> int:
        return sum(total.amount_qepik for total in self.totals)

    @property
    def payments_count(self) -> int:
        return sum(total.count for total in self.totals)


def point_day(session: Session, *, point_id: int, day: dt.date) -> PointDay:
    start, end = _day_bounds(day)
    applications = list(
        session.scalars(
            select(Application)
            .where(
                Application.point_id == point_id,
                Application.created_at >= start,
                Application.created_at < end,
            )
            .options(selectinload(Application.imeis), selectinload(Application.payments))
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    )
    payments = [
        (payment, application)
        for payment, application in session.execute(
            select(Payment, Application)
            .join(Application, Payment.application_id == Application.id)
            .where(
                Application.point_id == point_id,
                Payment.method.in_(list(COUNTER_METHODS)),
                Payment.status == PaymentStatus.PAID,
                Payment.paid_at >= start,
                Payment.paid_at < end,
            )
            .order_by(Payment.paid_at, Payment.id)
        ).all()
    ]
    totals = [
        MethodTotal(
            method=method,
            count=sum(1 for p, _a in payments if p.method == method),
            amount_qepik=sum(p.amount_qepik for p, _a in payments if p.method == method),
        )
        for method in (PaymentMethod.CASH, PaymentMethod.CARD_TERMINAL)
    ]
    return PointDay(
        point_id=point_id,
        day=day,
        applications=applications,
        payments=payments,
        totals=totals,
        closed=_day_close(session, point_id=point_id, day=day),
    )


def _day_close(session: Session, *, point_id: int | None, day: dt.date) -> DayClose | None:
    return session.scalar(
        select(DayClose).where(DayClose.point_id == point_id, DayClose.business_day == day)
    )


def _lock_point_day(session: Session, *, point_id: int | None, day: dt.date) -> None:
    """Taking a payment and closing the day, one at a time per point and day: a payment
    either makes it into the day's report or is refused as after closing. (SQLite
    transactions already run one at a time.)"""
    serialise_on(session, f"point-day:{point_id}:{day.isoformat()}")


REPORT_HEADER = (
    "paid_at",
    "notification_code",
    "method",
    "slip_reference",
    "amount_azn",
    "agent",
    "status",
)


def _report_csv(day: PointDay, agents: dict[int, str]) -> str:
    """The cash report's lines: one per payment taken, then a total per method. Codes and
    numbers, not words, so any spreadsheet and any language reads it."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_HEADER)
    for payment, application in day.payments:
        assert payment.paid_at is not None
        writer.writerow(
            (
                payment.paid_at.astimezone(BAKU).isoformat(timespec="seconds"),
                application.notification_code,
                payment.method,
                payment.slip_reference or "",
                f"{payment.amount_qepik / 100:.2f}",
                agents.get(application.agent_id or 0, ""),
                application.status,
            )
        )
    for total in day.totals:
        writer.writerow(
            (
                "",
                "total",
                total.method.value,
                "",
                f"{total.amount_qepik / 100:.2f}",
                "",
                total.count,
            )
        )
    return out.getvalue()


def close_day(session: Session, *, member: StaffMember, now: dt.datetime) -> DayClose:
    """Close the member's point's day (Baku's calendar day of ``now``) with its cash report.

    Closing twice is refused (``day_already_closed``); the report closed the first time is
    kept as it was and downloaded as often as wanted. No payment is taken at the point that
    day afterwards."""
    _require_point_role(member)
    day = baku_day(now)
    point_id = member.point_id
    _lock_point_day(session, point_id=point_id, day=day)
    if _day_close(session, point_id=point_id, day=day) is not None:
        raise Conflict("day_already_closed")
    summary = point_day(session, point_id=point_id, day=day)  # type: ignore[arg-type]
    agents = {
        account_id: username
        for account_id, username in session.execute(
            select(StaffAccount.id, StaffAccount.username).where(StaffAccount.point_id == point_id)
        )
    }
    by_method = {total.method: total for total in summary.totals}
    closed = DayClose(
        point_id=point_id,
        business_day=day,
        closed_by_id=member.account_id,
        closed_at=now,
        payments_count=summary.payments_count,
        cash_qepik=by_method[PaymentMethod.CASH].amount_qepik,
        card_terminal_qepik=by_method[PaymentMethod.CARD_TERMINAL].amount_qepik,
        report_csv=_report_csv(summary, agents),
    )
    try:
        with session.begin_nested():
            session.add(closed)
            session.flush()
    except IntegrityError:
        raise Conflict("day_already_closed") from None
    record_staff_action(
        session,
        member,
        "counter.day_closed",
        details={
            "day": day.isoformat(),
            "payments": closed.payments_count,
            "cash_qepik": closed.cash_qepik,
            "card_terminal_qepik": closed.card_terminal_qepik,
        },
        now=now,
    )
    return closed


def closed_day(session: Session, *, member: StaffMember, day: dt.date) -> DayClose:
    """A closed day of the member's point; another point's answers as one not closed."""
    if member.point_id is None:
        raise NotFound("day_not_closed")
    closed = _day_close(session, point_id=member.point_id, day=day)
    if closed is None:
        raise NotFound("day_not_closed")
    return closed


def point_days(session: Session, *, point_id: int, limit: int = 31) -> list[DayClose]:
    """The point's closed days, newest first."""
    return list(
        session.scalars(
            select(DayClose)
            .where(DayClose.point_id == point_id)
            .order_by(DayClose.business_day.desc())
            .limit(limit)
        )
    )


def point_agents(session: Session, *, point_id: int) -> list[tuple[StaffAccount, int]]:
    """The point's staff, each with how many applications they made there."""
    made = (
        select(Application.agent_id, func.count().label("made"))
        .where(Application.point_id == point_id)
        .group_by(Application.agent_id)
        .subquery()
    )
    return [
        (account, made_count or 0)
        for account, made_count in session.execute(
            select(StaffAccount, made.c.made)
            .outerjoin(made, made.c.agent_id == StaffAccount.id)
            .where(StaffAccount.point_id == point_id)
            .order_by(StaffAccount.username)
        ).all()
    ]


# ---- the supervisor's cancellation --------------------------------------------------------------


def cancel_registration(
    session: Session,
    *,
    member: StaffMember,
    notification_code: str,
    reason: str,
    now: dt.datetime,
) -> Application:
    """A point's supervisor cancels a paid registration made at the point, with a written
    reason: the lifecycle's ``cancel`` undoes the registration (its IMEIs no longer
    registered, nor whitelisted), owes the fee back (a refund for the back office to pay)
    and tells the citizen. Agents may not (403)."""
    if member.role != StaffRole.POINT_SUPERVISOR:
        raise Forbidden("staff_role_refused")
    application = application_at_point(session, member=member, notification_code=notification_code)
    written = reason.strip()
    if not written:
        raise FormErrors([InvalidInput("cancel_reason_required", field="reason")])
    if len(written) > CANCEL_REASON_LIMIT:
        raise FormErrors(
            [InvalidInput("cancel_reason_too_long", field="reason", limit=CANCEL_REASON_LIMIT)]
        )
    application = get_application(session, application.id, lock=True)
    if not lifecycle.allowed(application.status, lifecycle.Action.CANCEL):
        raise FormErrors([Conflict("application_not_cancellable")])
    lifecycle.cancel(session, application, reason=written, now=now)
    application.cancelled_by_id = member.account_id
    session.flush()
    record_staff_action(
        session,
        member,
        "counter.registration_cancelled",
        application_id=application.id,
        details={"reason": written},
        now=now,
    )
    return application


def paid_at_point(session: Session, *, point_id: int, limit: int = 100) -> list[Application]:
    """The point's applications that were paid (cancellable ones and decided), newest first."""
    return list(
        session.scalars(
            select(Application)
            .where(
                Application.point_id == point_id,
                Application.status.in_(list(lifecycle.PAID_OR_DECIDED)),
            )
            .options(selectinload(Application.imeis), selectinload(Application.payments))
            .order_by(Application.paid_at.desc(), Application.id.desc())
            .limit(limit)
        )
    )


def _require_point_role(member: StaffMember) -> None:
    """Only staff of a point work at a counter (the routes say so too; services repeat it,
    since a service is the last word)."""
    if member.role not in (StaffRole.COUNTER_AGENT, StaffRole.POINT_SUPERVISOR) or (
        member.point_id is None
    ):
        raise Forbidden("staff_role_refused")
