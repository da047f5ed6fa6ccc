"""A party we depend on is down: the citizen reads why, and nothing is half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.applications.models import Application
from mcqs.db import Database
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
    assert "Ödəniş sistemi hazırda cavab vermir" in answer.text
    assert count(catalogue, Payment) == 0
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "created"


def test_sms_centre_down_does_not_stop_the_registration(
    flow_with, catalogue: Database, demo_imeis, services
) -> None:
    from mcqs.notifications.models import SmsMessage
    from mcqs.services import Services
    from mcqs.worker import load_tasks, work_once

    flow = flow_with()
    flow.register_and_pay(imeis=(demo_imeis[0],))
    load_tasks()
    broken = Services.from_settings(make_settings(sms_base_url=f"{NOBODY}/sms"))
    work_once(catalogue, broken)
    with catalogue.transaction() as session:
        assert session.scalars(select(Application.status)).one() == "registered"
        assert session.scalars(select(SmsMessage.status)).one() == "queued"  # retried later
