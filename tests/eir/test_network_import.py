"""The network activity import: real-shaped files, each bad file refused with its own code
and the registry left as it was, the same file twice changing nothing, the ledger."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from eir_support import DAY0, Api, activity, imei
from sqlalchemy import func, select

from mcqs.db import Database
from mcqs.eir.errors import OperatorInputRefused
from mcqs.eir.models import EirImei, FoldedSighting, NetworkSighting, network_activity
from mcqs.eir.network_import import fold_sightings, import_network_file
from mcqs.eir.service import mark_registered
from mcqs.jobs.models import Job, OperatorRun
from mcqs.notifications.models import SmsMessage

from conftest import make_settings

GOOD = activity(
    ("2026-11-01", imei(20), "400011111111111", "994501000001", "4G"),
    ("2026-11-01", imei(20), "400011111111111", "994501000001", "2G"),
    ("2026-11-03", imei(20), "400011111111111", "994501000001", "5G"),
    ("2026-11-02", imei(21), "400011111111112", "994501000002", "3G"),
    ("2026-10-30", imei(21), "400011111111112", "994501000002", "LTE"),
)


def _import(db: Database, content: bytes, **settings: Any) -> Any:
    return import_network_file(
        db,
        operator_code="azercell",
        content=content,
        filename="day.csv",
        settings=make_settings(**settings),
        started_by="test",
        now=DAY0,
    )


def _state(db: Database) -> tuple[int, int, int]:
    with db.transaction() as session:
        return (
            session.scalar(select(func.count()).select_from(NetworkSighting)) or 0,
            session.scalar(select(func.count()).select_from(EirImei)) or 0,
            session.scalar(select(func.count()).select_from(SmsMessage)) or 0,
        )


def _zip(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def azercell(catalogue: Database, operator: object) -> Database:
    """The database, with the operator azercell (IMSIs 40001…)."""
    return catalogue


def test_a_day_is_aggregated_per_triplet_and_month(azercell: Database) -> None:
    report = _import(azercell, GOOD)
    assert (report.read, report.accepted, report.rejected) == (5, 5, {})
    assert (report.triplets, report.imeis, report.grace_started) == (3, 2, 2)
    with azercell.transaction() as session:
        rows = session.execute(
            select(
                NetworkSighting.imei_norm,
                NetworkSighting.month,
                NetworkSighting.first_seen,
                NetworkSighting.last_seen,
                NetworkSighting.rats,
            ).order_by(NetworkSighting.imei_norm, NetworkSighting.month)
        ).all()
        texts = session.scalars(select(SmsMessage.phone).order_by(SmsMessage.phone)).all()
    first = rows[0]
    assert (str(first.first_seen), str(first.last_seen), first.rats) == (
        "2026-11-01",
        "2026-11-03",
        1 | 4 | 8,
    )
    assert [str(r.month) for r in rows[1:]] == ["2026-10-01", "2026-11-01"]
    assert texts == ["+994501000001", "+994501000002"]  # one SMS per number using it


def test_the_same_file_twice_changes_nothing(azercell: Database) -> None:
    _import(azercell, GOOD)
    before = _state(azercell)
    again = _import(azercell, GOOD)
    assert again.outcome == "unchanged"
    assert _state(azercell) == before
    # The same rows in another file (reordered) merge into the same aggregates.
    lines = GOOD.decode().splitlines()
    reordered = ("\n".join([lines[0], *reversed(lines[1:])]) + "\n").encode()
    assert _import(azercell, reordered).outcome == "imported"
    assert _state(azercell) == before
    with azercell.transaction() as session:
        outcomes = session.scalars(
            select(OperatorRun.outcome).where(OperatorRun.kind == "import-network")
        ).all()
    assert outcomes == ["ok", "ok", "ok"]


BAD_FILES: dict[str, bytes] = {
    "network_file_empty": b"",
    "network_file_bad_header": GOOD.replace(b"date,imei", b"day,imei", 1),
    "network_file_bad_delimiter": GOOD.replace(b",", b";"),
    "network_file_truncated": GOOD + b"2026-11-01,3533250600",
    "network_zip_not_one_file": _zip(("a.csv", GOOD), ("b.csv", GOOD)),
}


@pytest.mark.parametrize("code", sorted(BAD_FILES))
def test_each_bad_file_gets_its_own_error_and_changes_nothing(
    azercell: Database, code: str
) -> None:
    before = _state(azercell)
    with pytest.raises(OperatorInputRefused) as refused:
        _import(azercell, BAD_FILES[code])
    assert refused.value.code == code
    assert _state(azercell) == before
    with azercell.transaction() as session:
        run = session.scalars(select(OperatorRun).where(OperatorRun.kind == "import-network")).one()
    assert run.outcome == "failed"
    assert run.detail and run.detail.startswith(code)


def test_header_only_and_an_empty_zip_are_refused(azercell: Database) -> None:
    with pytest.raises(OperatorInputRefused) as header_only:
        _import(azercell, b"date,imei,imsi,msisdn,rat\n")
    assert header_only.value.code == "network_file_empty"
    with pytest.raises(OperatorInputRefused) as empty_zip:
        _import(azercell, _zip())
    assert empty_zip.value.code == "network_zip_not_one_file"
    assert empty_zip.value.params == {"count": 0}


def test_a_zip_holding_one_csv_is_imported(azercell: Database) -> None:
    assert _import(azercell, _zip(("day.csv", GOOD))).accepted == 5


def test_another_operators_file_is_refused(azercell: Database) -> None:
    bakcell_rows = [
        ("2026-11-01", imei(30 + n), f"40002000000{n:04d}", f"99455{n:07d}", "4G")
        for n in range(20)
    ]
    with pytest.raises(OperatorInputRefused) as refused:
        _import(azercell, activity(*bakcell_rows))
    assert refused.value.code == "network_file_other_operators"
    assert _state(azercell) == (0, 0, 0)


def test_malformed_imeis_are_rejected_by_reason_within_the_threshold(azercell: Database) -> None:
    good = [
        ("2026-11-01", imei(100 + n), "400011111111111", "994501000001", "4G") for n in range(95)
    ]
    bad = [
        ("2026-11-01", "3533250600001", "400011111111111", "994501000001", "4G"),  # 13 digits
        ("2026-11-01", "35332506000001234", "400011111111111", "994501000001", "4G"),  # 17
        ("2026-11-01", "35332506A00001", "400011111111111", "994501000001", "4G"),  # hex
        ("2026-11-01", "3533250600*#01", "400011111111111", "994501000001", "4G"),
        ("2026-11-01", "", "400011111111111", "994501000001", "4G"),
    ]
    report = _import(azercell, activity(*good, *bad))
    assert report.rejected == {
        "imei_too_short": 1,
        "imei_too_long": 1,
        "imei_not_digits": 2,
        "imei_empty": 1,
    }
    assert report.examples["imei_too_short"] == [97]
    with pytest.raises(OperatorInputRefused) as refused:
        _import(azercell, activity(*good, *bad, *bad))  # 10 of 105: over 5 %
    assert refused.value.code == "network_file_too_many_rejected"


def test_other_row_faults_are_named(azercell: Database) -> None:
    rows = [
        ("2026-11-01", imei(200 + n), "400011111111111", "994501000001", "4G") for n in range(60)
    ]
    faults = [
        ("2026-13-01", imei(1), "400011111111111", "994501000001", "4G"),
        ("2027-11-01", imei(1), "400011111111111", "994501000001", "4G"),
        ("2026-11-01", imei(1), "31026", "994501000001", "4G"),
        ("2026-11-01", imei(1), "400011111111111", "99450100000A", "4G"),
        ("2026-11-01", imei(1), "400011111111111", "994501000001", "6G"),
    ]
    report = _import(azercell, activity(*rows, *faults), network_max_rejected_share=0.2)
    assert report.rejected == {
        "date_invalid": 1,
        "date_in_future": 1,
        "imsi_invalid": 1,
        "msisdn_invalid": 1,
        "rat_unknown": 1,
    }


def test_upload_through_the_api(api: Api, catalogue: Database) -> None:
    answer = api.upload(GOOD)
    assert answer.status_code == 200, answer.text
    assert answer.json()["grace_started"] == 2
    again = api.upload(GOOD)
    assert again.json()["outcome"] == "unchanged"
    bad = api.upload(BAD_FILES["network_file_bad_delimiter"])
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert bad.json()["cause"] == "NETWORK_FILE_BAD_DELIMITER"


def test_uploads_need_the_operator_scope(api: Api, client: Any) -> None:
    token = api.token(scope="n5g-eir-eic").json()["access_token"]
    answer = client.post(
        "/operator-api/v1/network-activity",
        content=GOOD,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert answer.status_code == 403


def test_the_sms_of_a_first_sighting_is_sent_by_the_worker(
    azercell: Database, run_worker: Callable[..., int]
) -> None:
    """The worker sends the SMS, and folds what the import appended (PostgreSQL)."""
    _import(azercell, GOOD)
    run_worker()
    with azercell.transaction() as session:
        statuses = session.scalars(select(SmsMessage.status)).all()
        appended = session.scalar(select(func.count()).select_from(network_activity))
        folded = session.scalar(select(func.count()).select_from(FoldedSighting))
    assert statuses == ["sent", "sent"]
    assert (appended, folded) == (0, 3)


@pytest.mark.postgres_only
def test_the_same_file_uploaded_twice_at_once_is_merged_once(azercell: Database) -> None:
    from conftest import at_the_same_moment

    def upload() -> str:
        return str(_import(azercell, GOOD).outcome)

    outcomes = at_the_same_moment([upload, upload], refused=OperatorInputRefused)
    assert sorted(outcomes) == ["imported", "unchanged"]
    assert _state(azercell) == (3, 2, 2)  # one SMS per number, not two


@pytest.mark.postgres_only
def test_a_registration_and_an_import_making_one_imei_at_once_both_succeed(
    azercell: Database,
) -> None:
    from mcqs.eir.service import mark_registered

    from conftest import at_the_same_moment

    phones = [imei(900 + n) for n in range(50)]
    rows = [("2026-11-01", p, "400011111111111", "994501000001", "4G") for p in phones]

    def upload() -> str:
        return str(_import(azercell, activity(*rows)).outcome)

    def register() -> str:
        with azercell.transaction() as session:
            mark_registered(session, [p[:14] for p in phones], now=DAY0)
        return "registered"

    outcomes = at_the_same_moment([upload, register], refused=OperatorInputRefused)
    assert sorted(outcomes) == ["imported", "registered"]
    with azercell.transaction() as session:
        registered = session.scalars(select(EirImei.registered)).all()
    assert registered == [True] * 50


def test_an_upload_over_the_size_limit_is_413(api: Api, client: Any) -> None:
    answer = client.post(
        "/operator-api/v1/network-activity",
        content=GOOD,
        headers={**api.headers(), "Content-Type": "text/csv", "Content-Length": str(2**40)},
    )
    assert answer.status_code == 413
    assert answer.json()["cause"] == "UPLOAD_TOO_LARGE"


def test_dates_outside_the_calendar_are_checked_the_long_way(azercell: Database) -> None:
    """PostgreSQL looks valid dates up in a calendar of recent years; a date before it, one
    that does not exist and one in the future are each told apart as Python does (SQLite)."""
    rows = [
        ("2026-11-01", imei(200 + n), "400011111111111", "994501000001", "4G") for n in range(60)
    ]
    odd = [
        ("1999-12-31", imei(1), "400011111111111", "994501000001", "4G"),  # old, but a date
        ("2026-02-29", imei(2), "400011111111111", "994501000001", "4G"),  # not a leap year
        ("2024-02-29", imei(3), "400011111111111", "994501000001", "4G"),  # a leap year
        ("2026-04-31", imei(4), "400011111111111", "994501000001", "4G"),
        ("0000-01-01", imei(5), "400011111111111", "994501000001", "4G"),
        ("2300-01-01", imei(6), "400011111111111", "994501000001", "4G"),
        (" 2026-11-02 ", imei(7), "400011111111111", "+994501000001", "lte"),
    ]
    report = _import(azercell, activity(*rows, *odd), network_max_rejected_share=0.2)
    assert report.rejected == {"date_invalid": 3, "date_in_future": 1}
    assert report.examples == {"date_invalid": [63, 65, 66], "date_in_future": [67]}
    assert report.accepted == 63
    with azercell.transaction() as session:
        months = set(
            session.scalars(
                select(NetworkSighting.month).where(
                    NetworkSighting.imei_norm.in_([imei(n)[:14] for n in (1, 3, 7)])
                )
            )
        )
    assert {str(month) for month in months} == {"1999-12-01", "2024-02-01", "2026-11-01"}


def test_the_ledger_keeps_how_long_each_step_took(azercell: Database) -> None:
    """On PostgreSQL, where the import is set-based, the ledger says where a slow one spent
    its time (the benchmark reports these steps)."""
    _import(azercell, GOOD)
    with azercell.transaction() as session:
        counts = session.scalars(
            select(OperatorRun.counts).where(OperatorRun.kind == "import-network")
        ).one()
    assert counts["accepted"] == 5
    steps = {"check_and_append", "look_up", "detect"}
    postgres = azercell.engine.dialect.name == "postgresql"
    assert set(counts["seconds"]) == (steps if postgres else set())
    assert all(seconds >= 0 for seconds in counts["seconds"].values())


def test_a_later_file_widens_the_triplet_months_already_known(azercell: Database) -> None:
    """Known triplet-months take the earlier first day, the later last day and both RATs;
    new ones are added; a file that changes nothing known leaves those rows as they were."""
    sim = ("400011111111111", "994501000001")
    _import(azercell, activity(("2026-10-20", imei(20), *sim, "4G")))
    second = _import(
        azercell,
        activity(
            ("2026-10-18", imei(20), *sim, "2G"),
            ("2026-10-25", imei(20), *sim, "4G"),
            ("2026-10-22", imei(22), *sim, "3G"),
        ),
    )
    assert second.triplets == 2
    _import(azercell, activity(("2026-10-21", imei(20), *sim, "2G")))
    with azercell.transaction() as session:
        rows = session.execute(
            select(
                NetworkSighting.imei_norm,
                NetworkSighting.first_seen,
                NetworkSighting.last_seen,
                NetworkSighting.rats,
            ).order_by(NetworkSighting.imei_norm)
        ).all()
    assert [(r[0], str(r[1]), str(r[2]), r[3]) for r in rows] == [
        (imei(20)[:14], "2026-10-18", "2026-10-25", 1 | 4),
        (imei(22)[:14], "2026-10-22", "2026-10-22", 2),
    ]


def _sightings(db: Database) -> list[tuple[str, str, str, str, str, str, int]]:
    with db.transaction() as session:
        rows = session.execute(
            select(
                NetworkSighting.imei_norm,
                NetworkSighting.imsi,
                NetworkSighting.msisdn,
                NetworkSighting.month,
                NetworkSighting.first_seen,
                NetworkSighting.last_seen,
                NetworkSighting.rats,
            )
        ).all()
    return sorted((r[0], r[1], r[2], str(r[3]), str(r[4]), str(r[5]), r[6]) for r in rows)


def test_appended_rows_read_as_sightings_before_and_after_they_are_folded(
    azercell: Database,
) -> None:
    """PostgreSQL's import appends; the view shows the appended rows with the folded ones
    per triplet and month at once, and folding (the queued job) changes nothing it shows."""
    sim = ("400011111111111", "0501000001")  # a national MSISDN: its 0 is kept
    _import(azercell, activity(("2026-10-20", imei(20), *sim, "4G")))
    with azercell.transaction() as session:
        assert fold_sightings(session) in (0, 1)  # SQLite merged at once: nothing to fold
    _import(
        azercell,
        activity(
            ("2026-10-18", imei(20), *sim, "2G"),
            ("2026-10-25", imei(20), *sim, "4G"),
            ("2026-11-02", imei(20), *sim, "5G"),
            ("2026-10-22", imei(22), "400010000000099", "+994501000002", "3G"),
        ),
    )
    expected = [
        (imei(20)[:14], *sim, "2026-10-01", "2026-10-18", "2026-10-25", 1 | 4),
        (imei(20)[:14], *sim, "2026-11-01", "2026-11-02", "2026-11-02", 8),
        (
            imei(22)[:14],
            "400010000000099",
            "994501000002",
            "2026-10-01",
            "2026-10-22",
            "2026-10-22",
            2,
        ),
    ]
    assert _sightings(azercell) == expected
    postgres = azercell.engine.dialect.name == "postgresql"
    with azercell.transaction() as session:
        appended = session.scalar(select(func.count()).select_from(network_activity))
        jobs = session.scalars(select(Job.task).where(Job.task == "eir.fold_sightings")).all()
    assert (appended, len(jobs)) == ((4, 2) if postgres else (0, 0))
    with azercell.transaction() as session:
        assert fold_sightings(session) == (4 if postgres else 0)
    assert _sightings(azercell) == expected
    with azercell.transaction() as session:
        assert session.scalar(select(func.count()).select_from(network_activity)) == 0
        assert session.scalar(select(func.count()).select_from(FoldedSighting)) == 3


def test_an_import_writes_nothing_for_imeis_it_need_not_tell(azercell: Database) -> None:
    """Registered or already seen IMEIs are only looked up: their rows stay as they were;
    an unregistered one seen for the first time starts its grace period."""
    registered, graced, new = imei(30)[:14], imei(31)[:14], imei(32)[:14]
    with azercell.transaction() as session:
        mark_registered(session, [registered], now=DAY0 - dt.timedelta(days=5))
    _import(azercell, activity(("2026-11-01", imei(31), "400011111111111", "994501000001", "4G")))
    with azercell.transaction() as session:
        before = {
            row.imei_norm: (row.updated_at, row.first_seen_at, row.grace_until)
            for row in session.scalars(select(EirImei))
        }
    later = DAY0 + dt.timedelta(days=1)
    report = import_network_file(
        azercell,
        operator_code="azercell",
        content=activity(
            *(
                ("2026-11-02", imei(n), "400011111111111", "994501000001", "4G")
                for n in (30, 31, 32)
            )
        ),
        filename="day2.csv",
        settings=make_settings(),
        started_by="test",
        now=later,
    )
    assert (report.imeis, report.grace_started) == (3, 1)
    with azercell.transaction() as session:
        after = {
            row.imei_norm: (row.updated_at, row.first_seen_at, row.grace_until)
            for row in session.scalars(select(EirImei))
        }
    assert after[registered] == before[registered] and after[registered][1] is None
    assert after[graced] == before[graced]
    assert after[new][1] == later and after[new][2] == later + dt.timedelta(days=30)
