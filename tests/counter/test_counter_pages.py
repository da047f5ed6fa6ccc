"""The counter, supervisor and back-office pages over HTTP, signed in as a browser is:
the counter flow with its printed receipts read back, the abuse cases, the refund flow."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from counter.support import make_point_staff
from egov.signing_in import sign_in as citizen_sign_in
from sqlalchemy import select
from staff.signing_in import Staff, signed_in_client

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.config import Settings
from mcqs.db import Database
from mcqs.payments.models import Refund, RefundStatus

from conftest import csrf_token_of, error_code_of, sms_to

CITIZEN = {"id_card": "AA1234567", "fin": "5ABC1D2", "phone": "050 123 45 67"}
PHONE = "+994501234567"


@pytest.fixture
def browser(app_settings: Settings, catalogue: Database) -> Iterator[Callable[[Staff], Any]]:
    """``browser(staff)``: a client signed in as ``staff`` (closed after the test)."""
    opened: list[Any] = []

    def open_for(staff: Staff) -> Any:
        manager = signed_in_client(app_settings, catalogue, staff)
        client = manager.__enter__()
        opened.append(manager)
        return client

    yield open_for
    for manager in opened:
        manager.__exit__(None, None, None)


def register_at_counter(client: Any, imei: str, **fields: str) -> httpx.Response:
    page = client.get("/counter")
    assert page.status_code == 200, page.text[:500]
    key = re.search(r'name="submission_key" value="([^"]+)"', page.text)
    assert key
    data = {
        **CITIZEN,
        "imei_1": imei,
        "submission_key": key.group(1),
        "csrf_token": csrf_token_of(page.text),
        **fields,
    }
    return client.post("/counter/register", data=data, follow_redirects=False)


def code_of(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text[:2000]
    return answer.headers["location"].rsplit("/", 1)[-1]


def fee_of(page: str) -> str:
    found = re.search(r'data-fee-qepik="(\d+)"', page)
    assert found
    qepik = int(found.group(1))
    return f"{qepik // 100}.{qepik % 100:02d}"


def take(client: Any, code: str, **fields: str) -> httpx.Response:
    page = client.get(f"/counter/applications/{code}")
    assert page.status_code == 200
    data = {"method": "cash", "amount": fee_of(page.text), **fields}
    return client.post(
        f"/counter/applications/{code}/payment",
        data={**data, "csrf_token": csrf_token_of(page.text)},
        follow_redirects=False,
    )


def pdf_text(pdf: bytes, tmp_path: Path, require: Callable[[str, str], None]) -> str:
    if shutil.which("pdftotext") is None:
        require("Counter receipt text checks", "pdftotext (poppler-utils) is not installed")
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True)
    return done.stdout


def page_width_mm(pdf: bytes) -> float:
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)", pdf)
    assert box
    return float(box.group(1)) * 25.4 / 72


@pytest.mark.parametrize("lang", ["az", "en", "ru"])
def test_the_counter_flow_registers_pays_and_prints_both_receipts(
    browser: Callable[[Staff], Any],
    catalogue: Database,
    demo_imeis: list[str],
    run_worker: Callable[..., int],
    tmp_path: Path,
    require: Callable[[str, str], None],
    lang: str,
) -> None:
    staff = make_point_staff(catalogue)
    agent = browser(staff.agent)
    agent.get(f"/counter?lang={lang}")
    home = agent.get("/counter")
    assert home.headers["cache-control"] == "no-store"
    assert f'<html lang="{lang}">' in home.text

    code = code_of(register_at_counter(agent, demo_imeis[0]))
    page = agent.get(f"/counter/applications/{code}")
    assert 'data-status="created"' in page.text and "data-fee-qepik" in page.text
    paid = take(agent, code)
    assert paid.status_code == 303, paid.text[:2000]
    page = agent.get(f"/counter/applications/{code}")
    assert 'data-status="paid"' in page.text and 'data-method="cash"' in page.text

    for layout in ("a4", "thermal"):
        answer = agent.get(f"/counter/applications/{code}/receipt.pdf?layout={layout}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert f"/Lang ({lang})".encode() in answer.content
        text = pdf_text(answer.content, tmp_path, require).replace("\n", " ")
        compact = text.replace("-", "")
        assert code in compact  # the notification code, printed as K7F3-9QDM-…
        assert staff.point.code in text and staff.agent.username in text
        if layout == "thermal":
            assert round(page_width_mm(answer.content)) == 80
        else:
            assert round(page_width_mm(answer.content)) == 210
        again = agent.get(f"/counter/applications/{code}/receipt.pdf?layout={layout}")
        assert again.content == answer.content  # made once, kept

    run_worker()
    with catalogue.reading() as session:
        application = session.scalars(
            select(Application).where(Application.notification_code == code)
        ).one()
    assert application.status == ApplicationStatus.REGISTERED
    assert application.language == lang  # its SMS are in the page's language


def test_counter_errors_are_shown_next_to_their_fields(
    browser: Callable[[Staff], Any], catalogue: Database, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = browser(staff.agent)
    refused = register_at_counter(agent, "490154203237519", phone="12", fin="7HJK3L4")
    assert refused.status_code == 422
    assert error_code_of(refused.text, "imei_1") == "imei_bad_check_digit"
    assert error_code_of(refused.text, "phone") == "phone_not_az_mobile"
    expired = register_at_counter(agent, demo_imeis[0], fin="7HJK3L4", id_card="AA7654321")
    assert error_code_of(expired.text, "id_card") == "id_card_expired"

    code = code_of(register_at_counter(agent, demo_imeis[0]))
    wrong = take(agent, code, amount="1.00")
    assert wrong.status_code == 422
    assert error_code_of(wrong.text, "amount") == "amount_not_fee"
    no_slip = take(agent, code, method="card_terminal")
    assert error_code_of(no_slip.text, "slip_reference") == "slip_reference_required"


def test_the_counter_form_sent_twice_makes_one_application(
    browser: Callable[[Staff], Any], catalogue: Database, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = browser(staff.agent)
    page = agent.get("/counter")
    key = re.search(r'name="submission_key" value="([^"]+)"', page.text)
    assert key
    data = {
        **CITIZEN,
        "imei_1": demo_imeis[0],
        "submission_key": key.group(1),
        "csrf_token": csrf_token_of(page.text),
    }
    first = agent.post("/counter/register", data=data, follow_redirects=False)
    second = agent.post("/counter/register", data=data, follow_redirects=False)
    assert code_of(first) == code_of(second)
    with catalogue.reading() as session:
        assert len(session.scalars(select(Application.id)).all()) == 1


def test_another_points_agent_gets_404_and_an_agent_may_not_cancel(
    browser: Callable[[Staff], Any], catalogue: Database, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent, stranger = browser(staff.agent), browser(staff.other_agent)
    code = code_of(register_at_counter(agent, demo_imeis[0]))
    assert take(agent, code).status_code == 303
    closing = agent.get("/counter")
    agent.post(
        "/counter/day/close",
        data={"csrf_token": csrf_token_of(closing.text)},
        follow_redirects=False,
    )
    day = re.search(r'data-day="([0-9-]+)"', closing.text)
    assert day

    for path in (
        f"/counter/applications/{code}",
        f"/counter/applications/{code}/receipt.pdf",
        f"/counter/applications/{code}/receipt.pdf?layout=thermal",
        f"/counter/day/report.csv?day={day.group(1)}",
        f"/counter/day/report.pdf?day={day.group(1)}",
    ):
        assert agent.get(path).status_code == 200, path
        assert stranger.get(path).status_code == 404, path
    page = stranger.get("/counter")
    paying = stranger.post(
        f"/counter/applications/{code}/payment",
        data={"method": "cash", "amount": "20", "csrf_token": csrf_token_of(page.text)},
    )
    assert paying.status_code == 404

    cancelling = agent.post(
        "/supervisor/cancel",
        data={"code": code, "reason": "typed wrong", "csrf_token": csrf_token_of(page.text)},
    )
    assert cancelling.status_code == 403
    assert agent.get("/supervisor").status_code == 403
    assert agent.get("/back-office/refunds").status_code == 403
    with catalogue.reading() as session:
        assert session.scalars(select(Refund)).all() == []


def test_closing_the_day_twice_is_refused_and_the_report_stays_the_same(
    browser: Callable[[Staff], Any], catalogue: Database, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent, supervisor = browser(staff.agent), browser(staff.supervisor)
    code = code_of(register_at_counter(agent, demo_imeis[0]))
    assert take(agent, code, method="card_terminal", slip_reference="RRN-604512").status_code == 303

    home = agent.get("/counter")
    assert 'data-method="card_terminal" data-count="1"' in home.text
    day = re.search(r'data-day="([0-9-]+)"', home.text)
    assert day
    closed = agent.post(
        "/counter/day/close", data={"csrf_token": csrf_token_of(home.text)}, follow_redirects=False
    )
    assert closed.status_code == 303 and "notice" not in closed.headers["location"]
    csv_first = agent.get(f"/counter/day/report.csv?day={day.group(1)}")
    pdf_first = agent.get(f"/counter/day/report.pdf?day={day.group(1)}")
    assert csv_first.status_code == pdf_first.status_code == 200
    assert code in csv_first.text and "RRN-604512" in csv_first.text
    # No day named: today's (the one just closed).
    assert agent.get("/counter/day/report.csv").content == csv_first.content

    page = supervisor.get("/supervisor")
    again = supervisor.post(
        "/counter/day/close", data={"csrf_token": csrf_token_of(page.text)}, follow_redirects=True
    )
    assert 'data-error="day_already_closed"' in again.text
    assert agent.get(f"/counter/day/report.csv?day={day.group(1)}").content == csv_first.content
    assert agent.get(f"/counter/day/report.pdf?day={day.group(1)}").content == pdf_first.content
    assert f'data-day="{day.group(1)}"' in supervisor.get("/supervisor").text


def test_the_refund_flow_cancel_pay_out_tell_and_show(
    browser: Callable[[Staff], Any],
    client: Any,
    catalogue: Database,
    demo_imeis: list[str],
    run_worker: Callable[..., int],
    http: httpx.Client,
    simulators: str,
) -> None:
    staff = make_point_staff(catalogue)
    agent, supervisor = browser(staff.agent), browser(staff.supervisor)
    back_office = browser(staff.back_office)
    code = code_of(register_at_counter(agent, demo_imeis[0]))
    assert take(agent, code).status_code == 303
    run_worker()
    before = len(sms_to(http, simulators, PHONE))

    page = supervisor.get("/supervisor")
    assert f'data-code="{code}" data-status="registered"' in page.text
    empty = supervisor.post(
        "/supervisor/cancel",
        data={"code": code, "reason": "  ", "csrf_token": csrf_token_of(page.text)},
    )
    assert empty.status_code == 422
    assert error_code_of(empty.text, f"reason-{code}") == "cancel_reason_required"
    cancelled = supervisor.post(
        "/supervisor/cancel",
        data={"code": code, "reason": "Yanlış cihaz", "csrf_token": csrf_token_of(page.text)},
        follow_redirects=False,
    )
    assert cancelled.status_code == 303
    assert f'data-code="{code}" data-status="cancelled"' in supervisor.get("/supervisor").text

    refunds = back_office.get("/back-office/refunds")
    assert refunds.headers["cache-control"] == "no-store"
    row = re.search(
        rf'data-refund-id="(\d+)" data-refund-status="owed" data-code="{code}" '
        r'data-channel="counter" data-reason="cancelled_at_point"',
        refunds.text,
    )
    assert row, refunds.text[:3000]
    refund_id = row.group(1)
    form = {"refund_id": refund_id, "csrf_token": csrf_token_of(refunds.text)}
    blank = back_office.post("/back-office/refunds/paid", data={**form, "reference": ""})
    assert error_code_of(blank.text, f"reference-{refund_id}") == "refund_reference_required"
    paid = back_office.post(
        "/back-office/refunds/paid",
        data={**form, "reference": "KB-2026-0001"},
        follow_redirects=False,
    )
    assert paid.status_code == 303
    twice = back_office.post("/back-office/refunds/paid", data={**form, "reference": "KB-2"})
    assert twice.status_code == 409
    assert error_code_of(twice.text, f"reference-{refund_id}") == "refund_already_paid"
    with catalogue.reading() as session:
        refund = session.get_one(Refund, int(refund_id))
    assert (refund.status, refund.paid_reference) == (RefundStatus.PAID_OUT, "KB-2026-0001")

    run_worker()
    # One SMS for the cancellation, one for the refund paid: marking twice sent nothing.
    assert len(sms_to(http, simulators, PHONE)) == before + 2

    assert citizen_sign_in(client, http, fin=CITIZEN["fin"]).status_code == 303
    mine = client.get("/my-devices")
    assert 'data-refund-status="paid_out"' in mine.text
    assert f'data-paid-at="{refund.paid_at.isoformat()}"' in mine.text  # type: ignore[union-attr]
    # The citizen's own receipt of the counter application: cancelled, the point named.
    receipt = client.get(f"/receipts/{code}")
    assert 'data-status="cancelled"' in receipt.text
    assert f'data-point="{staff.point.code}"' in receipt.text
