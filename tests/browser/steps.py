"""What the browser tests share: the viewports, the test cards, the screenshots, and the
steps of the citizen's flow that every module takes the same way (the check form, the
application form, GoldenPay's card page, the receipt). The fixtures (the live system, the
browser, ``page_on``) are in ``conftest.py`` beside this file."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from pathlib import Path
from typing import Any

from conftest import ARTIFACTS, FIXED_CODE, System

TIMEOUT_MS = 10_000
PHONE = {"width": 390, "height": 844}  # a common phone, in CSS pixels
DESKTOP = {"width": 1280, "height": 800}
LANGUAGES = ["az", "en", "ru"]

SCREENSHOTS = ARTIFACTS / "screenshots"
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# The citizen's phone number as typed on the application form, and as the SMS goes to it.
PHONE_TYPED = "050 123 45 67"
PHONE_E164 = "+994501234567"
# GoldenPay simulator's test cards (docs/simulators/goldenpay.md).
APPROVED_VISA = "4228 6500 0001 8101"
MASKED_APPROVED_VISA = "422865******8101"
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"

PAY_PAGE = re.compile(r"/_sim/goldenpay/web/paypage\?payment_key=")
RECEIPT_PAGE = re.compile(r"/receipts/[0-9A-Z]+$")
EGOV_AUTHORIZE = re.compile(r"/_sim/egov/authorize\?")


def shot(page: Any, name: str, *, full_page: bool = True) -> None:
    """The page as ``test-output/screenshots/<name>.png`` (and in docs/, see ``publish``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    publish(path)


def publish(screenshot: Path) -> None:
    """With ``MCQS_SCREENSHOTS=1``, a copy in ``docs/screenshots/`` (the README shows those)."""
    if os.environ.get("MCQS_SCREENSHOTS") == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOTS / screenshot.name)


def branded_imeis(system: System, count: int) -> list[tuple[str, str, str]]:
    """The demo catalogue's ``count`` example IMEIs whose model has a brand:
    ``(imei, brand, model)``."""
    from mcqs.devices.demo import example_imeis

    with system.db.transaction() as session:
        return [row for row in example_imeis(session, count=count) if row[1]]


def wrong_check_digit(imei: str) -> str:
    """The IMEI mistyped in its last (check) digit."""
    return imei[:-1] + str((int(imei[-1]) + 1) % 10)


def future_expiry() -> str:
    """December, a few years ahead: MM/YY as printed on a card."""
    return f"12/{(dt.date.today().year + 4) % 100:02d}"


def fill_check_form(page: Any, *, citizen: Any, imei: str) -> None:
    """The check form without login: ID card, FİN, one IMEI, the security code."""
    page.locator("#id_card").fill(citizen.id_card)
    page.locator("#fin").fill(citizen.fin)
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)


def fill_card(page: Any, card: str = APPROVED_VISA) -> None:
    """GoldenPay's card page, filled in (not yet sent)."""
    page.locator("#card_number").fill(card)
    page.locator("#expiry").fill(future_expiry())
    page.locator("#cvv").fill("123")


def press_pay(page: Any) -> None:
    page.locator("button[name=action][value=pay]").click()


def receipt_code(page: Any) -> str:
    """Waits for the receipt page; its notification code (as in its address)."""
    page.wait_for_url(RECEIPT_PAGE)
    return str(page.url.rsplit("/", 1)[-1])
