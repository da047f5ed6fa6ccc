""" "Mənim cihazlarım" and what a signed-in citizen may reach: their own applications,
receipts and devices only (404 for another FİN's, on every route that names one)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from egov.signing_in import sign_in
from sqlalchemy import select

from mcqs.applications.codes import new_notification_code
from mcqs.db import Database
from mcqs.payments.models import Payment
from mcqs.principals import admitted_roles
from mcqs_simulators.population.citizens import CITIZENS

from conftest import api_routes, csrf_token_of
from factories import create_application, create_paid_application

ELVIN, AYNUR = CITIZENS[0], CITIZENS[1]


@pytest.fixture
def records(db: Database, demo_imeis: list[str], run_worker: Any) -> dict[str, str]:
    """Aynur's registered device and her unpaid application; Elvin's registered device,
    his rejected application (the IMEI was Aynur's) with its refund owed, and his unpaid
    application."""
    with db.transaction() as session:
        aynur = create_paid_application(session, imeis=(demo_imeis[0],), fin=AYNUR.fin)
        aynur_key = session.scalars(
            select(Payment.payment_key).where(Payment.application_id == aynur.id)
        ).one()
        aynur_unpaid = create_application(session, imeis=(demo_imeis[3],), fin=AYNUR.fin)
    run_worker()
    with db.transaction() as session:
        registered = create_paid_application(session, imeis=(demo_imeis[1],), fin=ELVIN.fin)
        rejected = create_paid_application(session, imeis=(demo_imeis[0],), fin=ELVIN.fin)
        unpaid = create_application(session, imeis=(demo_imeis[2],), fin=ELVIN.fin)
    run_worker()
    return {
        "aynur": aynur.notification_code,
        "aynur_payment_key": aynur_key or "",
        "aynur_unpaid": aynur_unpaid.notification_code,
        "registered": registered.notification_code,
        "rejected": rejected.notification_code,
        "unpaid": unpaid.notification_code,
    }


def data_errors(page: str) -> list[str]:
    """Every error code the page shows (``data-error``)."""
    return re.findall(r'data-error="([a-z_]+)"', page)


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
    """Signed out: a page that says to sign in, with "Portala giriş" and the path without
    login, not the page of a failed sign-in."""
    answer = client.get("/my-devices")
    assert answer.status_code == 401
    assert 'data-error="sign_in_required"' in answer.text
    assert 'id="egov-sign-in" href="http://testserver/egov/sign-in"' in answer.text
    assert 'id="without-login" href="http://testserver/register"' in answer.text
    assert 'role="alert"' not in answer.text  # nothing failed


def test_another_citizens_unpaid_application_answers_as_a_code_that_does_not_exist(
    client: Any, http: httpx.Client, records: dict[str, str]
) -> None:
    """Whose an application is is checked before anything else is looked at: another FİN's
    unpaid application (no receipt yet) and a well-formed code nobody has answer alike."""
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    nobodys = new_notification_code()
    for path in _by_code_routes(client):
        if path == "/verify/{code}":
            continue  # public and masked, for everyone
        theirs = client.get(path.format(code=records["aynur_unpaid"]), follow_redirects=False)
        unknown = client.get(path.format(code=nobodys), follow_redirects=False)
        assert theirs.status_code == unknown.status_code == 404, path
        assert data_errors(theirs.text) == data_errors(unknown.text), path
    status = client.get(f"/status?code={records['aynur_unpaid']}")
    unknown_status = client.get(f"/status?code={nobodys}")
    assert status.status_code == unknown_status.status_code == 404
    assert data_errors(status.text) == data_errors(unknown_status.text)


def test_an_unpaid_application_made_in_another_browser_can_be_continued(
    client: Any, http: httpx.Client, records: dict[str, str]
) -> None:
    """Elvin's unpaid application was made elsewhere (this browser never saw it): "Mənim
    cihazlarım" links to its form, and he can pay from there."""
    unpaid = records["unpaid"]
    signed_out = client.get(f"/application/{unpaid}", follow_redirects=False)
    assert signed_out.status_code == 401  # a code alone opens nobody's form
    assert data_errors(signed_out.text) == ["sign_in_required"]

    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    page = client.get("/my-devices").text
    link = f'href="http://testserver/application/{unpaid}"'
    assert link in row(page, unpaid)
    for paid in ("registered", "rejected"):
        assert "/application/" not in row(page, records[paid])

    opened = client.get(f"/application/{unpaid}", follow_redirects=False)
    assert opened.status_code == 303
    form = client.get(opened.headers["location"])
    assert form.status_code == 200
    assert f'name="code" value="{unpaid}"' in form.text
    pay = client.post(
        "/application",
        data={
            "code": unpaid,
            "phone": "050 123 45 67",
            "card_type": "v",
            "csrf_token": csrf_token_of(form.text),
        },
        follow_redirects=False,
    )
    assert pay.status_code == 303 and "goldenpay" in pay.headers["location"]


def _by_code_routes(client: Any) -> list[str]:
    """Every citizen GET route that names an application by its notification code (the
    staff's, under /counter, are walked by tests/staff/test_access_rules.py)."""
    return sorted(
        route.path
        for route in api_routes(client.app.routes)
        if "GET" in route.methods and "{code}" in route.path and not admitted_roles(route)
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
        if path == "/application/{code}":
            # "Davam et və ödə" opens the form of one's own application: a paid one's
            # form leads on to its receipt.
            assert own.status_code == 303, path
            followed = client.get(own.headers["location"], follow_redirects=False)
            assert followed.headers["location"].endswith(f"/receipts/{records['registered']}")
        else:
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
