"""What the citizen sees when something goes wrong, in a real browser (Debian's Chromium):
Enter on the check form, the error summary on a phone, each GoldenPay outcome, the audio
security code. One live server and one browser for the module.

Assertions read message codes (``data-error``) and statuses, not Azerbaijani sentences.
Screenshots go to ``test-output/screenshots/`` beside those of the whole flow.
"""

from __future__ import annotations

import base64
import io
import re
import wave
from typing import Any

import pytest
from browser.steps import (
    APPROVED_VISA,
    DECLINED,
    DESKTOP,
    INSUFFICIENT_FUNDS,
    MASKED_APPROVED_VISA,
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


def test_enter_checks_and_the_error_summary_leads_on_a_phone(system: System, page_on: Any) -> None:
    from playwright.sync_api import expect

    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]
    imei = branded_imeis(system, 10)[0][0]
    page = page_on(PHONE)
    page.goto(system.url + "/register")

    # Enter in the FİN field with a mistyped IMEI: the check runs (and says what is wrong);
    # it is not "Yeni kod", which would answer with no error at all.
    fill_check_form(page, citizen=citizen, imei=wrong_check_digit(imei))
    page.locator("#fin").press("Enter")
    summary = page.locator(".error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("a[data-error=imei_bad_check_digit]")).to_have_attribute(
        "href", "#imei_1"
    )
    expect(page.locator("#imei_1-error")).to_have_attribute("data-error", "imei_bad_check_digit")
    expect(page.locator("#fin")).to_have_value(citizen.fin)

    # On a 390 px phone the summary is focused and its first error is on the first screen.
    expect(summary).to_be_focused()
    assert page.evaluate("window.scrollY") == 0
    first_error = summary.locator("li a").first.bounding_box()
    assert first_error is not None
    assert first_error["y"] + first_error["height"] <= PHONE["height"]
    shot(page, "02c-check-form-phone-error-summary", full_page=False)

    # A summary link takes the citizen to the field.
    summary.locator("li a").first.click()
    expect(page.locator("#imei_1")).to_be_focused()

    # Enter in the IMEI field of a corrected form goes on to the application form.
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)
    page.locator("#imei_1").press("Enter")
    page.wait_for_url("**/application")


def test_each_goldenpay_outcome_reads_its_own_and_keeps_the_card_type(
    system: System, page_on: Any
) -> None:
    from playwright.sync_api import expect

    from mcqs.devices.naming import device_name
    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[1]
    imei, brand, model = branded_imeis(system, 10)[1]
    page = page_on(DESKTOP)
    page.goto(system.url + "/register")
    fill_check_form(page, citizen=citizen, imei=imei)
    page.get_by_role("button", name="Məlumatları yoxla").click()
    page.wait_for_url("**/application")
    expect(page.locator("main")).to_contain_text(device_name(brand, model))
    page.locator("#phone").fill(PHONE_TYPED)
    page.get_by_label("MasterCard").check()

    def pay(card: str | None) -> None:
        page.get_by_role("button", name="Təsdiqlə və ödəniş et").click()
        page.wait_for_url(PAY_PAGE)
        if card is None:
            page.locator("button[name=action][value=cancel]").click()
            return
        fill_card(page, card)
        press_pay(page)

    for card, code, name in (
        (DECLINED, "payment_declined", "03b-payment-declined"),
        (INSUFFICIENT_FUNDS, "payment_insufficient_funds", None),
        (None, "payment_cancelled", None),
    ):
        pay(card)
        page.wait_for_url(re.compile(r"/application\?notice="))
        notice = page.locator(".error-summary [data-error]")
        expect(notice).to_have_count(1)
        expect(notice).to_have_attribute("data-error", code)
        expect(page.locator(".error-summary")).to_be_focused()
        # The card type chosen before stays chosen, so "pay again" is one press.
        expect(page.get_by_label("MasterCard")).to_be_checked()
        if name:
            shot(page, name)

    # MasterCard was chosen, a Visa card paid: the receipt names the card that paid.
    pay(APPROVED_VISA)
    receipt_code(page)
    label = page.locator("dt", has_text="Ödəniş növü")
    payment_type = label.locator("xpath=following-sibling::dd[1]")
    expect(payment_type).to_have_text(f"Visa, {MASKED_APPROVED_VISA}")
    expect(page.locator("section.receipt")).to_contain_text(device_name(brand, model))


def test_the_security_code_is_also_spoken(system: System, page_on: Any) -> None:
    page = page_on(DESKTOP)
    page.goto(system.url + "/register")
    audio = page.locator("audio.captcha-audio")
    source = audio.get_attribute("src") or ""
    prefix = "data:audio/wav;base64,"
    assert source.startswith(prefix)
    spoken = base64.b64decode(source[len(prefix) :])
    with wave.open(io.BytesIO(spoken)) as recording:
        seconds = recording.getnframes() / recording.getframerate()
    assert 2 <= seconds <= 10, seconds
    # Spoken afresh for every page (which code it says: tests/security/test_audio_code.py).
    page.goto(system.url + "/register")
    again = base64.b64decode((audio.get_attribute("src") or "")[len(prefix) :])
    assert again != spoken
    with wave.open(io.BytesIO(again)) as recording:
        seconds = recording.getnframes() / recording.getframerate()
    # The browser can play it: it reads the same length from the file.
    played = page.evaluate(
        """audio => new Promise(done => audio.readyState >= 1 ? done(audio.duration)
             : audio.addEventListener("loadedmetadata", () => done(audio.duration)))""",
        audio.element_handle(),
    )
    assert abs(played - seconds) < 0.1
