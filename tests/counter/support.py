"""What the counter's tests share: a point with its staff, members as the edge makes them,
and the counter flow driven through its services."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass

from staff.signing_in import Point, Staff, create_point, create_staff

from mcqs.applications.models import Application
from mcqs.counter.service import (
    CounterInput,
    CounterPaymentInput,
    confirm_at_counter,
    register_at_counter,
    take_payment,
)
from mcqs.db import Database, utcnow
from mcqs.principals import StaffMember
from mcqs.services import Services
from mcqs.staff.models import StaffRole

_points = itertools.count(1)


def member_of(staff: Staff) -> StaffMember:
    """The principal the edge makes of a signed-in account."""
    return StaffMember(
        account_id=staff.account_id,
        username=staff.username,
        role=staff.role,
        point_id=staff.point.id if staff.point else None,
        point_code=staff.point.code if staff.point else None,
        client_address="10.0.0.7",
    )


@dataclass(frozen=True)
class PointStaff:
    point: Point
    other_point: Point
    agent: Staff
    supervisor: Staff
    other_agent: Staff  # of the other point
    back_office: Staff


def make_point_staff(db: Database) -> PointStaff:
    n = next(_points)
    point = create_point(db, code=f"AZPOST-{n:03d}", name="Bakı 12 saylı poçt şöbəsi")
    other = create_point(db, code=f"AZCELL-{n:03d}", name="Azercell Gənclik")
    return PointStaff(
        point=point,
        other_point=other,
        agent=create_staff(db, role=StaffRole.COUNTER_AGENT, point=point),
        supervisor=create_staff(db, role=StaffRole.POINT_SUPERVISOR, point=point),
        other_agent=create_staff(db, role=StaffRole.COUNTER_AGENT, point=other),
        back_office=create_staff(db, role=StaffRole.BACK_OFFICE),
    )


def counter_form(
    *,
    imeis: tuple[str, ...],
    id_card: str = "AA1234567",
    fin: str = "5ABC1D2",
    phone: str = "050 123 45 67",
    key: str | None = None,
) -> CounterInput:
    return CounterInput(
        submission_key=key or secrets.token_urlsafe(24),
        id_card=id_card,
        fin=fin,
        imeis=imeis,
        phone=phone,
    )


def register(
    db: Database, services: Services, member: StaffMember, form: CounterInput
) -> Application:
    check = confirm_at_counter(services.population, form)
    with db.transaction() as session:
        return register_at_counter(
            session, member=member, check=check, max_open_per_fin=3, now=utcnow()
        )


def pay(
    db: Database,
    member: StaffMember,
    code: str,
    *,
    method: str = "cash",
    amount: str = "",
    slip: str = "",
) -> Application:
    with db.transaction() as session:
        return take_payment(
            session,
            member=member,
            notification_code=code,
            data=CounterPaymentInput(method=method, amount=amount, slip_reference=slip),
            now=utcnow(),
        )


def fee_text(application: Application) -> str:
    return f"{application.fee_qepik // 100}.{application.fee_qepik % 100:02d}"
