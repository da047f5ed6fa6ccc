"""Money: the fee of the day the application was made, no card data kept, abandoned
payments expire and a citizen can start again; a payment made late is never lost."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
from sqlalchemy import inspect, select, text

from mcqs.applications.models import Application
from mcqs.applications.service import CheckInput, confirm_person, create_application
from mcqs.db import Database
from mcqs.payments.models import Payment
from mcqs.payments.service import settle_payment, start_payment
from mcqs_simulators.population.citizens import CITIZENS


def test_amount_charged_is_the_tariff_of_the_day_the_application_was_made(
    catalogue: Database, services, app_settings, demo_imeis
) -> None:
    citizen = CITIZENS[0]
    # 23:50 in Baku on the last day of the 2018 bands.
    created_on = dt.datetime(2023, 12, 13, 19, 50, tzinfo=dt.UTC)
    checked = confirm_person(
        services.population,
        CheckInput(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],)),
    )
    with catalogue.transaction() as session:
        application = create_application(
            session, checked=checked, channel="online_anonymous", max_open_per_fin=3,
            now=created_on,
        )  # fmt: skip
        application_id, fee_then = application.id, application.fee_qepik
    # The citizen pays fifteen minutes later, on the first day of the 2023 bands.
    opened = start_payment(
        catalogue,
        goldenpay=services.goldenpay,
        settings=app_settings,
        application_id=application_id,
        phone="0501234567",
        card_type="m",
        lang="lv",
        now=lambda: created_on + dt.timedelta(minutes=15),
    )
    from mcqs.devices.service import lookup_device
    from mcqs.fees.service import fee_band

    with catalogue.transaction() as session:
        device = lookup_device(session, tac=demo_imeis[0][:8])
        fee_now = fee_band(session, device=device, on=dt.date(2023, 12, 14)).amount_qepik
        payment = session.get(Payment, opened.payment_id)
        assert payment is not None
    assert fee_then != fee_now, "the chosen device must pay differently under the two tariffs"
    assert payment.amount_qepik == fee_then
    result = services.goldenpay.get_payment_result(opened.payment_key)
    assert result.amount_qepik == fee_then  # what GoldenPay was asked to charge


def test_no_card_number_or_cvv_reaches_our_database_or_logs(
    flow, catalogue: Database, demo_imeis, run_worker, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    confirmed = flow.confirm()
    back = flow.pay(confirmed.headers["location"], card="4228650000018101", cvv="987")
    flow.come_back(back)
    run_worker()
    dump = []
    with catalogue.engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            dump.extend(str(row) for row in rows)
    everything = "\n".join(dump)
    assert "422865******8101" in everything  # the masked number is kept
    assert "4228650000018101" not in everything
    assert "'987'" not in everything and '"987"' not in everything  # no value is the CVV
    assert "cvv" not in everything.lower()
    assert "4228650000018101" not in caplog.text


def test_abandoned_payment_expires_and_the_citizen_can_start_again(
    flow, catalogue: Database, demo_imeis, run_worker
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    flow.confirm()  # goes to GoldenPay, never pays
    start = dt.datetime.now(dt.UTC)
    # Past the session but inside GoldenPay's margin: still pending, still asked about.
    run_worker(now=start + dt.timedelta(minutes=17))
    assert statuses(catalogue) == ("awaiting_payment", "pending")
    # GoldenPay's session is certainly over: the payment has expired, the IMEI is free.
    run_worker(now=start + dt.timedelta(minutes=21))
    assert statuses(catalogue) == ("awaiting_payment", "expired")
    # Past the time to start another payment, the application expires too.
    run_worker(now=start + dt.timedelta(minutes=31))
    assert statuses(catalogue) == ("expired", "expired")
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert again.status_code == 303


def statuses(db: Database) -> tuple[str, str]:
    with db.transaction() as session:
        application = session.scalars(select(Application)).one()
        payment = session.scalars(select(Payment)).one()
        return application.status, payment.status


def test_a_citizen_who_paid_but_never_came_back_is_registered(
    flow, catalogue: Database, demo_imeis, run_worker, http: httpx.Client
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    confirmed = flow.confirm()
    flow.pay(confirmed.headers["location"])  # closes the browser instead of following back
    run_worker(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=17))
    run_worker()
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "registered"


def test_a_payment_settled_after_its_application_expired_still_ends_registered(
    flow, catalogue: Database, demo_imeis, run_worker, services
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    confirmed = flow.confirm()
    flow.pay(confirmed.headers["location"])
    key = httpx.URL(confirmed.headers["location"]).params["payment_key"]
    with catalogue.transaction() as session:
        # As if the sweep had given up on it (e.g. GoldenPay answered late).
        session.scalars(select(Application)).one().status = "expired"
    settle_payment(
        catalogue,
        goldenpay=services.goldenpay,
        settings=services.settings,
        payment_key=key,
        now=lambda: dt.datetime.now(dt.UTC),
    )
    run_worker()
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "registered"


def test_a_payment_goldenpay_does_not_know_expires_and_frees_the_imei(
    catalogue: Database, demo_imeis, run_worker
) -> None:
    """E.g. the GoldenPay simulator restarted: the key is gone, so it was never paid."""
    from factories import create_awaiting_payment

    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        create_awaiting_payment(
            session, imeis=(demo_imeis[0],), payment_key="a-key-goldenpay-never-issued", now=now
        )
    run_worker(now=now + dt.timedelta(minutes=45))
    with catalogue.transaction() as session:
        assert session.scalars(select(Payment.status)).one() == "expired"
        assert session.scalars(select(Application.status)).one() == "expired"
