"""The status snapshot of each serving process (PostgreSQL): a registration, a stolen
report, a first sighting and a grace expiry show in every process's answer within 2 s."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eir_support import DAY0, Api, Client, activity, imei

from mcqs.config import Settings
from mcqs.db import Database
from mcqs.eir.service import mark_registered, report_stolen

from conftest import make_settings

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def serving(
    db_url: str, simulators: str, catalogue: Database, operator: Client
) -> Iterator[list[Api]]:
    """Two serving 'processes': two apps, each with its own snapshot."""
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    settings: Settings = make_settings(database_url=db_url, eir_snapshot=True)
    with (
        TestClient(create_app(settings, db=catalogue)) as one,
        TestClient(create_app(settings, db=catalogue)) as two,
    ):
        apis = [Api(one, operator), Api(two, operator)]
        for api in apis:
            api.status_of(imei(999))  # starts the snapshot
            snapshot = api.client.app.state.operator_api.state.snapshot
            assert snapshot.wait_ready(20)
        yield apis


def within_two_seconds(apis: list[Api], phone: str, expected: str) -> None:
    """Every process answers ``expected``, the single check and the bulk one, at most 2 s
    after the change was committed."""

    def seen() -> list[str]:
        return [api.status_of(phone) for api in apis] + [bulk(api, phone) for api in apis]

    deadline = time.monotonic() + 2
    answers = seen()
    while answers != [expected] * 2 * len(apis) and time.monotonic() < deadline:
        time.sleep(0.02)
        answers = seen()
    assert answers == [expected] * 2 * len(apis)


def bulk(api: Api, phone: str) -> Any:
    answer = api.client.post(
        "/operator-api/v1/equipment-status", json={"peis": [phone]}, headers=api.headers()
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["results"][0]["status"]


def test_changes_reach_every_process_within_two_seconds(
    serving: list[Api], catalogue: Database, database: Database
) -> None:
    phone = imei(21)
    # Served from the snapshot, not from PostgreSQL.
    for api in serving:
        assert api.client.app.state.operator_api.state.snapshot.ready
    serving[0].upload(activity(("2026-11-01", phone, "400011234567801", "994501112201", "4G")))
    within_two_seconds(serving, phone, "GREYLISTED")

    for api in serving:  # grace expiry: derived when asked, no run, no change feed
        api.later(days=30)
    within_two_seconds(serving, phone, "BLACKLISTED")

    with catalogue.transaction() as session:
        mark_registered(session, [phone[:14]], now=DAY0)
    within_two_seconds(serving, phone, "WHITELISTED")

    with catalogue.transaction() as session:
        report_stolen(session, imei_norm=phone[:14], source="back_office", now=DAY0)
    within_two_seconds(serving, phone, "BLACKLISTED")


def test_unknown_and_errors_answer_as_the_route_does(serving: list[Api]) -> None:
    api = serving[0]
    assert api.status_of(imei(22)) == "ERROR_EQUIPMENT_UNKNOWN"
    bad = api.status("imei-12")
    assert bad.status_code == 400
    assert bad.json()["invalidParams"]
    api.later(days=1)  # the old token has expired by then
    stale = api.client.get(
        "/n5g-eir-eic/v1/equipment-status",
        params={"pei": f"imei-{imei(22)}"},
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert stale.status_code == 401


def test_a_lost_feed_falls_back_to_postgresql(
    serving: list[Api], catalogue: Database, run_worker: Callable[..., int]
) -> None:
    api = serving[0]
    snapshot = api.client.app.state.operator_api.state.snapshot
    snapshot.ready = False  # as while the listening connection is down
    phone = imei(23)
    with catalogue.transaction() as session:
        report_stolen(session, imei_norm=phone[:14], source="cli", now=DAY0)
    assert api.status_of(phone) == "BLACKLISTED"
