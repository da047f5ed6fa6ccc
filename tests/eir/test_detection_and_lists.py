"""Detection runs (grace expiry, clones, the safety share) and the operators' lists
(numbered runs, deterministic, deltas computed again between any two runs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from eir_support import DAY0, Api, activity, imei, make_operator
from sqlalchemy import select

from mcqs.db import Database
from mcqs.eir.detection import run_detection
from mcqs.eir.errors import OperatorInputRefused
from mcqs.eir.lists import delta_csv, full_csv, generate_lists
from mcqs.eir.models import EirImei, EirPairing, ListKind
from mcqs.eir.network_import import import_network_file
from mcqs.eir.operators import operator_by_code
from mcqs.eir.service import report_stolen
from mcqs.jobs.models import OperatorRun
from mcqs.notifications.models import SmsMessage

from conftest import make_settings


def _import(db: Database, *rows: tuple[str, str, str, str, str], now: dt.datetime = DAY0) -> None:
    import_network_file(
        db,
        operator_code="azercell",
        content=activity(*rows),
        filename="day.csv",
        settings=make_settings(),
        started_by="test",
        now=now,
    )


def _detect(db: Database, *, now: dt.datetime, force: bool = False, **settings: Any) -> Any:
    return run_detection(
        db,
        settings=make_settings(**settings),
        started_by="test",
        force_over_safety_share=force,
        now=now,
    )


# An IMEI used by three SIMs at overlapping times: a clone.
CLONE = imei(500)
CLONE_ROWS = [
    ("2026-10-01", CLONE, "400010000000001", "994500000001", "4G"),
    ("2026-10-05", CLONE, "400010000000001", "994500000001", "4G"),
    ("2026-10-02", CLONE, "400010000000002", "994500000002", "4G"),
    ("2026-10-04", CLONE, "400010000000002", "994500000002", "4G"),
    ("2026-10-03", CLONE, "400010000000003", "994500000003", "4G"),
]
# One used by three SIMs one after another: a phone passed on, not a clone.
PASSED_ON = imei(501)
PASSED_ON_ROWS = [
    ("2026-10-01", PASSED_ON, "400010000000011", "994500000011", "4G"),
    ("2026-10-10", PASSED_ON, "400010000000012", "994500000012", "4G"),
    ("2026-10-20", PASSED_ON, "400010000000013", "994500000013", "4G"),
]


@pytest.fixture
def azercell(catalogue: Database, operator: object) -> Database:
    """The database, with the operator azercell (IMSIs 40001…)."""
    return catalogue


def test_grace_expiry_is_blacklisted_by_the_run_with_an_sms(azercell: Database) -> None:
    phones = [imei(600 + n) for n in range(20)]
    _import(azercell, *[("2026-11-01", p, "400011111111111", "994501000001", "4G") for p in phones])
    assert _detect(azercell, now=DAY0 + dt.timedelta(days=29)).grace_expired == 0
    report = _detect(azercell, now=DAY0 + dt.timedelta(days=30), eir_max_blacklist_share=1)
    assert report.grace_expired == 20
    with azercell.transaction() as session:
        row = session.get_one(EirImei, phones[0][:14])
        assert (row.blacklist_reason, row.blacklist_source) == ("grace_expired", "detection")
        assert row.blacklist_run_id == report.run_id
        texts = session.scalars(select(SmsMessage.text)).all()
    assert len(texts) == 40  # the grace notice, then the block notice, per IMEI
    assert _detect(azercell, now=DAY0 + dt.timedelta(days=31)).grace_expired == 0


def test_a_run_over_the_safety_share_is_refused_unless_forced(azercell: Database) -> None:
    phones = [imei(700 + n) for n in range(10)]
    _import(azercell, *[("2026-11-01", p, "400011111111111", "994501000001", "4G") for p in phones])
    later = DAY0 + dt.timedelta(days=31)
    with pytest.raises(OperatorInputRefused) as refused:
        _detect(azercell, now=later, eir_max_blacklist_share=0.5)
    assert refused.value.code == "detection_over_safety_share"
    with azercell.transaction() as session:
        assert session.get_one(EirImei, phones[0][:14]).blacklist_reason is None
        outcomes = session.scalars(
            select(OperatorRun.outcome).where(OperatorRun.kind == "eir-detect")
        ).all()
    assert outcomes == ["failed"]
    assert _detect(azercell, now=later, eir_max_blacklist_share=0.5, force=True).grace_expired == 10


def test_a_clone_is_blacklisted_except_with_its_pairs(azercell: Database, api: Api) -> None:
    _import(azercell, *CLONE_ROWS, *PASSED_ON_ROWS)
    report = _detect(azercell, now=DAY0 + dt.timedelta(days=1), eir_max_blacklist_share=1)
    assert (report.clones, report.pairings) == (1, 3)
    with azercell.transaction() as session:
        pairs = session.scalars(select(EirPairing.imsi).order_by(EirPairing.imsi)).all()
    assert pairs == ["400010000000001", "400010000000002", "400010000000003"]
    api.moment = DAY0 + dt.timedelta(days=1)
    assert api.status_of(CLONE, supi="imsi-400010000000002") == "GREYLISTED"
    assert api.status_of(CLONE, gpsi="msisdn-994500000003") == "GREYLISTED"
    assert api.status_of(CLONE, supi="imsi-400010000000099") == "BLACKLISTED"
    assert api.status_of(CLONE) == "BLACKLISTED"
    assert api.status_of(PASSED_ON, supi="imsi-400010000000099") == "GREYLISTED"


def test_lists_are_deterministic_and_deltas_computed_again(azercell: Database) -> None:
    _import(azercell, *CLONE_ROWS, *PASSED_ON_ROWS)
    _detect(azercell, now=DAY0 + dt.timedelta(days=1), eir_max_blacklist_share=1)
    with azercell.transaction() as session:
        operator = operator_by_code(session, "azercell")
        assert operator is not None
        first = generate_lists(session, operator=operator, now=DAY0 + dt.timedelta(days=1))
        second = generate_lists(session, operator=operator, now=DAY0 + dt.timedelta(days=1))
        assert second.id > first.id
        for kind in ListKind:
            assert full_csv(session, run_id=first.id, kind=kind) == full_csv(
                session, run_id=second.id, kind=kind
            )
        report_stolen(session, imei_norm=imei(800)[:14], source="cli", now=DAY0)
        third = generate_lists(session, operator=operator, now=DAY0 + dt.timedelta(days=40))
        blacklist = full_csv(session, run_id=third.id, kind=ListKind.BLACKLIST)
        delta = delta_csv(session, since_run_id=first.id, run_id=third.id, kind=ListKind.BLACKLIST)
        back = delta_csv(session, since_run_id=third.id, run_id=first.id, kind=ListKind.BLACKLIST)
        exceptions = full_csv(session, run_id=first.id, kind=ListKind.EXCEPTIONS)
        notification = full_csv(session, run_id=first.id, kind=ListKind.NOTIFICATION)
    assert blacklist.splitlines() == [
        "imei_norm,reason",
        f"{CLONE[:14]},clone",
        f"{PASSED_ON[:14]},grace_expired",
        f"{imei(800)[:14]},stolen",
    ]
    assert delta.splitlines() == [
        "change,imei_norm,reason",
        f"add,{PASSED_ON[:14]},grace_expired",
        f"add,{imei(800)[:14]},stolen",
    ]
    assert back.splitlines()[1:] == [
        f"remove,{PASSED_ON[:14]},grace_expired",
        f"remove,{imei(800)[:14]},stolen",
    ]
    assert exceptions.splitlines()[1:] == [
        f"{CLONE[:14]},400010000000001,994500000001",
        f"{CLONE[:14]},400010000000002,994500000002",
        f"{CLONE[:14]},400010000000003,994500000003",
    ]
    assert [line.split(",")[0] for line in notification.splitlines()[1:]] == [PASSED_ON[:14]] * 3
    assert notification.splitlines()[1].endswith(",2026-12-02T09:00:00Z")  # the deadline, UTC


def test_lists_through_the_api(api: Api, client: Any, catalogue: Database) -> None:
    api.upload(activity(*PASSED_ON_ROWS))
    made = client.post("/operator-api/v1/lists", headers=api.headers())
    assert made.status_code == 201
    run = made.json()["run"]
    full = client.get(made.json()["lists"]["notification"], headers=api.headers())
    assert full.status_code == 200
    assert full.headers["content-type"].startswith("text/csv")
    assert len(full.text.splitlines()) == 4
    api.later(days=31)
    later = client.post("/operator-api/v1/lists", headers=api.headers()).json()["run"]
    delta = client.get(
        f"/operator-api/v1/lists/{later}/blacklist.csv",
        params={"since": run},
        headers=api.headers(),
    )
    assert delta.text.splitlines() == [
        "change,imei_norm,reason",
        f"add,{PASSED_ON[:14]},grace_expired",
    ]
    bakcell = make_operator(catalogue, "bakcell", ("40002",))
    other = Api(client, bakcell)
    refused = client.get(f"/operator-api/v1/lists/{run}/blacklist.csv", headers=other.headers())
    assert refused.status_code == 404
    assert refused.json()["cause"] == "LIST_RUN_UNKNOWN"
