"""The citizen's flow without login, end to end over HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from mcqs.applications.models import Application
from mcqs.db import Database, utcnow
from mcqs.jobs.heartbeat import record_heartbeat
from mcqs.jobs.models import Job
from mcqs.payments.models import Payment
from mcqs_simulators.population.citizens import CITIZENS

from conftest import sms_to


def test_register_pay_receipt_and_registration(
    flow, client, http, simulators, demo_imeis, run_worker, catalogue: Database
) -> None:
    citizen = CITIZENS[0]
    checked = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert checked.status_code == 303
    form = client.get("/application")
    assert form.status_code == 200
    for shown in (citizen.fin, citizen.surname, citizen.name, citizen.patronymic, citizen.address):
        assert shown in form.text
    assert "Təsdiqlə və ödəniş et" in form.text
    assert "AZN" in form.text

    confirmed = flow.confirm(phone="+994 55 765 43 21")
    assert confirmed.status_code == 303
    assert "/web/paypage?payment_key=" in confirmed.headers["location"]

    back = flow.come_back(flow.pay(confirmed.headers["location"]))
    assert back.status_code == 303
    receipt_url = back.headers["location"]
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200
    assert citizen.fin in receipt.text and citizen.surname in receipt.text
    assert "422865******8101" in receipt.text
    assert demo_imeis[0] in receipt.text
    assert "<svg" in receipt.text  # the QR code

    code = receipt_url.rsplit("/", 1)[-1]
    pdf = client.get(f"/receipts/{code}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    # The registry registers the device, and an SMS goes to the number typed.
    assert run_worker() >= 2
    status = client.get("/status", params={"code": code})
    assert "Qeydiyyata alınıb" in status.text
    messages = sms_to(http, simulators, "+994557654321")
    assert any("qeydiyyata alındı" in m["text"] for m in messages)

    with catalogue.transaction() as session:
        application = session.scalars(select(Application)).one()
        assert application.status == "registered"


def test_verification_page_masks_personal_data(flow, client, http, demo_imeis) -> None:
    code = flow.register_and_pay(imeis=(demo_imeis[1],))
    citizen = CITIZENS[0]
    other_browser = httpx.Client  # noqa: F841 - the check below uses a fresh TestClient cookie jar
    client.cookies.clear()
    verify = client.get(f"/receipts/{code}", follow_redirects=True)
    assert verify.status_code == 200
    assert "həqiqidir" in verify.text
    assert citizen.fin not in verify.text
    assert citizen.surname not in verify.text
    assert citizen.fin[:2] in verify.text


def test_success_url_opened_twice_pays_once(flow, client, demo_imeis, catalogue: Database) -> None:
    citizen = CITIZENS[1]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[2],))
    confirmed = flow.confirm()
    return_url = flow.pay(confirmed.headers["location"])
    first = flow.come_back(return_url)
    second = flow.come_back(return_url)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    with catalogue.transaction() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Payment).where(Payment.status == "paid")
            )
            == 1
        )
        # The second return must not queue a second registration.
        registrations_queued = session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.task == "registrations.register_application")
        )
        assert registrations_queued == 1


def test_success_url_with_a_key_that_is_not_ours(client) -> None:
    answer = client.get("/payments/goldenpay/success", params={"payment_key": "not-ours"})
    assert answer.status_code == 404
    assert "MCQS-ə aid deyil" in answer.text


def test_success_url_before_paying_does_not_mark_paid(
    flow, client, demo_imeis, catalogue: Database
) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[3],))
    confirmed = flow.confirm()
    key = httpx.URL(confirmed.headers["location"]).params["payment_key"]
    answer = client.get("/payments/goldenpay/success", params={"payment_key": key})
    assert answer.status_code == 202
    assert "təsdiqlənməyib" in answer.text
    with catalogue.transaction() as session:
        application = session.scalars(select(Application)).one()
        assert application.status == "awaiting_payment"


def test_declined_card_lets_the_citizen_try_again(flow, client, http, demo_imeis) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[4],))
    confirmed = flow.confirm()
    back = flow.come_back(flow.pay(confirmed.headers["location"], card="4000000000000002"))
    assert back.status_code == 303
    assert "notice=payment_declined" in back.headers["location"]
    form = client.get(back.headers["location"])
    assert 'data-error="payment_declined"' in form.text
    again = flow.confirm()
    assert again.status_code == 303
    paid = flow.come_back(flow.pay(again.headers["location"]))
    assert "/receipts/" in paid.headers["location"]


def test_unknown_page_is_explained_in_azerbaijani(client) -> None:
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert "Belə səhifə yoxdur" in answer.text


def test_pages_are_not_framed_and_leak_no_referrer(client) -> None:
    answer = client.get("/register")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_health(client, catalogue: Database) -> None:
    """With the app's own database and a worker alive, /healthz says ok (tests/test_health.py
    covers each way it can say otherwise)."""
    record_heartbeat(catalogue, "worker-1", started_at=utcnow(), now=utcnow())
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
