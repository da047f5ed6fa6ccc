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

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload
from stdnum import imei as stdnum_imei

from mcqs.applications import lifecycle
from mcqs.applications.holds import holds_on
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.db import dialect_insert
from mcqs.devices.models import BlacklistedImei
from mcqs.registrations.models import Registration, RegistrationImei

UNDECIDED = (ApplicationStatus.PAID, ApplicationStatus.SUBMITTED)


def register_application(session: Session, *, application_id: int, now: dt.datetime) -> None:
    """Move a paid application through submitted to registered, or to rejected (the
    lifecycle's events then owe the fee back and tell the citizen). Running it again on
    a decided application changes nothing."""
    register_applications(session, application_ids=[application_id], now=now)


def register_applications(
    session: Session, *, application_ids: Sequence[int], now: dt.datetime
) -> dict[int, str]:
    """Decide every still undecided (paid or submitted) application of ``application_ids``
    in this transaction, and end exactly as if each had been decided alone, one after
    another in the order given. Returns the status each was left in, by id.

    In statements, whatever the batch's size: the applications locked and loaded (three),
    the blacklist and the holds on their IMEIs (two), the registrations written with one
    multi-row ``INSERT`` and their IMEIs with one ``INSERT … ON CONFLICT DO NOTHING
    RETURNING`` on the partial unique index (two), the statuses moved and the holds
    released (two); then each decision's event, whose handlers write its SMS, its refund
    owed, its EIR whitelisting. An IMEI another transaction registered first is simply not
    returned by the insert: its application lost the race and is rejected
    (``imei_registered_to_other``), its own rows deleted again (two more statements, only
    then). No savepoint is needed, so none is paid per application; a failure of anything
    else raises and rolls the whole batch back (the worker then runs each job alone).

    "As if one after another" decides three details. An application's IMEI held by an
    application *earlier* in the batch does not refuse it (that one is decided first and
    its hold released, so it meets the registration, if any, instead); a later one's hold
    does (``imei_taken_while_unpaid``). Two applications in the batch sharing an IMEI: the
    later one waits for the earlier one's outcome (a second round, only when needed).
    The IMEIs are inserted sorted, so two workers racing on the same IMEIs wait for each
    other in one order and never deadlock."""
    if not session.get_bind().dialect.insert_returning:
        raise RuntimeError("registering needs INSERT … RETURNING (SQLite 3.35 or later)")
    ids = sorted(set(application_ids))
    found = session.scalars(
        select(Application)
        .where(Application.id.in_(ids))
        .order_by(Application.id)  # locked in one order by every worker
        .options(selectinload(Application.imeis), selectinload(Application.payments))
        .with_for_update()
    ).all()
    by_id = {application.id: application for application in found}
    order = list(dict.fromkeys(i for i in application_ids if i in by_id))
    pending = [by_id[i] for i in order if by_id[i].status in UNDECIDED]
    if not pending:
        return {i: by_id[i].status.value for i in order}

    reasons = _reject_reasons(session, pending, now=now)
    registered = _insert_registrations(
        session, [a for a in pending if reasons[a.id] is None], now=now
    )
    for application in pending:
        if reasons[application.id] is None and application.id not in registered:
            reasons[application.id] = "imei_registered_to_other"
    lifecycle.decide(session, [(a, reasons[a.id]) for a in pending], now=now)
    return {i: by_id[i].status.value for i in order}


def imei_registered(session: Session, imei_norm: str) -> bool:
    return (
        session.scalar(
            select(RegistrationImei.id).where(
                RegistrationImei.imei_norm == imei_norm, RegistrationImei.active
            )
        )
        is not None
    )


def _reject_reasons(
    session: Session, applications: list[Application], *, now: dt.datetime
) -> dict[int, str | None]:
    """Why each application must be rejected before trying to register it, or None: an
    invalid IMEI, a blacklisted one, or one held by another application (paid after its
    own hold lapsed, while someone else paid for the IMEI) — asked for the whole batch at
    once."""
    norms = sorted({item.imei_norm for a in applications for item in a.imeis})
    blacklisted = set(
        session.scalars(
            select(BlacklistedImei.imei_norm).where(BlacklistedImei.imei_norm.in_(norms))
        )
    )
    holders = {
        norm: hold.application_id for norm, hold in holds_on(session, norms, now=now).items()
    }
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
    session: Session, applications: list[Application], *, now: dt.datetime
) -> set[int]:
    """Register what the database lets register; returns the ids of the applications
    registered. Each round takes the applications that share no IMEI with an earlier one
    of the round; an application left for the next round is rejected there if the one it
    shares an IMEI with was registered (as it would have been, alone, after it)."""
    registered: set[int] = set()
    waiting = applications
    while waiting:
        taken: set[str] = set()
        this_round: list[Application] = []
        later: list[Application] = []
        for application in waiting:
            norms = {item.imei_norm for item in application.imeis}
            (later if norms & taken else this_round).append(application)
            taken |= norms
        won = _insert_round(session, this_round, now=now)
        registered |= won
        won_norms = {item.imei_norm for a in this_round if a.id in won for item in a.imeis}
        waiting = [a for a in later if not {item.imei_norm for item in a.imeis} & won_norms]
    return registered


def _insert_round(
    session: Session, applications: list[Application], *, now: dt.datetime
) -> set[int]:
    """One multi-row insert of registrations, one of their IMEIs (insert-or-ignore on the
    partial unique index); those whose IMEIs were not all inserted lost to a registration
    committed (or committing) elsewhere, and their rows are deleted again."""
    if not applications:
        return set()
    registration_of = dict(
        session.execute(
            dialect_insert(session)(Registration)
            .values(
                [{"application_id": a.id, "fin": a.fin, "registered_at": now} for a in applications]
            )
            .returning(Registration.application_id, Registration.id)
        ).all()
    )
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
    inserted = set(
        session.execute(
            dialect_insert(session)(RegistrationImei)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["imei_norm"], index_where=RegistrationImei.active
            )
            .returning(RegistrationImei.registration_id, RegistrationImei.imei_norm)
        ).all()
    )
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
