""" "Mənim cihazlarım" and what a signed-in citizen may reach: their own applications,
receipts and devices only (404 for another FİN's, on every route that names one)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from egov.signing_in import sign_in
from sqlalchemy import select

from mcqs.db import Database
from mcqs.payments.models import Payment
from mcqs_simulators.population.citizens import CITIZENS

from conftest import api_routes, csrf_token_of
from factories import create_application, create_paid_application

ELVIN, AYNUR = CITIZENS[0], CITIZENS[1]


@pytest.fixture
def records(db: Database, demo_imeis: list[str], run_worker: Any) -> dict[str, str]:
    """Aynur's registered device; Elvin's registered device, his rejected application (the
    IMEI was Aynur's) with its refund owed, and his unpaid application."""
    with db.transaction() as session:
        aynur = create_paid_application(session, imeis=(demo_imeis[0],), fin=AYNUR.fin)
        aynur_key = session.scalars(
            select(Payment.payment_key).where(Payment.application_id == aynur.id)
        ).one()
    run_worker()
    with db.transaction() as session:
        registered = create_paid_application(session, imeis=(demo_imeis[1],), fin=ELVIN.fin)
        rejected = create_paid_application(session, imeis=(demo_imeis[0],), fin=ELVIN.fin)
        unpaid = create_application(session, imeis=(demo_imeis[2],), fin=ELVIN.fin)
    run_worker()
    return {
        "aynur": aynur.notification_code,
        "aynur_payment_key": aynur_key or "",
        "registered": registered.notification_code,
        "rejected": rejected.notification_code,
        "unpaid": unpaid.notification_code,
    }


def row(page: str, code: str) -> str:
    found = re.search(rf'<tr data-code="{code}"[^>]*>(.*?)</tr>', page, re.DOTALL)
    assert found, f"a row for {code}"
    return found.group(0)


def test_my_devices_lists_the_citizens_own_records(
    client: Any, http: httpx.Client, records: dict[str, str], demo_imeis: list[str]
) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    page = client.get("/my-devices")
    assert page.status_code == 200
    applications = page.text.split('id="applications"')[1].split('id="refunds"')[0]
    devices = page.text.split('id="devices"')[1].split('id="applications"')[0]
    refunds = page.text.split('id="refunds"')[1]

    assert 'data-status="registered"' in row(applications, records["registered"])
    assert 'data-status="rejected"' in row(applications, records["rejected"])
    assert 'data-status="created"' in row(applications, records["unpaid"])
    for paid in ("registered", "rejected"):  # each receipt again, HTML and PDF
        shown = row(applications, records[paid])
        assert f'href="http://testserver/receipts/{records[paid]}"' in shown
        assert f'href="http://testserver/receipts/{records[paid]}/pdf"' in shown
    assert "/receipts/" not in row(applications, records["unpaid"])

    assert demo_imeis[1] in row(devices, records["registered"])
    assert demo_imeis[0] not in devices  # registered to Aynur, not to him

    assert 'data-refund-status="owed"' in refunds
    # Nothing of Aynur's anywhere on the page.
    assert records["aynur"] not in page.text and AYNUR.surname not in page.text


def test_my_devices_is_for_signed_in_citizens_only(client: Any) -> None:
    answer = client.get("/my-devices")
    assert answer.status_code == 401
    assert 'data-error="sign_in_required"' in answer.text
    assert 'href="http://testserver/egov/sign-in"' in answer.text


def _by_code_routes(client: Any) -> list[str]:
    """Every GET route that names an application by its notification code."""
    return sorted(
        route.path
        for route in api_routes(client.app.routes)
        if "GET" in route.methods and "{code}" in route.path
    )


def test_a_signed_in_citizen_gets_404_for_another_citizens_application(
    client: Any, http: httpx.Client, records: dict[str, str]
) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    routes = _by_code_routes(client)
    assert {"/receipts/{code}", "/receipts/{code}/pdf", "/verify/{code}"} <= set(routes)
    for path in routes:
        theirs = client.get(path.format(code=records["aynur"]), follow_redirects=False)
        own = client.get(path.format(code=records["registered"]), follow_redirects=False)
        assert own.status_code == 200, path
        if path == "/verify/{code}":
            # The paper receipt's public authenticity check: masked, the same for everyone.
            assert theirs.status_code == 200 and AYNUR.fin not in theirs.text
            continue
        assert theirs.status_code == 404, path
        assert 'data-error="notification_code_unknown"' in theirs.text, path
        unknown = client.get(path.format(code="0000000000000"), follow_redirects=False)
        assert unknown.status_code in (404, 422), path  # the same answer as no such code

    status = client.get(f"/status?code={records['aynur']}")
    assert status.status_code == 404 and 'data-error="notification_code_unknown"' in status.text
    assert client.get(f"/status?code={records['registered']}").status_code == 200

    form = client.get("/register")
    pay = client.post(
        "/application",
        data={
            "code": records["aynur"],
            "phone": "050 123 45 67",
            "card_type": "v",
            "csrf_token": csrf_token_of(form.text),
        },
        follow_redirects=False,
    )
    assert pay.status_code in (303, 404)  # never GoldenPay for another's application
    assert "goldenpay" not in pay.headers.get("location", "")

    # GoldenPay's return for another's payment shows only the masked verification page.
    back = client.get(
        f"/payments/goldenpay/success?payment_key={records['aynur_payment_key']}",
        follow_redirects=False,
    )
    assert back.status_code == 303 and "/verify/" in back.headers["location"]


def test_an_anonymous_browser_keeps_the_path_by_code(client: Any, records: dict[str, str]) -> None:
    """Without login, the paper receipt's code still opens the (masked) status and the
    verification page, as before; the full receipt stays with the browser that paid."""
    assert client.get(f"/status?code={records['aynur']}").status_code == 200
    receipt = client.get(f"/receipts/{records['aynur']}", follow_redirects=False)
    assert receipt.status_code == 303 and "/verify/" in receipt.headers["location"]
