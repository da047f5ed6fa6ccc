"""The counter and the refund flows in a real browser, in Azerbaijani, English and Russian:
an agent signs in (password and the authenticator's code), registers a device for the
citizen at the counter, takes cash, prints both receipts (their text read back); the
point's supervisor cancels it with a reason; the back office pays the refund out; the
citizen's SMS and "Mənim cihazlarım" say so. Screenshots for the README on the way."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from browser.steps import DESKTOP, LANGUAGES, PHONE_E164, PHONE_TYPED, branded_imeis, shot
from staff.signing_in import Staff, create_point, create_staff

from mcqs.staff.models import StaffRole

from conftest import (
    POSTGRES_URL,
    System,
    create_postgres_database,
    drop_postgres_database,
    skip_or_fail,
    whole_system,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """The whole system, once on SQLite and once on PostgreSQL: money changes hands here,
    so the flow is driven on the production database too."""
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("counter_flow")
        with whole_system(f"sqlite:///{folder / 'mcqs.sqlite3'}") as running:
            yield running
        return
    if not POSTGRES_URL:
        skip_or_fail("PostgreSQL browser test", "MCQS_TEST_POSTGRES_URL is not set")
    url = create_postgres_database(POSTGRES_URL)
    try:
        with whole_system(url) as running:
            yield running
    finally:
        drop_postgres_database(POSTGRES_URL, url)


def staff_sign_in(page: Any, system: System, staff: Staff, *, lang: str) -> None:
    """The staff sign-in page in ``lang``: the password, then the authenticator's code."""
    page.goto(f"{system.url}/staff/sign-in?lang={lang}")
    page.locator("#username").fill(staff.username)
    page.locator("#password").fill(staff.password)
    page.locator("#staff-continue").click()
    page.locator("#totp_code").fill(pyotp.TOTP(staff.totp_secret).now())
    page.locator("#staff-verify").click()
    page.wait_for_url("**/staff")


def pdf_text(pdf: bytes, tmp_path: Path, name: str) -> str:
    if shutil.which("pdftotext") is None:
        skip_or_fail("Counter receipt text checks", "pdftotext (poppler-utils) is not installed")
    path = tmp_path / name
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True, text=True)
    return done.stdout.replace("\n", " ")


def download(page: Any, href: str) -> bytes:
    """A link's target fetched with the page's own cookies (the signed-in session)."""
    answer = page.context.request.get(href)
    assert answer.status == 200, href
    return bytes(answer.body())


def sms_texts(system: System) -> list[str]:
    answer = httpx.get(
        f"{system.url}/_sim/sms/api/v1/messages",
        params={"to": PHONE_E164},
        headers={"X-Api-Key": "demo-sms-key"},
    )
    assert answer.status_code == 200
    return [message["text"] for message in answer.json()]


def run_worker(system: System) -> None:
    from mcqs.services import Services
    from mcqs.worker import work_once

    services = Services.from_settings(system.settings)
    for _ in range(5):
        if not work_once(system.db, services):
            break


# Azerbaijani on both databases (money changes hands: the production database too), and
# each other language once: a translation does not depend on the database.
FLOWS = [("sqlite", "az"), ("sqlite", "en"), ("postgresql", "az"), ("postgresql", "ru")]
assert sorted({lang for _, lang in FLOWS}) == sorted(LANGUAGES)


