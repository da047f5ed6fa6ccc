"""IMEI holds: a check holds nothing; paying holds the IMEIs for the payment session only;
checking again never lengthens a hold; one FİN has few unpaid applications at once."""

from __future__ import annotations

import re

from sqlalchemy import select

from mcqs.applications.models import ImeiHold
from mcqs.db import Database
from mcqs_simulators.population.citizens import CITIZENS

from conftest import at_the_same_moment, error_code_of


def live_holds(db: Database) -> list[ImeiHold]:
    with db.transaction() as session:
        return list(session.scalars(select(ImeiHold).where(ImeiHold.released_at.is_(None))))


def test_a_check_alone_holds_nothing(flow, catalogue: Database, demo_imeis) -> None:
    first, other = CITIZENS[0], CITIZENS[1]
    assert (
        flow.check(id_card=first.id_card, fin=first.fin, imeis=(demo_imeis[0],)).status_code == 303
    )
    assert live_holds(catalogue) == []
    answer = flow.check(id_card=other.id_card, fin=other.fin, imeis=(demo_imeis[0],))
    assert answer.status_code == 303, "an unpaid check keeps nobody else out"


def test_checking_again_never_lengthens_a_hold(flow, catalogue: Database, demo_imeis) -> None:
    """The attack in issue 5: one identity re-checking an IMEI to keep it held."""
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    first = flow.confirm()
    assert first.status_code == 303
    [hold] = live_holds(catalogue)
    assert hold.held_until is not None
    # The same person checks the same IMEI again: refused, the hold is as it was, and the
    # message names the moment it ends.
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert error_code_of(again.text, "imei_1") == "imei_in_pending_application"
    from mcqs.localtime import format_baku_by_minute_after

    assert format_baku_by_minute_after(hold.held_until) in again.text
    # Pressing "Təsdiqlə və ödəniş et" again reuses the open session, also no longer.
    second = flow.confirm()
    assert second.headers["location"] == first.headers["location"]
    assert [(h.id, h.held_until) for h in live_holds(catalogue)] == [(hold.id, hold.held_until)]


def test_one_fin_has_few_unpaid_applications_at_once(
    flow, catalogue: Database, demo_imeis, app_settings
) -> None:
    citizen = CITIZENS[0]
    limit = app_settings.open_applications_per_fin
    for imei in demo_imeis[:limit]:
        answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(imei,))
        assert answer.status_code == 303
    refused = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[limit],))
    assert refused.status_code == 409
    found = re.search(r'class="alert" data-error="([a-z_]+)"', refused.text)
    assert found and found.group(1) == "too_many_open_applications"
    # Checking one of the same IMEIs again replaces that application: not a new one.
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert again.status_code == 303


def _check(services, catalogue: Database, citizen_index: int, imei: str, now):
    from mcqs.applications.service import CheckInput, confirm_person, create_application

    citizen = CITIZENS[citizen_index]
    data = CheckInput(id_card=citizen.id_card, fin=citizen.fin, imeis=(imei,))
    checked = confirm_person(services.population, data)
    with catalogue.transaction() as session:
        return create_application(
            session, checked=checked, channel="online_anonymous", max_open_per_fin=3, now=now
        ).id


def test_one_person_cannot_chain_payment_sessions_to_keep_an_imei(
    catalogue: Database, services, app_settings, demo_imeis, run_worker
) -> None:
    """The renewal found when issue 5 was replayed: at each hold's end, press pay again
    (or check again and press pay). A FİN holds one IMEI unpaid at most
    MCQS_HOLD_MINUTES_PER_IMEI_PER_DAY a day; then the IMEI is free for others."""
    import datetime as dt

    import pytest

    from mcqs.errors import Conflict
    from mcqs.payments.service import start_payment

    start = dt.datetime.now(dt.UTC)

    def pay(application_id: int, minutes: int) -> None:
        start_payment(
            catalogue, goldenpay=services.goldenpay, settings=app_settings,
            application_id=application_id, phone="0501234567", card_type="v", lang="lv",
            now=lambda: start + dt.timedelta(minutes=minutes),
        )  # fmt: skip

    first = _check(services, catalogue, 0, demo_imeis[0], start)
    pay(first, 0)  # held 20 minutes (the session and GoldenPay's margin)
    run_worker(now=start + dt.timedelta(minutes=21))  # expired unpaid: released
    pay(first, 21)  # a second session: 40 minutes used of 45
    run_worker(now=start + dt.timedelta(minutes=42))
    second = _check(services, catalogue, 0, demo_imeis[0], start + dt.timedelta(minutes=42))
    with pytest.raises(Conflict) as refused:
        pay(second, 42)
    assert refused.value.code == "imei_hold_allowance_used"
    # Someone else may hold it now.
    other = _check(services, catalogue, 1, demo_imeis[0], start + dt.timedelta(minutes=42))
    pay(other, 42)
    assert [h.application_id for h in live_holds(catalogue)] == [other]


def test_ten_checks_of_one_fin_at_once_open_no_more_than_the_limit(
    catalogue: Database, services, app_settings, demo_imeis
) -> None:
    """Found when issue 5 was replayed on PostgreSQL: simultaneous checks each counted the
    others' applications as not there yet."""
    from mcqs.applications.service import CheckInput, confirm_person, create_application
    from mcqs.db import utcnow
    from mcqs.errors import FormErrors

    citizen = CITIZENS[0]
    checked = [
        confirm_person(
            services.population,
            CheckInput(id_card=citizen.id_card, fin=citizen.fin, imeis=(imei,)),
        )
        for imei in demo_imeis[:8]
    ]

    def check(one) -> str:  # type: ignore[no-untyped-def]
        with catalogue.transaction() as session:
            create_application(
                session, checked=one, channel="online_anonymous",
                max_open_per_fin=app_settings.open_applications_per_fin, now=utcnow(),
            )  # fmt: skip
        return "created"

    outcomes = at_the_same_moment(
        [lambda one=one: check(one) for one in checked], refused=FormErrors
    )
    limit = app_settings.open_applications_per_fin
    assert outcomes.count("created") == limit
    assert outcomes.count("too_many_open_applications") == len(checked) - limit


def test_every_hold_is_taken_with_the_one_statement_built_for_it(
    catalogue: Database, services, app_settings, demo_imeis
) -> None:
    """The statement that takes holds is built once per process and kept: it was once kept
    under the id of a condition built at each call, so the web process kept one more
    statement for every payment, for ever (its memory grew through the receipts' soak)."""
    import datetime as dt

    from mcqs import db as db_module
    from mcqs.payments.service import start_payment

    start = dt.datetime.now(dt.UTC)
    for citizen_index in range(2):
        application_id = _check(
            services, catalogue, citizen_index, demo_imeis[citizen_index], start
        )
        start_payment(
            catalogue, goldenpay=services.goldenpay, settings=app_settings,
            application_id=application_id, phone="0501234567", card_type="v", lang="lv",
            now=lambda: start,
        )  # fmt: skip

    assert len(live_holds(catalogue)) == 2
    dialect = catalogue.engine.dialect.name
    built = [key for key in db_module._insert_statements if key[:2] == (dialect, "imei_holds")]
    assert len(built) == 1
