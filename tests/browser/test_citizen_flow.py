"""The citizen's whole flow in a real browser (Debian's Chromium, driven by Playwright).

One server serves the app and the simulators (population registry, GoldenPay, SMS centre)
as ``make run`` does; the worker runs one pass in the test. Every step leaves a full-page
screenshot in ``test-output/screenshots/NN-step-name.png`` for people to look at.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from browser.steps import (
    DESKTOP,
    MASKED_APPROVED_VISA,
    PAY_PAGE,
    PHONE_E164,
    PHONE_TYPED,
    SCREENSHOTS,
    branded_imeis,
    fill_card,
    fill_check_form,
    press_pay,
    publish,
    receipt_code,
    shot,
    wrong_check_digit,
)

from mcqs.applications.codes import format_notification_code
from mcqs.devices.naming import device_name

from conftest import FIXED_CODE, System


def _read_qr(png: bytes) -> str:
    import io

    import zxingcpp
    from PIL import Image

    decoded = [barcode.text for barcode in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))]
    assert len(decoded) == 1, f"one QR code on the receipt, found {decoded}"
    return decoded[0]


@pytest.mark.browser
def test_citizen_registers_pays_and_gets_registered(system: System, page_on: Any) -> None:
    from playwright.sync_api import expect

    from mcqs.services import Services
    from mcqs.wiring import connect
    from mcqs.worker import work_once
    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]
    imei, brand, model = branded_imeis(system, 10)[0]

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    page = page_on(DESKTOP)

    # 01: the home page.
    page.goto(system.url + "/")
    expect(page.locator("h1")).to_have_text("Mobil cihazların qeydiyyatdan keçirilməsi")
    shot(page, "01-home")
    page.get_by_role("link", name="Mobil cihazların qeydiyyatdan keçirilməsi", exact=True).click()
    page.wait_for_url("**/register")

    # 02b: a mistyped IMEI is refused, with the reason next to the IMEI field.
    fill_check_form(page, citizen=citizen, imei=wrong_check_digit(imei))
    page.get_by_role("button", name="Məlumatları yoxla").click()
    imei_error = page.locator("#imei_1-error")
    expect(imei_error).to_be_visible()
    expect(imei_error).to_contain_text("son (yoxlama) rəqəmi uyğun gəlmir")
    expect(page.locator("#imei_1")).to_have_attribute("aria-invalid", "true")
    # What was typed is kept, so only the wrong field needs fixing.
    expect(page.locator("#fin")).to_have_value(citizen.fin)
    shot(page, "02b-check-form-imei-error")

    # 02: the check form, filled in correctly.
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)
    shot(page, "02-check-form")
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
    shot(page, "03-application-form")
    page.get_by_role("button", name="Təsdiqlə və ödəniş et").click()
    page.wait_for_url(PAY_PAGE)

    # 04: GoldenPay's card page.
    expect(page.locator("dl.summary")).to_contain_text("AZN")
    expect(page.locator("dl.summary")).to_contain_text("Visa")
    fill_card(page)
    shot(page, "04-goldenpay")
    press_pay(page)

    # 05: the receipt.
    code = receipt_code(page)
    shown_code = format_notification_code(code)
    receipt = page.locator("section.receipt")
    expect(page.locator(".success")).to_be_visible()
    expect(receipt.locator("dd.strong")).to_have_text(shown_code)
    for shown in (citizen.fin, citizen.full_name, "Visa", MASKED_APPROVED_VISA, imei, "AZN"):
        expect(receipt).to_contain_text(shown)
    expect(receipt.locator("figure.qr svg")).to_be_visible()
    shot(page, "05-receipt")
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
    _pdf_preview(pdf_path, "06-receipt-pdf", fallback=lambda name: shot(page, name))

    # 07: the page the QR code leads to, in a browser that did not pay: masked.
    other = page_on(DESKTOP, locale=None)
    assert qr_url == f"{system.settings.public_url}/verify/{code}"
    other.goto(qr_url)
    expect(other.get_by_role("status")).to_contain_text("həqiqidir")
    expect(other.locator("main")).to_contain_text(shown_code)
    expect(other.locator("main")).to_contain_text(imei)
    visible = other.locator("main").inner_text()
    assert citizen.fin not in visible
    assert citizen.surname not in visible
    assert citizen.address not in visible
    assert MASKED_APPROVED_VISA not in visible
    assert f"{citizen.fin[:2]}***{citizen.fin[-2:]}" in visible
    shot(other, "07-verify")
    # The receipt's own address shows a stranger no more than that.
    other.goto(f"{system.url}/receipts/{code}")
    other.wait_for_url(f"**/verify/{code}")

    # 08: one pass of the worker registers the device; the status page says so.
    connect()
    ran = work_once(system.db, Services.from_settings(system.settings))
    assert ran >= 2, "registration and its SMS"
    page.goto(f"{system.url}/status?code={shown_code}")
    expect(page.get_by_role("status")).to_have_text("Qeydiyyata alınıb")
    shot(page, "08-status-registered")

    # 09: the SMS centre simulator's outbox holds the message.
    page.goto(f"{system.url}/_sim/sms/")
    message = page.locator("tbody tr", has_text=PHONE_E164)
    expect(message).to_have_count(1)
    expect(message).to_contain_text("qeydiyyata alındı")
    expect(message).to_contain_text(shown_code)
    shot(page, "09-sms-outbox")


def _pdf_preview(pdf: Path, name: str, *, fallback: Callable[[str], None]) -> None:
    """The PDF's first page as a picture (poppler's pdftoppm), else the page it came from."""
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        fallback(name)
        return
    png = SCREENSHOTS / f"{name}.png"
    subprocess.run(
        [pdftoppm, "-png", "-r", "100", "-singlefile", str(pdf), str(png.with_suffix(""))],
        check=True,
        timeout=20,
    )
    publish(png)