@pytest.mark.parametrize(("system", "lang"), FLOWS, indirect=["system"], scope="module")
def test_counter_and_refund_flows_in_a_browser(
    system: System, page_on: Any, tmp_path: Path, lang: str
) -> None:
    from mcqs_simulators.population.citizens import CITIZENS

    index = LANGUAGES.index(lang)
    citizen = CITIZENS[index + 6]
    imei = [row[0] for row in branded_imeis(system, 30)][10 + index]
    point = create_point(
        system.db, code=f"TEST-POST-{lang.upper()}", name="Bakı 12 saylı poçt şöbəsi"
    )
    agent = create_staff(
        system.db, role=StaffRole.COUNTER_AGENT, point=point, username=f"leyla-{lang}"
    )
    supervisor = create_staff(system.db, role=StaffRole.POINT_SUPERVISOR, point=point)
    back_office = create_staff(system.db, role=StaffRole.BACK_OFFICE)
    sms_before = len(sms_texts(system))

    # The agent: sign in, the counter form (a mistake first, shown next to its field).
    page = page_on(DESKTOP)
    staff_sign_in(page, system, agent, lang=lang)
    page.locator("a[href$='/counter']").first.click()
    page.wait_for_url("**/counter")
    page.locator("#id_card").fill(citizen.id_card)
    page.locator("#fin").fill(citizen.fin)
    page.locator("#imei_1").fill(imei[:-1] + str((int(imei[-1]) + 1) % 10))
    page.locator("#phone").fill(PHONE_TYPED)
    page.locator("#counter-form button[type=submit]").click()
    page.locator("#imei_1-error[data-error=imei_bad_check_digit]").wait_for()
    page.locator("#imei_1").fill(imei)
    if lang == "az":
        shot(page, "25-counter-form")
    page.locator("#counter-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/counter/applications/[0-9A-Z]+$"))
    code = page.url.rsplit("/", 1)[-1]
    page.locator("[data-status=created]").wait_for()

    # Cash: a wrong amount refused next to the field, then the fee.
    fee_qepik = int(page.locator("[data-fee-qepik]").get_attribute("data-fee-qepik") or 0)
    page.locator("#method").check()
    page.locator("#amount").fill("1")
    page.locator("#payment-form button[type=submit]").click()
    page.locator("#amount-error[data-error=amount_not_fee]").wait_for()
    page.locator("#amount").fill(f"{fee_qepik // 100}.{fee_qepik % 100:02d}")
    page.locator("#payment-form button[type=submit]").click()
    page.locator("#paid [data-method=cash]").wait_for()
    if lang == "az":
        shot(page, "26-counter-paid")

    # Both receipts, their text read back: the code, the point, the agent.
    for link in ("#receipt-a4", "#receipt-thermal"):
        href = page.locator(link).get_attribute("href")
        assert href
        text = pdf_text(download(page, href), tmp_path, f"{link[1:]}.pdf")
        assert code in text.replace("-", "").replace(" ", "")
        assert point.code in text and agent.username in text
    if lang == "az" and shutil.which("pdftoppm"):
        # The thermal receipt as printed: its PDF drawn to a picture, shown in a page.
        thermal = page.locator("#receipt-thermal").get_attribute("href")
        assert thermal
        pdf_path = tmp_path / "thermal.pdf"
        pdf_path.write_bytes(download(page, thermal))
        subprocess.run(
            ["pdftoppm", "-png", "-r", "110", "-singlefile", str(pdf_path), str(tmp_path / "t")],
            check=True,
        )
        picture = page_on({"width": 360, "height": 900})
        picture.goto((tmp_path / "t.png").as_uri())
        shot(picture, "27-counter-thermal-receipt")

    # The day: totals by method, closed with its cash report.
    page.goto(f"{system.url}/counter")
    page.locator("#totals tr[data-method=cash][data-count='1']").wait_for()
    page.locator("#close-day button").click()
    page.locator("#day-closed").wait_for()
    if lang == "az":
        shot(page, "28-counter-day-closed")
    report = page.locator("#day-closed a").first.get_attribute("href")
    assert report
    assert code in pdf_text(download(page, report), tmp_path, "day.pdf").replace("-", "")

    run_worker(system)  # registered: the first SMS

    # The supervisor cancels it, with a reason.
    boss = page_on(DESKTOP)
    staff_sign_in(boss, system, supervisor, lang=lang)
    boss.goto(f"{system.url}/supervisor")
    row = boss.locator(f"tr[data-code='{code}']")
    row.locator("textarea").fill("Vətəndaş başqa cihaz gətirdi")
    row.locator("button[type=submit]").click()
    boss.locator(f"tr[data-code='{code}'][data-status=cancelled]").wait_for()

    # The back office pays the refund out.
    office = page_on(DESKTOP)
    staff_sign_in(office, system, back_office, lang=lang)
    office.goto(f"{system.url}/back-office/refunds")
    owed = office.locator(f"tr[data-code='{code}'][data-refund-status=owed]")
    owed.locator("input[name=reference]").fill(f"KB-2026-{index:04d}")
    if lang == "az":
        shot(office, "29-back-office-refunds")
    owed.locator("button[type=submit]").click()
    office.locator(f"tr[data-code='{code}'][data-refund-status=paid_out]").wait_for()

    run_worker(system)
    # One SMS each: registered, cancelled (the fee to come back), the refund paid.
    assert len(sms_texts(system)) == sms_before + 3

    # "Mənim cihazlarım": the refund paid, with its date.
    citizen_page = page_on(DESKTOP)
    citizen_page.goto(f"{system.url}/?lang={lang}")
    citizen_page.goto(f"{system.url}/egov/sign-in")
    citizen_page.get_by_label(re.compile(citizen.fin)).check()
    citizen_page.get_by_role("button", name="Daxil ol").click()
    citizen_page.goto(f"{system.url}/my-devices")
    citizen_page.locator("#refunds tr[data-refund-status=paid_out] .refund-paid-at").wait_for()
