"""The signed-in flow in a real browser (Debian's Chromium) at phone width, in Azerbaijani,
English and Russian: "Portala giriş" on the e-gov simulator, the check with only the IMEI,
GoldenPay, the receipt, "Mənim cihazlarım", sign-out at the portal too; and (in
Azerbaijani) the same by keyboard alone.

Screenshots go to ``test-output/screenshots/`` like the other browser tests'; with
``MCQS_SCREENSHOTS=1`` also to ``docs/screenshots/`` (the README shows those)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from browser.steps import (
    APPROVED_VISA,
    EGOV_AUTHORIZE,
    LANGUAGES,
    PAY_PAGE,
    PHONE,
    PHONE_TYPED,
    branded_imeis,
    fill_card,
    future_expiry,
    press_pay,
    receipt_code,
    shot,
)

from conftest import FIXED_CODE, System

pytestmark = pytest.mark.browser


@pytest.fixture
def page(page_on: Callable[..., Any]) -> Any:
    """A fresh session on a phone: each test signs in from nothing."""
    return page_on(PHONE)


def _imeis(system: System, count: int) -> list[str]:
    return [imei for imei, _brand, _model in branded_imeis(system, 30)][:count]


# Screenshot names of each language's run: the Azerbaijani ones keep their numbers.
SHOTS = {
    "az": {"check": "21-signed-in-check", "my_devices": "22-my-devices"},
    "en": {"check": "23-en-signed-in-check", "my_devices": "23-en-my-devices"},
    "ru": {"check": "24-ru-signed-in-check", "my_devices": "24-ru-my-devices"},
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_signed_in_citizen_registers_a_phone_and_finds_it_in_my_devices(
    system: System, page: Any, lang: str
) -> None:
    """The words looked for are the catalog's (``i18n.translations``), never typed here;
    the portal's own page (the simulator's) is in Azerbaijani whatever our language."""
    from playwright.sync_api import expect

    from mcqs import i18n, messages
    from mcqs.applications.codes import format_notification_code
    from mcqs_simulators.population.citizens import CITIZENS

    _ = i18n.translations(i18n.Language(lang)).gettext
    citizen = CITIZENS[3 + LANGUAGES.index(lang)]
    imei = _imeis(system, 5)[2 + LANGUAGES.index(lang)]
    page.goto(system.url + f"/?lang={lang}")  # the choice sticks (a cookie) from here on
    expect(page.locator("html")).to_have_attribute("lang", lang)
    page.locator("#who .sign-in").click()

    # The portal's page: a test citizen and a sign-in means.
    page.wait_for_url(EGOV_AUTHORIZE)
    page.get_by_label(re.compile(citizen.fin)).check()
    page.get_by_label("ASAN İmza").check()
    if lang == "az":
        shot(page, "20-egov-sign-in")
    page.get_by_role("button", name="Daxil ol").click()

    # Back, signed in and still in the chosen language: the name and FİN in the header;
    # only the IMEI and the code to type.
    page.wait_for_url("**/register")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#who .who-name")).to_contain_text(citizen.fin)
    expect(page.locator("#who .who-name")).to_contain_text(citizen.name)
    expect(page.locator("#id_card")).to_have_count(0)
    expect(page.locator("#fin")).to_have_count(0)
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)
    shot(page, SHOTS[lang]["check"])
    page.get_by_role("button", name=_("Məlumatları yoxla")).click()

    # Everything later is as without login.
    page.wait_for_url("**/application")
    expect(page.locator("h1")).to_have_text(_("Ərizə"))
    expect(page.locator("main")).to_contain_text(citizen.surname)
    page.locator("#phone").fill(PHONE_TYPED)
    page.locator("#card_type").check()
    page.get_by_role("button", name=_("Təsdiqlə və ödəniş et")).click()
    page.wait_for_url(PAY_PAGE)
    fill_card(page)
    press_pay(page)
    code = receipt_code(page)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("h1")).to_have_text(_("Ödəniş qəbzi"))
    expect(page.locator("section.receipt")).to_contain_text(citizen.fin)

    # "Mənim cihazlarım": the application, paid, with its receipt again (HTML and PDF).
    page.locator("#who").get_by_role("link", name=_("Mənim cihazlarım")).click()
    page.wait_for_url("**/my-devices")
    expect(page.locator("h1")).to_have_text(_("Mənim cihazlarım"))
    row = page.locator(f'#applications tr[data-code="{code}"]')
    expect(row).to_have_attribute("data-status", "paid")
    expect(row).to_contain_text(format_notification_code(code))
    expect(row).to_contain_text(_(messages.STATUS_AZ["paid"]))
    expect(row).to_contain_text(imei)
    expect(row.locator(f'a[href$="/receipts/{code}"]')).to_have_count(1)
    expect(row.locator(f'a[href$="/receipts/{code}/pdf"]')).to_have_count(1)
    shot(page, SHOTS[lang]["my_devices"])

    # Sign out: here, then at the portal, and back here signed out, in the same language.
    page.locator("#who").get_by_role("button", name=_("Çıxış")).click()
    page.wait_for_url(system.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("#who .sign-in")).to_be_visible()
    expect(page.locator("#who .who-name")).to_have_count(0)
    page.goto(system.url + "/my-devices")
    expect(page.locator("[data-error=sign_in_required]")).to_be_visible()
    expect(page.locator("h1")).to_have_text(_("Cihazlarınızı görmək üçün portala daxil olun"))
    expect(page.locator("#egov-sign-in")).to_have_text(_("Portala giriş"))


def _tab_to(page: Any, target: Any, *, most: int = 80) -> None:
    """Press Tab until ``target`` has the focus (as a keyboard user would)."""
    for _ in range(most):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_the_whole_signed_in_flow_by_keyboard_alone(system: System, page: Any) -> None:
    from playwright.sync_api import expect

    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]  # the portal's first citizen and first means: chosen already
    imei = _imeis(system, 3)[1]
    keyboard = page.keyboard
    page.goto(system.url + "/")

    _tab_to(page, page.locator("#who .sign-in"))
    keyboard.press("Enter")
    page.wait_for_url(EGOV_AUTHORIZE)
    _tab_to(page, page.get_by_role("button", name="Daxil ol"))
    keyboard.press("Enter")

    page.wait_for_url("**/register")
    expect(page.locator("#who .who-name")).to_contain_text(citizen.fin)
    _tab_to(page, page.locator("#imei_1"))
    keyboard.type(imei)
    _tab_to(page, page.locator("#security_code"))
    keyboard.type(FIXED_CODE)
    keyboard.press("Enter")

    page.wait_for_url("**/application")
    _tab_to(page, page.locator("#phone"))
    keyboard.type(PHONE_TYPED)
    _tab_to(page, page.locator("#card_type"))
    keyboard.press("Space")
    expect(page.locator("#card_type")).to_be_checked()
    _tab_to(page, page.get_by_role("button", name="Təsdiqlə və ödəniş et"))
    keyboard.press("Enter")

    page.wait_for_url(PAY_PAGE)
    card = (("#card_number", APPROVED_VISA), ("#expiry", future_expiry()), ("#cvv", "123"))
    for field, value in card:
        _tab_to(page, page.locator(field))
        keyboard.type(value)
    keyboard.press("Enter")
    code = receipt_code(page)

    _tab_to(page, page.locator("#who").get_by_role("link", name="Mənim cihazlarım"))
    keyboard.press("Enter")
    page.wait_for_url("**/my-devices")
    receipt_link = page.locator(f'#applications tr[data-code="{code}"] a[href$="/receipts/{code}"]')
    _tab_to(page, receipt_link)
    keyboard.press("Enter")
    page.wait_for_url(f"**/receipts/{code}")

    _tab_to(page, page.locator("#who").get_by_role("button", name="Çıxış"))
    keyboard.press("Space")
    page.wait_for_url(system.url + "/")
    expect(page.locator("#who .sign-in")).to_be_visible()
