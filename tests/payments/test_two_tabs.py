"""A citizen's browser does unexpected things: double clicks, two tabs, two payments."""

from __future__ import annotations

import datetime as dt
import re

import httpx
from sqlalchemy import select

from mcqs.applications.models import Application
from mcqs.db import Database
from mcqs.payments.models import Payment, Refund
from mcqs.payments.service import settle_payment
from mcqs_simulators.population.citizens import CITIZENS

from conftest import csrf_token_of
from factories import create_paid_application


def test_pressing_pay_twice_opens_one_payment_session(flow, demo_imeis, catalogue) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    first = flow.confirm()
    second = flow.confirm()
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    with catalogue.transaction() as session:
        assert len(session.scalars(select(Payment)).all()) == 1


def test_the_form_pays_for_its_own_application_not_the_last_one_checked(
    flow, client, demo_imeis, catalogue: Database
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    tab_a = client.get("/application").text
    code_a = re.search(r'name="code" value="([0-9A-Z]+)"', tab_a)
    assert code_a
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[1],))  # tab B
    paid_from_a = client.post(
        "/application",
        data={
            "code": code_a.group(1),
            "phone": "0501234567",
            "card_type": "v",
            "csrf_token": csrf_token_of(tab_a),
        },
        follow_redirects=False,
    )
    assert paid_from_a.status_code == 303
    with catalogue.transaction() as session:
        payment = session.scalars(select(Payment)).one()
        application = session.get(Application, payment.application_id)
        assert application is not None and application.notification_code == code_a.group(1)


def test_a_form_of_another_browser_is_refused(flow, client, demo_imeis, catalogue) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    code = re.search(r'name="code" value="([0-9A-Z]+)"', client.get("/application").text)
    assert code
    client.cookies.clear()
    token = csrf_token_of(client.get("/register").text)  # the other browser's own session
    answer = client.post(
        "/application",
        data={"code": code.group(1), "phone": "0501234567", "card_type": "v", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("/register")
    with catalogue.transaction() as session:
        assert session.scalars(select(Payment)).all() == []


def test_a_second_payment_for_a_paid_application_is_owed_back(
    catalogue: Database, demo_imeis, services, http: httpx.Client, run_worker
) -> None:
    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        application = create_paid_application(session, imeis=(demo_imeis[0],))
        application_id, fee = application.id, application.fee_qepik
    run_worker()
    key = services.goldenpay.get_payment_key(
        amount_qepik=fee, card_type="v", description="MCQS second tab", lang="lv"
    )
    pay_page = services.goldenpay.pay_page_url(key)
    paid = http.post(
        pay_page,
        data={"card_number": "4228650000018101", "expiry": "12/30", "cvv": "123", "action": "pay"},
    )
    assert paid.status_code in (200, 303)
    with catalogue.transaction() as session:
        session.add(
            Payment(
                application_id=application_id,
                payment_key=key,
                card_type="v",
                amount_qepik=fee,
                status="pending",
                created_at=now,
                expires_at=now + dt.timedelta(minutes=15),
            )
        )
    settle_payment(
        catalogue,
        goldenpay=services.goldenpay,
        settings=services.settings,
        payment_key=key,
        now=lambda: now,
    )
    with catalogue.transaction() as session:
        application = session.get(Application, application_id)
        assert application is not None and application.status == "registered"
        refund = session.scalars(select(Refund)).one()
        assert (refund.reason, refund.amount_qepik) == ("duplicate_payment", fee)


def test_an_expired_application_sends_the_citizen_back_to_start(
    flow, client, demo_imeis, catalogue: Database
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    with catalogue.transaction() as session:
        session.scalars(select(Application)).one().status = "expired"
    page = client.get("/application", follow_redirects=True)
    assert "Ərizənin müddəti bitib" in page.text
    assert "Məlumatları yoxla" in page.text
