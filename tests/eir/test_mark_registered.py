"""A batch of registrations whitelists its IMEIs set-wise (``eir.service.mark_registered``):
new IMEIs made registered, known ones changed with one statement, a grace expiry's
blacklisting ended, a stolen one kept; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mcqs.db import Database, utcnow
from mcqs.eir.models import BlacklistReason, EirImei
from mcqs.eir.service import mark_registered

NEW, GRACE, EXPIRED, STOLEN = (f"3500000000000{n}" for n in range(4))


def test_a_batch_whitelists_its_imeis(db: Database) -> None:
    then = utcnow() - dt.timedelta(days=40)
    with db.transaction() as session:
        session.add(EirImei(imei_norm=GRACE, grace_until=then + dt.timedelta(days=60)))
        for norm, reason in ((EXPIRED, BlacklistReason.GRACE_EXPIRED), (STOLEN, "stolen")):
            session.add(
                EirImei(
                    imei_norm=norm,
                    grace_until=then,
                    blacklist_reason=reason,
                    blacklisted_at=then,
                    blacklist_source="detection",
                    updated_at=then,
                )
            )
    now = utcnow()
    with db.transaction() as session:
        mark_registered(session, [STOLEN, NEW, EXPIRED, GRACE, NEW], now=now)
    with db.transaction() as session:
        rows = {row.imei_norm: row for row in session.scalars(select(EirImei))}
    assert sorted(rows) == sorted([NEW, GRACE, EXPIRED, STOLEN])
    assert {norm: row.registered for norm, row in rows.items()} == dict.fromkeys(rows, True)
    assert {row.updated_at for row in rows.values()} == {now}
    assert (rows[EXPIRED].blacklist_reason, rows[EXPIRED].blacklisted_at) == (None, None)
    assert rows[EXPIRED].blacklist_source is None
    assert (rows[STOLEN].blacklist_reason, rows[STOLEN].blacklist_source) == (
        "stolen",
        "detection",
    )
    assert (rows[NEW].blacklist_reason, rows[NEW].clone) == (None, False)
