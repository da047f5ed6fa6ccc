"""The citizen's flow without login in English and Russian, on a 390x844 phone, in a real
browser: check form (a mistake, then right), application form, GoldenPay's page (in the
same language), receipt.

Assertions read codes, statuses and the ``lang`` attribute; the words expected are taken
from the catalogs (``i18n.translations``), never typed here. Screenshots go to
``test-output/screenshots/``, and with ``MCQS_SCREENSHOTS=1`` also to ``docs/screenshots/``
(``10-en-check-form.png`` ...) for the README.
"""

from __future__ import annotations

from typing import Any

import pytest
from browser.steps import (
    PAY_PAGE,
    PHONE,
    PHONE_TYPED,
    branded_imeis,
    fill_card,
    fill_check_form,
    press_pay,
    receipt_code,
    shot,
    wrong_check_digit,
)

from conftest import FIXED_CODE, System

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("lang", "number"), [("en", 10), ("ru", 11)])
def test_citizen_registers_a_phone_in_another_language(
    system: System, page_on: Any, lang: str, number: int
) -> None:
    from playwright.sync_api import expect

    from mcqs import i18n, messages
    from mcqs_simulators.population.citizens import CITIZENS

    catalog = i18n.translations(i18n.Language(lang))
    _ = catalog.gettext

    citizen = CITIZENS[number - 2]
    imei = branded_imeis(system, 10)[number - 8][0]
    page = page_on(PHONE)

    # The home page, switched to the language by its link in the header.
    page.goto(system.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "az")
    page.locator(f"nav.languages a[lang={lang}]").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    heading = _("Mobil cihazların qeydiyyatdan keçirilməsi")
    assert heading != "Mobil cihazların qeydiyyatdan keçirilməsi"
    expect(page.locator("h1")).to_have_text(heading)
    expect(page.locator(f"nav.languages a[lang={lang}]")).to_have_attribute("aria-current", "true")

    # The check form: a mistyped IMEI is refused, in this language, with its code.
    page.get_by_role("link", name=heading, exact=True).click()
    page.wait_for_url("**/register")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    fill_check_form(page, citizen=citizen, imei=wrong_check_digit(imei))
    page.get_by_role("button", name=_("Məlumatları yoxla")).click()
    error = page.locator("#imei_1-error")
    expect(error).to_have_attribute("data-error", "imei_bad_check_digit")
    expect(error).to_have_text(_(messages.AZ["imei_bad_check_digit"]))
    expect(page.locator(".error-summary-title")).to_have_text(_("Xətaları düzəldin"))
    shot(page, f"{number}-{lang}-check-form")

    # Right this time: the application form.
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)
    page.get_by_role("button", name=_("Məlumatları yoxla")).click()
    page.wait_for_url("**/application")
    expect(page.locator("h1")).to_have_text(_("Ərizə"))
    expect(page.locator("main")).to_contain_text(citizen.fin)
    page.locator("#phone").fill(PHONE_TYPED)
    page.locator("#card_type").check()
    shot(page, f"{number}-{lang}-application-form")
    page.get_by_role("button", name=_("Təsdiqlə və ödəniş et")).click()

    # GoldenPay's card page, opened in the same language.
    page.wait_for_url(PAY_PAGE)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    fill_card(page)
    shot(page, f"{number}-{lang}-goldenpay")
    press_pay(page)

    # The receipt, in the language.
    receipt_code(page)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("h1")).to_have_text(_("Ödəniş qəbzi"))
    status = page.locator("dd[data-status]")
    expect(status).to_have_attribute("data-status", "paid")
    expect(status).to_have_text(_(messages.STATUS_AZ["paid"]))
    expect(page.locator("section.receipt")).to_contain_text("AZN")
    shot(page, f"{number}-{lang}-receipt")
