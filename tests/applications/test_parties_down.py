"""A party we depend on is down: the citizen reads why, and nothing is half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.applications.models import Application, ImeiHold
from mcqs.db import Database
from mcqs.jobs.models import Job
from mcqs.payments.models import Payment
from mcqs_simulators.population.citizens import CITIZENS

from conftest import CitizenFlow, free_port, make_settings

NOBODY = f"http://127.0.0.1:{free_port()}"  # a port nothing listens on


@pytest.fixture
def flow_with(db_url: str, catalogue: Database, simulators: str, http):
    clients: list[TestClient] = []

    def make(**overrides: str) -> CitizenFlow:
        client = TestClient(
            create_app(make_settings(database_url=db_url, **overrides), db=catalogue)
        )
        clients.append(client)
        return CitizenFlow(client, http)

    yield make
    for client in clients:
        client.close()


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_population_registry_down(flow_with, catalogue: Database, demo_imeis) -> None:
    flow = flow_with(population_base_url=f"{NOBODY}/population")
    citizen = CITIZENS[0]
    answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert answer.status_code == 502
    assert "Əhali reyestri hazırda cavab vermir" in answer.text
    assert f'value="{citizen.fin}"' in answer.text  # what was typed is kept
    assert count(catalogue, Application) == 0


def test_goldenpay_down_when_paying(flow_with, catalogue: Database, demo_imeis) -> None:
    flow = flow_with(goldenpay_base_url=f"{NOBODY}/goldenpay")
    citizen = CITIZENS[0]
    assert (
        flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],)).status_code
        == 303
    )
    answer = flow.confirm()
    assert answer.status_code == 502
    assert 'data-error="goldenpay_unavailable"' in answer.text
    with catalogue.transaction() as session:
        # The reservation is on record as failed; nothing is pending, nothing held.
        assert session.scalars(select(Payment.status)).one() == "failed"
        assert session.scalars(select(ImeiHold).where(ImeiHold.released_at.is_(None))).all() == []
    # GoldenPay is back: the citizen presses again and goes to pay.
    back_up = flow_with()
    back_up.client.cookies = flow.client.cookies  # the same browser
    again = back_up.confirm()
    assert again.status_code == 303 and "/web/paypage" in again.headers["location"]


def test_sms_centre_down_does_not_stop_the_registration(
    flow_with, catalogue: Database, demo_imeis, services
) -> None:
    from mcqs.notifications.models import SmsMessage
    from mcqs.services import Services
    from mcqs.wiring import connect
    from mcqs.worker import work_once

    flow = flow_with()
    flow.register_and_pay(imeis=(demo_imeis[0],))
    connect()
    broken = Services.from_settings(make_settings(sms_base_url=f"{NOBODY}/sms"))
    work_once(catalogue, broken)
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "registered"
        # Not known to be delivered: the job tries again, with the same idempotency key.
        assert session.scalars(select(SmsMessage.status)).one() == "sending"
        job = session.scalars(select(Job).where(Job.task == "notifications.send_sms")).one()
        assert (job.status, job.attempts) == ("queued", 1)
