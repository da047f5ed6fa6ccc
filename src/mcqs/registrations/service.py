"""Registering paid applications' devices: the registry's side of the flow.

The database keeps the rule 'an IMEI is actively registered to at most one person'
(a partial unique index); two applications for one IMEI paid at the same moment end
with one registered and the other rejected with a refund owed.

The worker registers the applications of a claimed batch together, in one transaction
and a handful of statements whatever the batch's size (:func:`register_applications`);
one application alone (a retried job, the sweep) goes the same way as a batch of one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import ColumnElement, Table, delete, exists, select, update
from sqlalchemy.orm import Session
from stdnum import imei as stdnum_imei

from mcqs.applications import lifecycle
from mcqs.applications.holds import holders_on
from mcqs.applications.models import Application, ApplicationImei, ApplicationStatus
from mcqs.applications.records import ApplicationRecord, ImeiRecord, PaymentRecord
from mcqs.db import among, insert_rows
from mcqs.devices.models import BlacklistedImei
from mcqs.payments.models import Payment, PaymentStatus
from mcqs.registrations.models import Registration, RegistrationImei

UNDECIDED = (ApplicationStatus.PAID, ApplicationStatus.SUBMITTED)


def register_application(session: Session, *, application_id: int, now: dt.datetime) -> None:
    """Move a paid application through submitted to registered, or to rejected (the
    lifecycle's events then owe the fee back and tell the citizen). Running it again on
    a decided application changes nothing."""
    if register_applications(session, application_ids=[application_id], now=now):
        raise RuntimeError("one application alone is always decided")


def register_applications(
    session: Session, *, application_ids: Sequence[int], now: dt.datetime
) -> list[int]:
    """Decide the still undecided (paid or submitted) applications of ``application_ids``
    in this transaction, each ending exactly as if decided alone, one after another in the
    order given. Returns those that can only be decided after this transaction commits
    (rare, below), in order: the caller decides them next, in a transaction of their own.

    In statements, whatever the batch's size, with Core over plain values (no ORM object):
    the applications locked and read as records (three), the blacklist and the holds on
    their IMEIs (two), the registrations written with one ``INSERT`` and their IMEIs with
    one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` on the partial unique index (two,
    ``db.insert_rows``), the statuses moved (one per outcome, ``lifecycle.decide``) and the
    holds released (one); then the decisions' events, whose handlers write the SMS, the
    refunds owed, the EIR's whitelist set-wise too. An IMEI another transaction registered first
    is simply not returned by the insert: its application lost the race and is rejected
    (``imei_registered_to_other``), and its other rows are deleted again (two statements,
    only then). So no savepoint is needed, and none is paid per application; a failure of
    anything else raises and rolls the whole batch back (the worker then runs each job
    alone).

    "As if one after another" decides three details. An application's IMEI held by an
    application *earlier* in the batch does not refuse it (that one is decided first and
    its hold released, so it meets the registration, if any, instead); a later one's hold
    does (``imei_taken_while_unpaid``). Of two applications in the batch sharing an IMEI,
    the later one is rejected if the earlier one is registered; if the earlier one lost
    its race, the later one's fate is not known until that is undone, so it is returned,
    to be decided after this transaction. The IMEIs are inserted in one statement, sorted:
    two workers racing for the same IMEIs wait for each other in one order and never
    deadlock (a second insert in the same transaction would break that order)."""
    if not session.get_bind().dialect.insert_returning:
        raise RuntimeError("registering needs INSERT … RETURNING (SQLite 3.35 or later)")
    by_id = {a.id: a for a in _read_applications(session, sorted(set(application_ids)))}
    order = list(dict.fromkeys(i for i in application_ids if i in by_id))
    pending = [by_id[i] for i in order if by_id[i].status in UNDECIDED]
    if not pending:
        return []

    reasons = _reject_reasons(session, pending, now=now)
    trying = [a for a in pending if reasons[a.id] is None]
    # Those sharing an IMEI with an earlier one that tries wait for its outcome.
    taken: set[str] = set()
    first: list[ApplicationRecord] = []
    waiting: list[ApplicationRecord] = []
    for application in trying:
        norms = {item.imei_norm for item in application.imeis}
        (waiting if norms & taken else first).append(application)
        taken |= norms
    registered = _insert_registrations(session, first, now=now)
    won = {item.imei_norm for a in first if a.id in registered for item in a.imeis}
    waiting_ids = {a.id for a in waiting}
    later: list[int] = []
    for application in trying:
        if application.id in registered:
            continue
        if application.id in waiting_ids and not {i.imei_norm for i in application.imeis} & won:
            later.append(application.id)
        else:
            reasons[application.id] = "imei_registered_to_other"
    deciding = [a for a in pending if a.id not in later]
    lifecycle.decide(session, [(a, reasons[a.id]) for a in deciding], now=now, submit=True)
    return later


def _read_applications(session: Session, ids: list[int]) -> list[ApplicationRecord]:
    """The applications, locked (in id order, as every worker locks them), with their
    IMEIs and paid payment: three selects for the whole batch, plain values."""
    rows = session.execute(
        select(
            Application.id,
            Application.status,
            Application.fin,
            Application.phone,
            Application.language,
            Application.notification_code,
            Application.brand,
            Application.model,
            Application.fee_qepik,
            Application.submitted_at,
        )
        .where(among(session, Application.id, ids))
        .order_by(Application.id)
        .with_for_update()
    ).all()
    imeis: dict[int, list[ImeiRecord]] = {row.id: [] for row in rows}
    for application_id, imei, imei_norm in session.execute(
        select(ApplicationImei.application_id, ApplicationImei.imei, ApplicationImei.imei_norm)
        .where(among(session, ApplicationImei.application_id, ids))
        .order_by(ApplicationImei.application_id, ApplicationImei.position)
    ):
        imeis[application_id].append(ImeiRecord(imei, imei_norm))
    paid: dict[int, PaymentRecord] = {}
    for application_id, payment_id, amount in session.execute(
        select(Payment.application_id, Payment.id, Payment.amount_qepik)
        .where(among(session, Payment.application_id, ids), Payment.status == PaymentStatus.PAID)
        .order_by(Payment.id.desc())  # the first paid, as Application.paid_payment
    ):
        paid[application_id] = PaymentRecord(payment_id, amount)
    return [
        ApplicationRecord(
            id=row.id,
            status=row.status,
            fin=row.fin,
            phone=row.phone,
            language=row.language,
            notification_code=row.notification_code,
            brand=row.brand,
            model=row.model,
            fee_qepik=row.fee_qepik,
            submitted_at=row.submitted_at,
            imeis=imeis[row.id],
            paid_payment=paid.get(row.id),
        )
        for row in rows
    ]


def deregister_application(session: Session, *, application_id: int) -> None:
    """The application's registration no longer holds its IMEIs (kept, inactive, as the
    record of what was). Nothing to do if it was never registered."""
    registration_id = session.scalar(
        select(Registration.id).where(Registration.application_id == application_id)
    )
    if registration_id is None:
        return
    session.execute(
        update(RegistrationImei)
        .where(RegistrationImei.registration_id == registration_id)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    session.flush()


def imei_registered_clause(imei_norm: ColumnElement[str]) -> ColumnElement[bool]:
    """The IMEI (its key, an SQL expression) is actively registered to someone."""
    return exists().where(RegistrationImei.imei_norm == imei_norm, RegistrationImei.active)


def _reject_reasons(
    session: Session, applications: list[ApplicationRecord], *, now: dt.datetime
) -> dict[int, str | None]:
    """Why each application must be rejected before trying to register it, or None: an
    invalid IMEI, a blacklisted one, or one held by another application (paid after its
    own hold lapsed, while someone else paid for the IMEI) — asked for the whole batch at
    once."""
    norms = sorted({item.imei_norm for a in applications for item in a.imeis})
    blacklisted = set(
        session.scalars(
            select(BlacklistedImei.imei_norm).where(
                among(session, BlacklistedImei.imei_norm, norms)
            )
        )
    )
    holders = holders_on(session, norms, now=now)
    reasons: dict[int, str | None] = {}
    decided_before: set[int] = set()  # earlier in the batch: decided, holds released
    for application in applications:
        reason = None
        for item in application.imeis:
            if not stdnum_imei.is_valid(item.imei):
                reason = "imei_invalid"
                break
            if item.imei_norm in blacklisted:
                reason = "imei_blacklisted"
                break
        if reason is None and any(
            holders.get(item.imei_norm) not in (None, application.id, *decided_before)
            for item in application.imeis
        ):
            reason = "imei_taken_while_unpaid"
        reasons[application.id] = reason
        decided_before.add(application.id)
    return reasons


def _insert_registrations(
    session: Session, applications: list[ApplicationRecord], *, now: dt.datetime
) -> set[int]:
    """Register the applications (which share no IMEI) as far as the database lets:
    one multi-row insert of registrations, one of their IMEIs (insert-or-ignore on the
    partial unique index); those whose IMEIs were not all inserted lost to a registration
    committed (or committing) elsewhere, and their rows are deleted again. Returns the ids
    of the applications registered."""
    if not applications:
        return set()
    registration_of: dict[int, int] = dict(
        insert_rows(
            session,
            cast(Table, Registration.__table__),
            [{"application_id": a.id, "fin": a.fin, "registered_at": now} for a in applications],
            returning=("application_id", "id"),
        )
    )
    # Sorted: inserted in this order, so racing workers wait for each other in one order.
    rows = sorted(
        (
            {
                "registration_id": registration_of[a.id],
                "imei": item.imei,
                "imei_norm": item.imei_norm,
                "active": True,
            }
            for a in applications
            for item in a.imeis
        ),
        key=lambda row: (row["imei_norm"], row["registration_id"]),
    )
    imeis = cast(Table, RegistrationImei.__table__)
    inserted = {
        (registration_id, imei_norm)
        for registration_id, imei_norm in insert_rows(
            session,
            imeis,
            rows,
            returning=("registration_id", "imei_norm"),
            skip_conflicts_on=("imei_norm",),  # the index of active registrations' IMEIs
        )
    }
    lost = [
        registration_of[a.id]
        for a in applications
        if any((registration_of[a.id], item.imei_norm) not in inserted for item in a.imeis)
    ]
    if lost:
        session.execute(delete(RegistrationImei).where(RegistrationImei.registration_id.in_(lost)))
        session.execute(delete(Registration).where(Registration.id.in_(lost)))
    lost_set = set(lost)
    return {a.id for a in applications if registration_of[a.id] not in lost_set}
