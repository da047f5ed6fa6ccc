"""The demo's registration points and staff accounts, their passwords and TOTP secrets
public (listed in the README, printed by `make run`): the demo only, never production."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from mcqs.audit.service import RecordedActor
from mcqs.db import Database, utcnow
from mcqs.staff.models import PointKind, RegistrationPoint, StaffAccount, StaffRole
from mcqs.staff.service import add_account, add_point

DEMO_POST_OFFICE = "AZPOST-BAKU-01"
DEMO_OPERATOR_SHOP = "AZERCELL-28MAY"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    totp_secret: str
    role: StaffRole
    point_code: str | None


DEMO_ACCOUNTS = (
    DemoAccount(
        "agent.post", "demo-agent-post", "MCQSDEMOAGENTPOSTAAAAAAAAAAAAAAA",
        StaffRole.COUNTER_AGENT, DEMO_POST_OFFICE,
    ),
    DemoAccount(
        "agent.shop", "demo-agent-shop", "MCQSDEMOAGENTSHOPAAAAAAAAAAAAAAA",
        StaffRole.COUNTER_AGENT, DEMO_OPERATOR_SHOP,
    ),
    DemoAccount(
        "supervisor.post", "demo-supervisor", "MCQSDEMOSUPERVISORAAAAAAAAAAAAAA",
        StaffRole.POINT_SUPERVISOR, DEMO_POST_OFFICE,
    ),
    DemoAccount(
        "backoffice", "demo-backoffice", "MCQSDEMOBACKOFFICEAAAAAAAAAAAAAA",
        StaffRole.BACK_OFFICE, None,
    ),
    DemoAccount(
        "admin", "demo-admin-pass", "MCQSDEMOADMINAAAAAAAAAAAAAAAAAAA",
        StaffRole.ADMIN, None,
    ),
)  # fmt: skip


# Who the audit log names for the demo's own points and accounts.
DEMO_SEEDER = RecordedActor(None, "mcqs-demo", "admin", None, "demo")


def seed_demo_staff(db: Database) -> None:
    """Two points (a post office, an operator's shop) and one account per role, enrolled
    already. Safe to repeat; refused outside the demo and tests by its callers."""
    now = utcnow()
    with db.transaction() as session:
        codes = set(session.scalars(select(RegistrationPoint.code)))
        if DEMO_POST_OFFICE not in codes:
            add_point(
                session,
                by=DEMO_SEEDER,
                code=DEMO_POST_OFFICE,
                name="Azərpoçt, Bakı 1 saylı poçt şöbəsi",
                address="Bakı, Nizami küçəsi 41",
                kind=PointKind.POST_OFFICE,
                now=now,
            )
        if DEMO_OPERATOR_SHOP not in codes:
            add_point(
                session,
                by=DEMO_SEEDER,
                code=DEMO_OPERATOR_SHOP,
                name="Azercell, 28 May satış məntəqəsi",
                address="Bakı, 28 May küçəsi 3",
                kind=PointKind.OPERATOR_SHOP,
                operator_name="Azercell",
                now=now,
            )
        usernames = set(session.scalars(select(StaffAccount.username)))
        for demo in DEMO_ACCOUNTS:
            if demo.username not in usernames:
                add_account(
                    session,
                    by=DEMO_SEEDER,
                    username=demo.username,
                    password=demo.password,
                    role=demo.role,
                    point_code=demo.point_code,
                    totp_secret=demo.totp_secret,
                    now=now,
                )
