"""A claimed batch of registrations is decided together, set-based, and ends exactly as the
same applications decided one after another would: registered, or rejected with the same
reason, a refund owed and one SMS."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select

from mcqs.applications.holds import hold_imeis
from mcqs.applications.models import Application
from mcqs.applications.service import get_application
from mcqs.db import Database, utcnow
from mcqs.devices.models import BlacklistedImei
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Payment, Refund
from mcqs.registrations.models import RegistrationImei
from mcqs.registrations.service import register_application, register_applications
from mcqs.wiring import connect

from factories import create_paid_application


@pytest.fixture(autouse=True)
def wired() -> None:
    connect()


def decide_together(db: Database, ids: list[int]) -> int:
    """As the worker's batch task does; returns how many transactions it took."""
    turns = 0
    while ids:
        turns += 1
        with db.transaction() as session:
            ids = register_applications(session, application_ids=ids, now=utcnow())
    return turns


def outcomes(db: Database, ids: list[int]) -> list[tuple[str, str | None, int, int]]:
    """Per application, in order: status, reject reason, refunds owed, SMS queued."""
    with db.transaction() as session:
        found = {a.id: a for a in session.scalars(select(Application))}
        refunds = Counter(session.scalars(select(Refund.application_id)))
        sms = Counter(session.scalars(select(SmsMessage.application_id)))
    return [(found[i].status, found[i].reject_reason, refunds[i], sms[i]) for i in ids]


def active_imeis(db: Database) -> Counter[str]:
    with db.transaction() as session:
        return Counter(
            session.scalars(select(RegistrationImei.imei_norm).where(RegistrationImei.active))
        )


def test_a_batch_of_applications_registers_each(db: Database, demo_imeis) -> None:
    with db.transaction() as session:
        ids = [
            create_paid_application(session, imeis=(imei,), fin=f"FIN{n:04d}").id
            for n, imei in enumerate(demo_imeis[:8])
        ]
    assert decide_together(db, ids) == 1
    assert outcomes(db, ids) == [("registered", None, 0, 1)] * 8
    assert active_imeis(db) == Counter(imei[:14] for imei in demo_imeis[:8])
    decide_together(db, ids)  # the job run again: nothing changes
    assert outcomes(db, ids) == [("registered", None, 0, 1)] * 8


def test_two_applications_for_one_imei_in_one_batch(db: Database, demo_imeis) -> None:
    with db.transaction() as session:
        first, second = (
            create_paid_application(session, imeis=(demo_imeis[0],), fin=fin).id
            for fin in ("5ABC1D2", "6DEF2G3")
        )
    assert decide_together(db, [first, second]) == 1
    assert outcomes(db, [first, second]) == [
        ("registered", None, 0, 1),
        ("rejected", "imei_registered_to_other", 1, 1),
    ]
    assert active_imeis(db) == Counter({demo_imeis[0][:14]: 1})


def test_a_rejection_in_a_batch_owes_back_the_payment_it_took(db: Database, demo_imeis) -> None:
    with db.transaction() as session:
        apps = [
            create_paid_application(session, imeis=(demo_imeis[0],), fin=fin)
            for fin in ("5ABC1D2", "6DEF2G3")
        ]
        ids = [a.id for a in apps]
        loser_payment = session.execute(
            select(Payment.id, Payment.amount_qepik).where(Payment.application_id == ids[1])
        ).one()
    decide_together(db, ids)
    with db.transaction() as session:
        refund = session.scalars(select(Refund)).one()
        loser = session.get_one(Application, ids[1])
    assert (refund.application_id, (refund.payment_id, refund.amount_qepik)) == (
        ids[1],
        loser_payment,
    )
    assert (refund.reason, refund.status) == ("imei_registered_to_other", "owed")
    assert (loser.status, loser.reject_reason) == ("rejected", "imei_registered_to_other")
    assert loser.submitted_at is not None and loser.decided_at is not None


# Each scenario: applications by the indexes of their IMEIs, in the order of the batch;
# "registered" IMEIs registered beforehand, "blacklisted" ones listed, "holds": application
# index -> it holds its IMEIs as a paid application does (the others paid late, no hold).
SCENARIOS: dict[str, dict[str, Any]] = {
    "duplicates and a dual-SIM phone": {"apps": [(0,), (0,), (1,), (1, 2), (2,), (3,)]},
    "a loser's IMEI frees the next": {"registered": [0], "apps": [(0, 1), (1, 2), (2,)]},
    "a chain of dual-SIM phones": {"apps": [(0, 1), (1, 2), (2,), (3, 0)]},
    "a later application's hold": {"apps": [(0,), (0,), (1,)], "holds": [1]},
    "an earlier application's hold": {"apps": [(0,), (0,), (1,)], "holds": [0]},
    "blacklisted": {"blacklisted": [1], "apps": [(1,), (1, 2), (2,), (0,)]},
}


