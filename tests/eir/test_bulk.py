"""Bulk status: many IMEIs in one request, as JSON or CSV, and the limit."""

from __future__ import annotations

from typing import Any

from eir_support import Api, imei
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.db import Database
from mcqs.eir.service import mark_registered, report_stolen

from conftest import make_settings


def _seed(db: Database, api: Api) -> None:
    with db.transaction() as session:
        mark_registered(session, [imei(1)[:14]], now=api.moment)
        report_stolen(session, imei_norm=imei(2)[:14], source="cli", now=api.moment)


def test_json_and_csv_in_the_order_asked(api: Api, client: Any, catalogue: Database) -> None:
    _seed(catalogue, api)
    peis = [f"imei-{imei(2)}", imei(1), f"imeisv-{imei(1)[:14]}01", imei(3)]
    answer = client.post(
        "/operator-api/v1/equipment-status", json={"peis": peis}, headers=api.headers()
    )
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == [
        "BLACKLISTED",
        "WHITELISTED",
        "WHITELISTED",
        "UNKNOWN",
    ]
    csv = client.post(
        "/operator-api/v1/equipment-status",
        content="pei\n" + "\n".join(peis) + "\n",
        headers={**api.headers(), "Content-Type": "text/csv"},
    )
    assert csv.status_code == 200
    assert csv.text.splitlines()[0] == "pei,status"
    assert csv.text.splitlines()[2] == f"{imei(1)},WHITELISTED"


def test_malformed_entries_and_the_limit(api: Api, client: Any, catalogue: Database) -> None:
    bad = client.post(
        "/operator-api/v1/equipment-status",
        json={"peis": [imei(1), "35332506*", "imei-1"]},
        headers=api.headers(),
    )
    assert bad.status_code == 400
    assert [p["param"] for p in bad.json()["invalidParams"]] == ["/peis/1", "/peis/2"]
    assert (
        client.post(
            "/operator-api/v1/equipment-status", json={"imeis": []}, headers=api.headers()
        ).status_code
        == 400
    )
    settings = make_settings(
        database_url=catalogue.engine.url.render_as_string(hide_password=False), eir_bulk_limit=3
    )
    with TestClient(create_app(settings, db=catalogue)) as small:
        limited = Api(small, api.operator)
        over = small.post(
            "/operator-api/v1/equipment-status",
            json={"peis": [imei(n) for n in range(4)]},
            headers=limited.headers(),
        )
        assert over.status_code == 413
        assert over.headers["content-type"] == "application/problem+json"
        assert over.json()["cause"] == "TOO_MANY_PEIS"
        at_limit = small.post(
            "/operator-api/v1/equipment-status",
            json={"peis": [imei(n) for n in range(3)]},
            headers=limited.headers(),
        )
        assert at_limit.status_code == 200


def test_bulk_needs_a_token(client: Any) -> None:
    answer = client.post("/operator-api/v1/equipment-status", json={"peis": [imei(1)]})
    assert answer.status_code == 401


def test_a_body_over_the_limit_is_refused_before_it_is_read(api: Api, client: Any) -> None:
    answer = client.post(
        "/operator-api/v1/equipment-status",
        content=b"x" * 10,
        headers={**api.headers(), "Content-Length": str(10**12)},
    )
    assert answer.status_code == 413
    assert answer.json()["cause"] == "TOO_MANY_PEIS"


def test_the_all_peis_fast_path_refuses_what_the_slow_one_refuses(
    api: Api, client: Any, catalogue: Database
) -> None:
    """A list of ``imei-`` PEIs is read at once; an entry that hides two PEIs (a newline
    inside) or pads one must still be refused, entry by entry."""
    _seed(catalogue, api)
    pei = f"imei-{imei(1)}"
    only_peis = client.post(
        "/operator-api/v1/equipment-status",
        json={"peis": [pei, f"imei-{imei(2)}", f"imei-{imei(3)}"]},
        headers=api.headers(),
    )
    assert [r["status"] for r in only_peis.json()["results"]] == [
        "WHITELISTED",
        "BLACKLISTED",
        "UNKNOWN",
    ]
    for odd in (f"{pei}\n{pei}", f"{pei}x", f"imei-{imei(1)[:14]}\u0661"):
        answer = client.post(
            "/operator-api/v1/equipment-status",
            json={"peis": [pei, odd, pei]},
            headers=api.headers(),
        )
        assert answer.status_code == 400, odd
        assert [p["param"] for p in answer.json()["invalidParams"]] == ["/peis/1"]
    padded = client.post(
        "/operator-api/v1/equipment-status", json={"peis": [f" {pei} "]}, headers=api.headers()
    )
    assert padded.json()["results"] == [{"pei": f" {pei} ", "status": "WHITELISTED"}]
