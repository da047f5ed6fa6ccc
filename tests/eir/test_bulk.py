"""Bulk status: many IMEIs in one request, as JSON or CSV, and the limit."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from eir_support import Api, imei
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.db import Database
from mcqs.eir.service import mark_registered, report_stolen
from mcqs.eir.status import bulk_numbers

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


def test_the_answers_bytes_are_the_compact_json_and_csv_of_the_results(
    api: Api, client: Any, catalogue: Database
) -> None:
    """The answer is written by joining pieces, not by a JSON or CSV library: byte for byte
    what those libraries write, including an entry that needs escaping or quoting."""
    _seed(catalogue, api)
    peis = [
        f"imei-{imei(2)}",
        f" {imei(1)} ",  # kept as sent: JSON escapes nothing here, CSV needs no quotes
        f"imeisv-{imei(1)[:14]}01",
        imei(3),
        f"imei-{imei(1)}\t",
    ]
    statuses = ["BLACKLISTED", "WHITELISTED", "WHITELISTED", "UNKNOWN", "WHITELISTED"]
    answer = client.post(
        "/operator-api/v1/equipment-status", json={"peis": peis}, headers=api.headers()
    )
    assert answer.headers["content-type"] == "application/json"
    expected = {"results": [{"pei": p, "status": s} for p, s in zip(peis, statuses, strict=True)]}
    assert answer.content == json.dumps(expected, separators=(",", ":")).encode()
    csv_answer = client.post(
        "/operator-api/v1/equipment-status",
        content="\n".join(["pei", *[p.strip() for p in peis]]),
        headers={**api.headers(), "Content-Type": "text/csv"},
    )
    assert csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
    written = io.StringIO()
    writer = csv.writer(written, lineterminator="\n")
    writer.writerow(["pei", "status"])
    writer.writerows((p.strip(), s) for p, s in zip(peis, statuses, strict=True))
    assert csv_answer.text == written.getvalue()
    empty = client.post(
        "/operator-api/v1/equipment-status", json={"peis": []}, headers=api.headers()
    )
    assert empty.content == b'{"results":[]}'


def test_the_all_peis_fast_path_answers_as_the_entry_by_entry_path(
    api: Api, client: Any, catalogue: Database
) -> None:
    """Many ``imei-`` PEIs are read as one matrix; the same IMEIs as bare numbers (one entry
    at a time) get the same statuses, and an entry with a newline inside is refused."""
    _seed(catalogue, api)
    numbers = [imei(n) for n in range(1, 400)]
    fast = client.post(
        "/operator-api/v1/equipment-status",
        json={"peis": [f"imei-{n}" for n in numbers]},
        headers=api.headers(),
    )
    slow = client.post(
        "/operator-api/v1/equipment-status", json={"peis": numbers}, headers=api.headers()
    )
    assert [r["status"] for r in fast.json()["results"]] == [
        r["status"] for r in slow.json()["results"]
    ]
    assert [r["status"] for r in fast.json()["results"]][:2] == ["WHITELISTED", "BLACKLISTED"]
    # Two PEIs in one entry and an empty one: as long as two PEIs, never read as two.
    two_in_one = [f"imei-{imei(1)}\nimei-{imei(2)}", ""]
    assert bulk_numbers(two_in_one) is None
    assert bulk_numbers([f"imei-{imei(1)}", f"imei-{imei(2)}"]).tolist() == [
        int(imei(1)[:14]),
        int(imei(2)[:14]),
    ]
    refused = client.post(
        "/operator-api/v1/equipment-status", json={"peis": two_in_one}, headers=api.headers()
    )
    assert refused.status_code == 400
    assert [p["param"] for p in refused.json()["invalidParams"]] == ["/peis/0", "/peis/1"]


def test_a_body_that_is_not_the_json_object_is_invalid_params(api: Api, client: Any) -> None:
    for body in (b"{", b"[]", b'"peis"', b'{"peis": "imei-1"}', b'{"peis": [1]}', b"\xff"):
        answer = client.post(
            "/operator-api/v1/equipment-status",
            content=body,
            headers={**api.headers(), "Content-Type": "application/json"},
        )
        assert answer.status_code == 400, body
        assert answer.json()["cause"] == "INVALID_MSG_FORMAT"
        assert answer.json()["invalidParams"] == [{"param": "/peis", "reason": "a list of strings"}]
