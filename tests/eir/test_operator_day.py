"""End to end, over real HTTP: the operator simulator gets a token, checks devices,
uploads a day of activity and downloads lists from the whole system, as `make run` serves it."""

from __future__ import annotations

import datetime as dt

import httpx

from mcqs.devices.demo import demo_blacklisted_imei
from mcqs.eir.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, seed_demo_eir
from mcqs_simulators.operator.app import DEMO_TACS
from mcqs_simulators.operator.client import OperatorClient, run_day, subscribers

from conftest import whole_system


def test_an_operators_day(db_url: str) -> None:
    with whole_system(db_url, eir_snapshot=False) as system, httpx.Client(timeout=30) as http:
        seed_demo_eir(system.db)
        client = OperatorClient(
            system.url, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, http=http
        )
        people = subscribers(5, tacs=DEMO_TACS)
        report = run_day(client, people, day=dt.date.today())
        assert set(report.statuses_before.values()) == {"ERROR_EQUIPMENT_UNKNOWN"}
        assert report.upload["accepted"] == len(report.upload["examples"]) + 5 + sum(
            1 for p in people if int(p.imsi) % 3 == 0
        )
        assert report.upload["grace_started"] == 5
        assert set(report.statuses_after.values()) == {"GREYLISTED"}
        assert report.list_lines == {"blacklist": 1, "notification": 5, "exceptions": 0}
        with system.db.transaction() as session:
            stolen = demo_blacklisted_imei(session)
        assert client.status(stolen) == "BLACKLISTED"
        page = http.post(f"{system.url}/_sim/operator/run-day")
        assert page.status_code == 200
        assert page.json()["upload"]["outcome"] == "imported"
