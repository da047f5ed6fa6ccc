"""What a citizen has with the registry, by FİN: applications (each with its receipt once
paid), registered devices, and refunds owed to them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mcqs.applications.models import Application
from mcqs.payments.models import Refund
from mcqs.registrations.models import Registration, RegistrationImei


@dataclass(frozen=True)
class RegisteredDevice:
    application: Application  # the application it was registered by (device name, code)
    imeis: list[str]  # IMEIs still registered to this citizen
    registered_at: dt.datetime


@dataclass(frozen=True)
class CitizenRecords:
    applications: list[Application]  # newest first, IMEIs and payments loaded
    devices: list[RegisteredDevice]
    refunds: list[tuple[Refund, Application]]


def records_of(session: Session, *, fin: str) -> CitizenRecords:
    """Everything of one FİN, and nobody else's: every query is filtered by it."""
    applications = list(
        session.scalars(
            select(Application)
            .where(Application.fin == fin)
            .options(selectinload(Application.imeis), selectinload(Application.payments))
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    )
    by_id = {application.id: application for application in applications}
    registrations = session.scalars(
        select(Registration)
        .where(Registration.fin == fin)
        .order_by(Registration.registered_at.desc())
    ).all()
    active = session.execute(
        select(RegistrationImei.registration_id, RegistrationImei.imei)
        .where(
            RegistrationImei.registration_id.in_([r.id for r in registrations]),
            RegistrationImei.active.is_(True),
        )
        .order_by(RegistrationImei.id)
    ).all()
    devices = [
        RegisteredDevice(
            application=by_id[registration.application_id],
            imeis=[imei for owner, imei in active if owner == registration.id],
            registered_at=registration.registered_at,
        )
        for registration in registrations
        if registration.application_id in by_id
    ]
    refunds = [
        (refund, by_id[refund.application_id])
        for refund in session.scalars(
            select(Refund)
            .where(Refund.application_id.in_(list(by_id)))
            .order_by(Refund.created_at.desc())
        )
    ]
    return CitizenRecords(
        applications=applications,
        devices=[device for device in devices if device.imeis],
        refunds=refunds,
    )
