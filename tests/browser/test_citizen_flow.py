"""The citizen's whole flow in a real browser (Debian's Chromium, driven by Playwright).

One server serves the app and the simulators (population registry, GoldenPay, SMS centre)
as ``make run`` does; the worker runs one pass in the test. Every step leaves a full-page
screenshot in ``test-output/screenshots/NN-step-name.png`` for people to look at.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mcqs.applications.codes import format_notification_code
from mcqs.devices.naming import device_name

from conftest import ARTIFACTS, FIXED_CODE, System, whole_system

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS / "screenshots"
TIMEOUT_MS = 10_000

PHONE_TYPED = "050 123 45 67"
PHONE_E164 = "+994501234567"
CARD_TYPED = "4228 6500 0001 8101"  # GoldenPay simulator: approved
MASKED_CARD = "422865******8101"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    """Migrated SQLite, the demo catalogue, and one live server: app plus simulators."""
    with whole_system(f"sqlite:///{tmp_path / 'mcqs.sqlite3'}") as running:
        yield running


def _read_qr(png: bytes) -> str:
    import io

    import zxingcpp
    from PIL import Image

    decoded = [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert len(decoded) == 1, f"one QR code on the receipt, found {decoded}"
    return decoded[0]


def _future_expiry() -> str:
    """December, a few years ahead: MM/YY as printed on a card."""
    return f"12/{(dt.date.today().year + 4) % 100:02d}"


def _wrong_check_digit(imei: str) -> str:
    return imei[:-1] + str((int(imei[-1]) + 1) % 10)


@pytest.mark.browser
def test_citizen_registers_pays_and_gets_registered(
    system: System, require: Callable[[str, str], None]
) -> None:
    if not CHROMIUM.exists():
        require("Browser test", "Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        require("Browser test", "playwright is not installed (pip install -e '.[dev]')")
        raise

    from mcqs.devices.demo import example_imeis
    from mcqs.services import Services
    from mcqs.wiring import connect
    from mcqs.worker import work_once
    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]
    with system.db.transaction() as session:
        imei, brand, model = next(
            (imei, brand, model) for imei, brand, model in example_imeis(session) if brand
        )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    expect.set_options(timeout=TIMEOUT_MS)
    page_errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                accept_downloads=True, locale="az-AZ", viewport={"width": 1280, "height": 800}
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))

            def shot(name: str) -> None:
                page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

            # 01: the home page.
            page.goto(system.url + "/")
            expect(page.locator("h1")).to_have_text("Mobil cihazların qeydiyyatdan keçirilməsi")
            shot("01-home")
            page.get_by_role(
                "link", name="Mobil cihazların qeydiyyatdan keçirilməsi", exact=True
            ).click()
            page.wait_for_url("**/register")

            # 02b: a mistyped IMEI is refused, with the reason next to the IMEI field.
            page.locator("#id_card").fill(citizen.id_card)
            page.locator("#fin").fill(citizen.fin)
            page.locator("#imei_1").fill(_wrong_check_digit(imei))
            page.locator("#security_code").fill(FIXED_CODE)
            page.get_by_role("button", name="Məlumatları yoxla").click()
            imei_error = page.locator("#imei_1-error")
            expect(imei_error).to_be_visible()
            expect(imei_error).to_contain_text("son (yoxlama) rəqəmi uyğun gəlmir")
            expect(page.locator("#imei_1")).to_have_attribute("aria-invalid", "true")
            # What was typed is kept, so only the wrong field needs fixing.
            expect(page.locator("#fin")).to_have_value(citizen.fin)
            shot("02b-check-form-imei-error")

            # 02: the check form, filled in correctly.
            page.locator("#imei_1").fill(imei)
            page.locator("#security_code").fill(FIXED_CODE)
            shot("02-check-form")
            page.get_by_role("button", name="Məlumatları yoxla").click()
            page.wait_for_url("**/application")

            # 03: the application form, filled from the population registry.
            facts = page.locator("main")
            for shown in (
                citizen.fin,
                citizen.surname,
                citizen.name,
                citizen.patronymic,
                citizen.address,
                device_name(brand, model),
                imei,
            ):
                expect(facts).to_contain_text(shown)
            expect(page.locator(".fee")).to_contain_text("AZN")
            page.locator("#phone").fill(PHONE_TYPED)
            page.get_by_label("Visa").check()
            shot("03-application-form")
            page.get_by_role("button", name="Təsdiqlə və ödəniş et").click()
            page.wait_for_url(re.compile(r"/_sim/goldenpay/web/paypage\?payment_key="))

            # 04: GoldenPay's card page.
            expect(page.locator("dl.summary")).to_contain_text("AZN")
            expect(page.locator("dl.summary")).to_contain_text("Visa")
            page.locator("#card_number").fill(CARD_TYPED)
            page.locator("#expiry").fill(_future_expiry())
            page.locator("#cvv").fill("123")
            shot("04-goldenpay")
            page.locator("button[name=action][value=pay]").click()
            page.wait_for_url(re.compile(r"/receipts/[0-9A-Z]+$"))

            # 05: the receipt.
            code = page.url.rsplit("/", 1)[-1]
            shown_code = format_notification_code(code)
            receipt = page.locator("section.receipt")
            expect(page.locator(".success")).to_be_visible()
            expect(receipt.locator("dd.strong")).to_have_text(shown_code)
            for shown in (citizen.fin, citizen.full_name, "Visa", MASKED_CARD, imei, "AZN"):
                expect(receipt).to_contain_text(shown)
            expect(receipt.locator("figure.qr svg")).to_be_visible()
            shot("05-receipt")
            # What a phone's camera would read from the QR code on the screen.
            qr_url = _read_qr(receipt.locator("figure.qr svg").screenshot())

            # 06: the receipt as a PDF.
            with page.expect_download() as download_info:
                page.get_by_role("link", name="Qəbzi PDF kimi yüklə").click()
            download = download_info.value
            assert download.suggested_filename.endswith(".pdf")
            pdf_path = SCREENSHOTS / "receipt.pdf"
            download.save_as(pdf_path)
            assert pdf_path.read_bytes().startswith(b"%PDF")
            _pdf_preview(pdf_path, SCREENSHOTS / "06-receipt-pdf.png", fallback=shot)

            # 07: the page the QR code leads to, in a browser that did not pay: masked.
            stranger = browser.new_context(viewport={"width": 1280, "height": 800})
            try:
                other = stranger.new_page()
                other.on("pageerror", lambda error: page_errors.append(str(error)))
                assert qr_url == f"{system.settings.public_url}/verify/{code}"
                other.goto(qr_url)
                expect(other.get_by_role("status")).to_contain_text("həqiqidir")
                expect(other.locator("main")).to_contain_text(shown_code)
                expect(other.locator("main")).to_contain_text(imei)
                visible = other.locator("main").inner_text()
                assert citizen.fin not in visible
                assert citizen.surname not in visible
                assert citizen.address not in visible
                assert MASKED_CARD not in visible
                assert f"{citizen.fin[:2]}***{citizen.fin[-2:]}" in visible
                other.screenshot(path=str(SCREENSHOTS / "07-verify.png"), full_page=True)
                # The receipt's own address shows a stranger no more than that.
                other.goto(f"{system.url}/receipts/{code}")
                other.wait_for_url(f"**/verify/{code}")
            finally:
                stranger.close()

            # 08: one pass of the worker registers the device; the status page says so.
            connect()
            ran = work_once(system.db, Services.from_settings(system.settings))
            assert ran >= 2, "registration and its SMS"
            page.goto(f"{system.url}/status?code={shown_code}")
            expect(page.get_by_role("status")).to_have_text("Qeydiyyata alınıb")
            shot("08-status-registered")

            # 09: the SMS centre simulator's outbox holds the message.
            page.goto(f"{system.url}/_sim/sms/")
            message = page.locator("tbody tr", has_text=PHONE_E164)
            expect(message).to_have_count(1)
            expect(message).to_contain_text("qeydiyyata alındı")
            expect(message).to_contain_text(shown_code)
            shot("09-sms-outbox")
            context.close()
        finally:
            browser.close()

    assert not page_errors, page_errors


def _pdf_preview(pdf: Path, png: Path, *, fallback: Callable[[str], None]) -> None:
    """The PDF's first page as a picture (poppler's pdftoppm), else the page it came from."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        fallback(png.stem)
        return
    subprocess.run(
        [pdftoppm, "-png", "-r", "100", "-singlefile", str(pdf), str(png.with_suffix(""))],
        check=True,
        timeout=20,
    )