def set_up(db: Database, imeis: list[str], scenario: dict[str, Any], fin: str) -> list[int]:
    now = utcnow()
    with db.transaction() as session:
        for n in scenario.get("blacklisted", []):
            session.add(BlacklistedImei(imei_norm=imeis[n][:14], reason="stolen"))
        earlier = [
            create_paid_application(session, imeis=(imeis[n],), fin=f"{fin}999").id
            for n in scenario.get("registered", [])
        ]
    for application_id in earlier:
        with db.transaction() as session:
            register_application(session, application_id=application_id, now=now)
    with db.transaction() as session:
        apps = [
            create_paid_application(
                session, imeis=tuple(imeis[n] for n in indexes), fin=f"{fin}{k:03d}"
            )
            for k, indexes in enumerate(scenario["apps"])
        ]
        ids = [a.id for a in apps]
    with db.transaction() as session:
        for k in scenario.get("holds", []):
            held = get_application(session, ids[k])
            assert not hold_imeis(session, application=held, until=None, now=now)
    return ids


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_batch_ends_as_one_by_one_would(db: Database, demo_imeis, name: str) -> None:
    scenario = SCENARIOS[name]
    alone = set_up(db, demo_imeis[0:4], scenario, "A")
    together = set_up(db, demo_imeis[4:8], scenario, "B")
    for application_id in alone:
        with db.transaction() as session:
            register_application(session, application_id=application_id, now=utcnow())
    decide_together(db, together)
    one_by_one = outcomes(db, alone)
    assert outcomes(db, together) == one_by_one
    assert {status for status, *_ in one_by_one} <= {"registered", "rejected"}
    for status, _reason, refunds, sms in one_by_one:
        assert (refunds, sms) == ((1 if status == "rejected" else 0), 1)
    assert set(active_imeis(db).values()) == {1}, "one registration per IMEI"


def test_one_by_one_outcomes_are_the_expected_ones(db: Database, demo_imeis) -> None:
    """The yardstick of the test above, spelt out for the cases it decides."""
    scenario = SCENARIOS["a loser's IMEI frees the next"]
    ids = set_up(db, demo_imeis[0:4], scenario, "A")
    assert decide_together(db, ids) == 2, "the second waits for the first's lost race"
    assert [o[:2] for o in outcomes(db, ids)] == [
        ("rejected", "imei_registered_to_other"),
        ("registered", None),
        ("rejected", "imei_registered_to_other"),
    ]
    _empty(db)
    ids = set_up(db, demo_imeis[0:4], SCENARIOS["a later application's hold"], "A")
    decide_together(db, ids)
    assert [o[:2] for o in outcomes(db, ids)] == [
        ("rejected", "imei_taken_while_unpaid"),
        ("registered", None),
        ("registered", None),
    ]


def _empty(db: Database) -> None:
    from conftest import _empty_tables

    _empty_tables(db)


@pytest.fixture
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


REGISTRY_TABLES = re.compile(
    r"\b(registrations|registration_imeis|imei_holds|blacklisted_imeis|applications|"
    r"application_imeis|payments)\b"
)


@pytest.mark.parametrize("size", [4, 9])
def test_a_batch_costs_the_same_statements_whatever_its_size(
    db: Database, demo_imeis, statements: list[str], size: int
) -> None:
    """The registry's own statements (applications, IMEIs, payments, blacklist, holds,
    registrations) are a fixed handful per batch; only the events' handlers (SMS, refund,
    EIR) write per application."""
    with db.transaction() as session:
        ids = [
            create_paid_application(session, imeis=(demo_imeis[n],), fin=f"FIN{n:04d}").id
            for n in range(size)
        ]
    statements.clear()
    assert decide_together(db, ids) == 1
    registry = [s for s in statements if REGISTRY_TABLES.search(s) and "eir_" not in s]
    # load (3), blacklist, holds, registrations, their IMEIs, statuses, holds released
    assert len(registry) == 9, registry
    assert outcomes(db, ids) == [("registered", None, 0, 1)] * size
