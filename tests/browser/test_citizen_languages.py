"""The citizen's flow without login in English and Russian, on a 390x844 phone, in a real
browser: check form (a mistake, then right), application form, GoldenPay's page (in the
same language), receipt.

Assertions read codes, statuses and the ``lang`` attribute; the words expected are taken
from the catalogs (``i18n.translations``), never typed here. Screenshots go to
``test-output/screenshots/``, and with ``MCQS_SCREENSHOTS=1`` also to ``docs/screenshots/``
(``10-en-check-form.png`` ...) for the README.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser.test_citizen_flow import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    TIMEOUT_MS,
    _future_expiry,
)

from conftest import FIXED_CODE, System, skip_or_fail, whole_system

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
APPROVED_VISA = "4228 6500 0001 8101"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    database = tmp_path_factory.mktemp("languages") / "mcqs.sqlite3"
    with whole_system(f"sqlite:///{database}") as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        skip_or_fail("Browser test", "Debian's chromium is not installed (apt-get chromium)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        skip_or_fail("Browser test", "playwright is not installed (pip install -e '.[dev]')")
        raise
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("MCQS_SCREENSHOTS") == "1":
        shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)


@pytest.mark.parametrize(("lang", "number"), [("en", 10), ("ru", 11)])
def test_citizen_registers_a_phone_in_another_language(
    system: System, browser: Any, lang: str, number: int
) -> None:
    from playwright.sync_api import expect

    from mcqs import i18n, messages
    from mcqs.devices.demo import example_imeis
    from mcqs_simulators.population.citizens import CITIZENS

    catalog = i18n.translations(i18n.Language(lang))
    _ = catalog.gettext

    citizen = CITIZENS[number - 2]
    with system.db.transaction() as session:
        imei = [row[0] for row in example_imeis(session, count=10) if row[1]][number - 8]
    context = browser.new_context(locale="az-AZ", viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # The home page, switched to the language by its link in the header.
        page.goto(system.url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "az")
        page.locator(f"nav.languages a[lang={lang}]").click()
        expect(page.locator("html")).to_have_attribute("lang", lang)
        heading = _("Mobil cihazların qeydiyyatdan keçirilməsi")
        assert heading != "Mobil cihazların qeydiyyatdan keçirilməsi"
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator(f"nav.languages a[lang={lang}]")).to_have_attribute(
            "aria-current", "true"
        )

        # The check form: a mistyped IMEI is refused, in this language, with its code.
        page.get_by_role("link", name=heading, exact=True).click()
        page.wait_for_url("**/register")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        page.locator("#id_card").fill(citizen.id_card)
        page.locator("#fin").fill(citizen.fin)
        page.locator("#imei_1").fill(imei[:-1] + str((int(imei[-1]) + 1) % 10))
        page.locator("#security_code").fill(FIXED_CODE)
        page.get_by_role("button", name=_("Məlumatları yoxla")).click()
        error = page.locator("#imei_1-error")
        expect(error).to_have_attribute("data-error", "imei_bad_check_digit")
        expect(error).to_have_text(_(messages.AZ["imei_bad_check_digit"]))
        expect(page.locator(".error-summary-title")).to_have_text(_("Xətaları düzəldin"))
        _shot(page, f"{number}-{lang}-check-form")

        # Right this time: the application form.
        page.locator("#imei_1").fill(imei)
        page.locator("#security_code").fill(FIXED_CODE)
        page.get_by_role("button", name=_("Məlumatları yoxla")).click()
        page.wait_for_url("**/application")
        expect(page.locator("h1")).to_have_text(_("Ərizə"))
        expect(page.locator("main")).to_contain_text(citizen.fin)
        page.locator("#phone").fill("050 123 45 67")
        page.locator("#card_type").check()
        _shot(page, f"{number}-{lang}-application-form")
        page.get_by_role("button", name=_("Təsdiqlə və ödəniş et")).click()

        # GoldenPay's card page, opened in the same language.
        page.wait_for_url(re.compile(r"/_sim/goldenpay/web/paypage\?payment_key="))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        page.locator("#card_number").fill(APPROVED_VISA)
        page.locator("#expiry").fill(_future_expiry())
        page.locator("#cvv").fill("123")
        _shot(page, f"{number}-{lang}-goldenpay")
        page.locator("button[name=action][value=pay]").click()

        # The receipt, in the language.
        page.wait_for_url(re.compile(r"/receipts/[0-9A-Z]+$"))
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.locator("h1")).to_have_text(_("Ödəniş qəbzi"))
        status = page.locator("dd[data-status]")
        expect(status).to_have_attribute("data-status", "paid")
        expect(status).to_have_text(_(messages.STATUS_AZ["paid"]))
        expect(page.locator("section.receipt")).to_contain_text("AZN")
        _shot(page, f"{number}-{lang}-receipt")
    finally:
        context.close()
    assert not errors, errors
