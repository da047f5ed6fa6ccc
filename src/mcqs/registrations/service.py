"""Registering a paid application's device: the registry's side of the flow.

The database keeps the rule 'an IMEI is actively registered to at most one person'
(a partial unique index); two applications for one IMEI paid at the same moment end
with one registered and the other rejected with a refund owed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from stdnum import imei as stdnum_imei

from mcqs.applications import lifecycle
from mcqs.applications.holds import held_by_others
from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import get_application
from mcqs.devices.service import is_blacklisted
from mcqs.registrations.models import Registration, RegistrationImei


def register_application(session: Session, *, application_id: int, now: dt.datetime) -> Application:
    """Move a paid application through submitted to registered, or to rejected (the
    lifecycle's events then owe the fee back and tell the citizen)."""
    application = get_application(session, application_id, lock=True)
    if application.status == ApplicationStatus.PAID:
        lifecycle.submit(session, application, now=now)
    if application.status != ApplicationStatus.SUBMITTED:
        return application  # already decided: running the job twice changes nothing

    reason = _reject_reason(session, application, now=now)
    if reason is None:
        try:
            with session.begin_nested():
                _insert_registration(session, application, now=now)
        except IntegrityError:
            reason = "imei_registered_to_other"
    if reason is None:
        lifecycle.register(session, application, now=now)
    else:
        lifecycle.reject(session, application, reason=reason, now=now)
    return application


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


def imei_registered(session: Session, imei_norm: str) -> bool:
    return (
        session.scalar(
            select(RegistrationImei.id).where(
                RegistrationImei.imei_norm == imei_norm, RegistrationImei.active
            )
        )
        is not None
    )


def _reject_reason(session: Session, application: Application, *, now: dt.datetime) -> str | None:
    for item in application.imeis:
        if not stdnum_imei.is_valid(item.imei):
            return "imei_invalid"
        if is_blacklisted(session, imei_norm=item.imei_norm):
            return "imei_blacklisted"
    if held_by_others(session, application=application, now=now):
        # Paid after its hold lapsed, and someone else is paying for the IMEI meanwhile.
        return "imei_taken_while_unpaid"
    return None


def _insert_registration(session: Session, application: Application, *, now: dt.datetime) -> None:
    registration = Registration(
        application_id=application.id, fin=application.fin, registered_at=now
    )
    session.add(registration)
    session.flush()
    for item in application.imeis:
        session.add(
            RegistrationImei(
                registration_id=registration.id,
                imei=item.imei,
                imei_norm=item.imei_norm,
                active=True,
            )
        )
    session.flush()
