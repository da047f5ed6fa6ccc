"""The one owner of an application's lifecycle.

``TRANSITIONS`` is the whole state machine; the functions below are the only code that
changes ``Application.status``. Whatever follows a transition — the registration job, an
SMS, a refund owed, later an EIR status — is a handler of the event it publishes, run in
the same transaction, so a rollback discards the change and everything that follows it.

    created ──await_payment──▶ awaiting_payment ──mark_paid──▶ paid ──submit──▶ submitted
       │                          │      ▲                                        │
       └────────expire────────────┴──▶ expired (mark_paid: a late payment)   register│reject
                                                                                ▼      ▼
                                                                        registered  rejected
    paid | submitted | registered ──cancel (a point's supervisor)──▶ cancelled
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, func, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mcqs.applications.holds import hold_imeis, release_holds, release_holds_of
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.records import ApplicationRecord, record_of
from mcqs.db import among
from mcqs.errors import Conflict

S = ApplicationStatus


class Action(StrEnum):
    AWAIT_PAYMENT = "await_payment"
    MARK_PAID = "mark_paid"
    SUBMIT = "submit"
    REGISTER = "register"
    REJECT = "reject"
    EXPIRE = "expire"
    CANCEL = "cancel"


# action → (the statuses it may start from, the status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[ApplicationStatus], ApplicationStatus]] = {
    Action.AWAIT_PAYMENT: (frozenset({S.CREATED, S.AWAITING_PAYMENT}), S.AWAITING_PAYMENT),
    # EXPIRED too: money taken after we gave up waiting must still end registered or refunded.
    Action.MARK_PAID: (frozenset({S.CREATED, S.AWAITING_PAYMENT, S.EXPIRED}), S.PAID),
    Action.SUBMIT: (frozenset({S.PAID}), S.SUBMITTED),
    Action.REGISTER: (frozenset({S.SUBMITTED}), S.REGISTERED),
    Action.REJECT: (frozenset({S.PAID, S.SUBMITTED}), S.REJECTED),
    Action.EXPIRE: (frozenset({S.CREATED, S.AWAITING_PAYMENT}), S.EXPIRED),
    # A point's supervisor undoes a paid registration (a mistake at the counter): whatever
    # the registry did is undone and the fee is owed back.
    Action.CANCEL: (frozenset({S.PAID, S.SUBMITTED, S.REGISTERED}), S.CANCELLED),
}

# Paid and what can follow: the fee is in; never payable again.
PAID_OR_DECIDED = frozenset({S.PAID, S.SUBMITTED, S.REGISTERED, S.REJECTED, S.CANCELLED})
# What a payment may be started from: the table's own answer, not a second list.
PAYABLE = TRANSITIONS[Action.AWAIT_PAYMENT][0]


class TransitionRefused(Conflict):
    """The application is not in a state this action may start from (someone else moved it)."""

    def __init__(self, application: Application | ApplicationRecord, action: Action) -> None:
        super().__init__("application_state_changed", status=application.status, action=action)


def allowed(status: ApplicationStatus, action: Action) -> bool:
    return status in TRANSITIONS[action][0]


def _target(
    application: Application | ApplicationRecord, status: ApplicationStatus, action: Action
) -> ApplicationStatus:
    """The status ``action`` leads to from ``status``; refused unless the table allows it."""
    sources, target = TRANSITIONS[action]
    if status not in sources:
        raise TransitionRefused(application, action)
    return target


def _move(application: Application, action: Action) -> None:
    application.status = _target(application, application.status, action)


# ---- events --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationEvent:
    # The ORM object, except for the registry's decisions: those are made in batches on
    # plain records (``applications.records``).
    application: Application | ApplicationRecord
    now: dt.datetime


@dataclass(frozen=True)
class ApplicationPaid(ApplicationEvent):
    """Paid: the registry must now decide (handlers queue the registration)."""

    application: Application


@dataclass(frozen=True)
class ApplicationRegistered(ApplicationEvent):
    application: ApplicationRecord


@dataclass(frozen=True)
class ApplicationRejected(ApplicationEvent):
    """Rejected after payment: the fee is owed back."""

    application: ApplicationRecord
    reason: str


@dataclass(frozen=True)
class ApplicationExpired(ApplicationEvent):
    application: Application


@dataclass(frozen=True)
class ApplicationCancelled(ApplicationEvent):
    """Cancelled after payment by a point's supervisor: its IMEIs are no longer registered
    (if they were) and the fee is owed back."""

    application: Application
    was_registered: bool


@dataclass(frozen=True)
class PaymentReceivedTwice(ApplicationEvent):
    """A second payment for an application already paid (two tabs): owed back."""

    application: Application
    payment_id: int
    amount_qepik: int


E = TypeVar("E", bound=ApplicationEvent)
Handler = Callable[[Session, Any], None]
EventHandler = Callable[[Session, E], None]
_handlers: dict[type[ApplicationEvent], list[Handler]] = defaultdict(list)
_wired = False


def on(
    event_type: type[E],
) -> Callable[[Callable[[Session, E], None]], Callable[[Session, E], None]]:
    """Register a handler of ``event_type``; it runs in the transaction that publishes it."""

    def register(handler: EventHandler[E]) -> EventHandler[E]:
        if handler not in _handlers[event_type]:
            _handlers[event_type].append(handler)
        return handler

    return register


BatchHandler = Callable[[Session, list[Any]], None]
_batch_handlers: dict[type[ApplicationEvent], list[BatchHandler]] = defaultdict(list)


def on_each(
    event_type: type[E],
) -> Callable[[Callable[[Session, list[E]], None]], Callable[[Session, list[E]], None]]:
    """Register a handler of ``event_type`` that takes the events published together (the
    worker's batch of decisions) in one list, so that it can write what follows them with
    one statement instead of one per event; an event published alone comes as a list of
    one. Like :func:`on`'s handlers, it runs in the transaction that publishes."""

    def register(handler: Callable[[Session, list[E]], None]) -> Callable[[Session, list[E]], None]:
        if handler not in _batch_handlers[event_type]:
            _batch_handlers[event_type].append(handler)
        return handler

    return register


# Domains above this one that can refuse an IMEI at the check (the registry: "already
# registered"): each gives its error code and a condition on the IMEI's key, an SQL
# expression (an EXISTS), so that the check asks every domain about every IMEI in one
# statement. Asked in the order registered; the first that holds is the refusal.
ImeiCondition = Callable[[ColumnElement[str]], ColumnElement[bool]]
_imei_refusals: list[tuple[str, ImeiCondition]] = []


def refuses_imei(code: str) -> Callable[[ImeiCondition], ImeiCondition]:
    """Register ``condition(imei_norm)`` as a refusal of new applications, with ``code``."""

    def register(condition: ImeiCondition) -> ImeiCondition:
        if (code, condition) not in _imei_refusals:
            _imei_refusals.append((code, condition))
        return condition

    return register


def imei_refusals() -> list[tuple[str, ImeiCondition]]:
    """Every other domain's refusal of an IMEI: (error code, condition)."""
    _require_wired()
    return list(_imei_refusals)


def _require_wired() -> None:
    if not _wired:
        # Publishing with no handlers would silently lose a registration or a refund.
        raise RuntimeError("event handlers are not connected: call mcqs.wiring.connect()")


def mark_wired() -> None:
    """Called by ``mcqs.wiring.connect`` once every domain's handlers are registered."""
    global _wired
    _wired = True


def publish(session: Session, event: ApplicationEvent) -> None:
    publish_all(session, [event])


def publish_all(session: Session, events: Sequence[ApplicationEvent]) -> None:
    """Publish events together, type by type in the order first seen: each :func:`on`
    handler is called for each event, in order; each :func:`on_each` handler once, with
    all the events of its type."""
    _require_wired()
    by_type: dict[type[ApplicationEvent], list[ApplicationEvent]] = {}
    for event in events:
        by_type.setdefault(type(event), []).append(event)
    for event_type, group in by_type.items():
        for handler in _handlers[event_type]:
            for event in group:
                handler(session, event)
        for batch_handler in _batch_handlers[event_type]:
            batch_handler(session, group)


# ---- the transitions -----------------------------------------------------------------------


def await_payment(
    session: Session,
    application: Application,
    *,
    hold_until: dt.datetime,
    daily_allowance: dt.timedelta | None = None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A GoldenPay session is being opened: hold the IMEIs for as long as it can be paid.

    Returns the holds of other applications in the way (nothing changes then)."""
    if not allowed(application.status, Action.AWAIT_PAYMENT):
        raise TransitionRefused(application, Action.AWAIT_PAYMENT)
    blocked = hold_imeis(
        session,
        application=application,
        until=hold_until,
        now=now,
        daily_allowance=daily_allowance,
    )
    if blocked:
        return dict(blocked)
    _move(application, Action.AWAIT_PAYMENT)
    session.flush()
    return {}


def mark_paid(
    session: Session,
    application: Application,
    *,
    payment_id: int,
    amount_qepik: int,
    paid_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """GoldenPay confirmed a payment. A second one for a paid application is owed back."""
    if application.status in PAID_OR_DECIDED:
        publish(
            session,
            PaymentReceivedTwice(
                application, now, payment_id=payment_id, amount_qepik=amount_qepik
            ),
        )
        return
    _move(application, Action.MARK_PAID)
    application.paid_at = paid_at
    # Held until decided. A late payment whose IMEI another application took meanwhile
    # keeps no hold; the registry then rejects it and the fee is owed back.
    hold_imeis(session, application=application, until=None, now=now)
    session.flush()
    publish(session, ApplicationPaid(application, now))


def submit(session: Session, application: Application, *, now: dt.datetime) -> None:
    _move(application, Action.SUBMIT)
    application.submitted_at = application.submitted_at or now
    session.flush()


def register(session: Session, application: Application, *, now: dt.datetime) -> None:
    _decide_one(session, application, None, now=now)


def reject(session: Session, application: Application, *, reason: str, now: dt.datetime) -> None:
    """Rejected after payment: handlers record the refund owed and tell the citizen."""
    _decide_one(session, application, reason, now=now)


def _decide_one(
    session: Session, application: Application, reason: str | None, *, now: dt.datetime
) -> None:
    """One loaded application decided as the worker decides a batch; the object then says
    what its row says."""
    session.flush()
    record = record_of(application)
    decide(session, [(record, reason)], now=now)
    for name in ("status", "decided_at", "reject_reason"):
        set_committed_value(application, name, getattr(record, name))


def decide(
    session: Session,
    decisions: Sequence[tuple[ApplicationRecord, str | None]],
    *,
    now: dt.datetime,
    submit: bool = False,
) -> None:
    """Register each ``(application, None)`` and reject each ``(application, reason)``,
    the worker's whole batch at once (``submit``: each paid one is first submitted to the
    registry, as the worker's are). The statuses are written with one ``UPDATE`` per
    outcome (registered, or rejected for a reason), not one per application, each moving
    only rows still in the statuses the table allows; the holds are released with one
    statement; then the decisions' events are published together (:func:`publish_all`), so
    that their handlers (SMS, refund owed, EIR) can write what follows them set-wise too.
    The records are updated to say what their rows now say."""
    outcomes: dict[tuple[Action, str | None], list[ApplicationRecord]] = {}
    for application, reason in decisions:
        status = application.status
        if submit and status == S.PAID:
            status = _target(application, status, Action.SUBMIT)
        action = Action.REGISTER if reason is None else Action.REJECT
        _target(application, status, action)
        outcomes.setdefault((action, reason), []).append(application)
    table = cast(Table, Application.__table__)
    for (action, reason), group in outcomes.items():
        sources, target = TRANSITIONS[action]
        if submit:
            sources |= TRANSITIONS[Action.SUBMIT][0]
        values: dict[str, Any] = {"status": target, "decided_at": now}
        if reason is not None:
            values["reject_reason"] = reason
        if submit:
            values["submitted_at"] = func.coalesce(table.c.submitted_at, now)
        moved = session.execute(
            update(table)
            .where(among(session, table.c.id, [a.id for a in group]), table.c.status.in_(sources))
            .values(values)
        )
        if int(getattr(moved, "rowcount", 0) or 0) != len(group):
            # The caller holds the rows locked, so this is a bug, not a race to lose.
            raise RuntimeError("an application being decided is not in the status it was read in")
        for application in group:
            application.status = target
            application.decided_at = now
            application.reject_reason = reason
            if submit:
                application.submitted_at = application.submitted_at or now
    if decisions:
        release_holds_of(session, application_ids=[a.id for a, _ in decisions], now=now)
    publish_all(
        session,
        [
            ApplicationRegistered(application, now)
            if reason is None
            else ApplicationRejected(application, now, reason=reason)
            for application, reason in decisions
        ],
    )


def expire(session: Session, application: Application, *, now: dt.datetime) -> None:
    """Nobody will pay for it any more: its IMEIs are free again."""
    _move(application, Action.EXPIRE)
    release_holds(session, application_id=application.id, now=now)
    session.flush()
    publish(session, ApplicationExpired(application, now))


def cancel(session: Session, application: Application, *, reason: str, now: dt.datetime) -> None:
    """A supervisor cancels a paid application, with a written ``reason``: handlers undo the
    registration, owe the fee back and tell the citizen."""
    was_registered = application.status == S.REGISTERED
    _move(application, Action.CANCEL)
    application.cancel_reason = reason
    application.decided_at = now
    release_holds(session, application_id=application.id, now=now)
    session.flush()
    publish(session, ApplicationCancelled(application, now, was_registered=was_registered))
