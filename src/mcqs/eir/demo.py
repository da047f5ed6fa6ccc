"""The demo's network side: its stolen phone known to the EIR, and one operator whose
client credentials are public (printed by `make run`, used by the operator simulator)."""

from __future__ import annotations

from sqlalchemy import select

from mcqs.db import Database, utcnow
from mcqs.devices.models import BlacklistedImei
from mcqs.eir.operators import add_operator, operator_by_code
from mcqs.eir.service import report_stolen

DEMO_OPERATOR_CODE = "azercell"
DEMO_OPERATOR_PREFIXES = ["40001"]
DEMO_CLIENT_ID = "azercell-demo"
DEMO_CLIENT_SECRET = "demo-operator-secret"  # public: the demo only


def seed_demo_eir(db: Database) -> None:
    """Safe to repeat. Refused outside the demo and tests by its callers' own checks."""
    now = utcnow()
    with db.transaction() as session:
        for entry in session.scalars(select(BlacklistedImei)):
            report_stolen(session, imei_norm=entry.imei_norm, source="registry", now=now)
        if operator_by_code(session, DEMO_OPERATOR_CODE) is None:
            add_operator(
                session,
                code=DEMO_OPERATOR_CODE,
                name="Azercell (demo)",
                imsi_prefixes=DEMO_OPERATOR_PREFIXES,
                client_id=DEMO_CLIENT_ID,
                client_secret=DEMO_CLIENT_SECRET,
            )
