"""Money: the fee of the day the application was made, no card data kept, abandoned
payments expire and a citizen can start again; a payment made late is never lost."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
from sqlalchemy import inspect, select, text

from mcqs.applications.models import Application
from mcqs.applications.service import CheckInput, check_and_create_application
from mcqs.db import Database
from mcqs.payments.models import Payment
from mcqs.payments.service import settle_payment, start_payment
from mcqs_simulators.population.citizens import CITIZENS


def test_amount_charged_is_the_tariff_of_the_day_the_application_was_made(
    catalogue: Database, services, demo_imeis
) -> None:
    citizen = CITIZENS[0]
    # 23:50 in Baku on the last day of the 2018 bands.
    created_on = dt.datetime(2023, 12, 13, 19, 50, tzinfo=dt.UTC)
    with catalogue.transaction() as session:
        application = check_and_create_application(
            session,
            population=services.population,
            data=CheckInput(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],)),
            channel="online_anonymous",
            now=created_on,
        )
        fee_then = application.fee_qepik
        # The citizen pays fifteen minutes later, on the first day of the 2023 bands.
        payment = start_payment(
            session,
            goldenpay=services.goldenpay,
            application_id=application.id,
            phone="0501234567",
            card_type="m",
            lang="lv",
            session_minutes=15,
            now=created_on + dt.timedelta(minutes=15),
        )
        key = payment.payment_key
    from mcqs.devices.service import lookup_device
    from mcqs.fees.service import fee_band

    with catalogue.transaction() as session:
        device = lookup_device(session, tac=demo_imeis[0][:8])
        fee_now = fee_band(session, device=device, on=dt.date(2023, 12, 14)).amount_qepik
    assert fee_then != fee_now, "the chosen device must pay differently under the two tariffs"
    assert payment.amount_qepik == fee_then
    result = services.goldenpay.get_payment_result(key)
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
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=17)
    run_worker(now=later)
    with catalogue.transaction() as session:
        application = session.scalars(select(Application)).one()
        payment = session.scalars(select(Payment)).one()
        assert (application.status, payment.status) == ("expired", "expired")
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert again.status_code == 303


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
    with catalogue.transaction() as session:
        settle_payment(
            session, goldenpay=services.goldenpay, payment_key=key, now=dt.datetime.now(dt.UTC)
        )
    run_worker()
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "registered"


def test_a_payment_goldenpay_does_not_know_expires_and_frees_the_imei(
    catalogue: Database, demo_imeis, run_worker
) -> None:
    """E.g. the GoldenPay simulator restarted: the key is gone, so it was never paid."""
    from mcqs.payments.models import PaymentStatus

    from factories import create_application

    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        application = create_application(
            session, imeis=(demo_imeis[0],), status="awaiting_payment", now=now
        )
        session.add(
            Payment(
                application_id=application.id,
                payment_key="a-key-goldenpay-never-issued",
                card_type="v",
                amount_qepik=application.fee_qepik,
                status=PaymentStatus.PENDING,
                created_at=now,
                expires_at=now + dt.timedelta(minutes=15),
            )
        )
    run_worker(now=now + dt.timedelta(minutes=45))
    with catalogue.transaction() as session:
        assert session.scalars(select(Payment.status)).one() == "expired"
        assert session.scalars(select(Application.status)).one() == "expired"
