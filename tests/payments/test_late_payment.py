"""A payment made after our local session ended is never lost (issue 5): the sweep goes on
asking GoldenPay until its own session is certainly over, and a late "paid" ends
registered, or rejected with the fee owed back."""

from __future__ import annotations

import datetime as dt

import httpx
from sqlalchemy import select

from mcqs.applications.models import Application
from mcqs.db import Database
from mcqs.payments.models import Payment, Refund
from mcqs_simulators.population.citizens import CITIZENS

from conftest import CitizenFlow


def status_of(db: Database, notification_code: str | None = None) -> tuple[str, ...]:
    with db.transaction() as session:
        return tuple(session.scalars(select(Application.status).order_by(Application.id)))


def test_paid_after_our_session_ended_is_registered(
    flow: CitizenFlow, catalogue: Database, demo_imeis, run_worker
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    confirmed = flow.confirm()
    # Our clock says the 15 minutes are over; GoldenPay's page is still open.
    run_worker(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16))
    with catalogue.transaction() as session:
        assert session.scalars(select(Payment.status)).one() == "pending"
    back = flow.come_back(flow.pay(confirmed.headers["location"]))
    assert back.status_code == 303 and "/receipts/" in back.headers["location"]
    run_worker()
    assert status_of(catalogue) == ("registered",)


def test_paid_after_goldenpays_session_while_another_took_the_imei_is_refunded(
    flow: CitizenFlow, client, catalogue: Database, demo_imeis, run_worker, http: httpx.Client
) -> None:
    from starlette.testclient import TestClient

    first, other = CITIZENS[0], CITIZENS[1]
    flow.check(id_card=first.id_card, fin=first.fin, imeis=(demo_imeis[0],))
    late = flow.confirm()
    # Past GoldenPay's session and its margin: the payment expired, the IMEI is free.
    run_worker(now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=21))
    with catalogue.transaction() as session:
        assert session.scalars(select(Payment.status)).one() == "expired"
    # Another citizen registers the device meanwhile.
    second_browser = CitizenFlow(TestClient(client.app), http)
    second_browser.register_and_pay(citizen_index=1, imeis=(demo_imeis[0],))
    run_worker()
    assert status_of(catalogue) == ("awaiting_payment", "registered")
    # The first citizen's page was still open after all, and they pay.
    back = flow.come_back(flow.pay(late.headers["location"]))
    assert back.status_code == 303
    run_worker()
    assert status_of(catalogue) == ("rejected", "registered")
    with catalogue.transaction() as session:
        refund = session.scalars(select(Refund)).one()
        first_application = session.scalars(select(Application).order_by(Application.id)).first()
        assert first_application is not None
        assert refund.application_id == first_application.id
        assert (refund.reason, refund.status) == ("imei_registered_to_other", "owed")
    del other
