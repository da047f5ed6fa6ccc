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
from collections.abc import Iterator
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

PHONE = {"width": 390, "height": 844}  # a common phone, in CSS pixels
DESKTOP = {"width": 1280, "height": 800}
DECLINED = "4000 0000 0000 0002"
INSUFFICIENT_FUNDS = "4000 0000 0000 9995"
APPROVED_VISA = "4228 6500 0001 8101"


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    database = tmp_path_factory.mktemp("citizen-view") / "mcqs.sqlite3"
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


@pytest.fixture
def page_on(browser: Any) -> Iterator[Any]:
    """``page_on(viewport)``: a fresh browser context (its own session) and page; page
    errors fail the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_page(viewport: dict[str, int]) -> Any:
        context = browser.new_context(locale="az-AZ", viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, errors


def _imeis(system: System) -> list[tuple[str, str, str]]:
    from mcqs.devices.demo import example_imeis

    with system.db.transaction() as session:
        return [row for row in example_imeis(session, count=10) if row[1]]


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def _fill_check_form(page: Any, *, citizen: Any, imei: str) -> None:
    page.locator("#id_card").fill(citizen.id_card)
    page.locator("#fin").fill(citizen.fin)
    page.locator("#imei_1").fill(imei)
    page.locator("#security_code").fill(FIXED_CODE)


def test_enter_checks_and_the_error_summary_leads_on_a_phone(system: System, page_on: Any) -> None:
    from playwright.sync_api import expect

    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]
    imei = _imeis(system)[0][0]
    page = page_on(PHONE)
    page.goto(system.url + "/register")

    # Enter in the FİN field with a mistyped IMEI: the check runs (and says what is wrong);
    # it is not "Yeni kod", which would answer with no error at all.
    _fill_check_form(page, citizen=citizen, imei=imei[:-1] + str((int(imei[-1]) + 1) % 10))
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
    _shot(page, "02c-check-form-phone-error-summary")

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
    imei, brand, model = _imeis(system)[1]
    page = page_on(DESKTOP)
    page.goto(system.url + "/register")
    _fill_check_form(page, citizen=citizen, imei=imei)
    page.get_by_role("button", name="Məlumatları yoxla").click()
    page.wait_for_url("**/application")
    expect(page.locator("main")).to_contain_text(device_name(brand, model))
    page.locator("#phone").fill("050 123 45 67")
    page.get_by_label("MasterCard").check()

    def pay(card: str | None) -> None:
        page.get_by_role("button", name="Təsdiqlə və ödəniş et").click()
        page.wait_for_url(re.compile(r"/_sim/goldenpay/web/paypage\?payment_key="))
        if card is None:
            page.locator("button[name=action][value=cancel]").click()
            return
        page.locator("#card_number").fill(card)
        page.locator("#expiry").fill(_future_expiry())
        page.locator("#cvv").fill("123")
        page.locator("button[name=action][value=pay]").click()

    for card, code, shot in (
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
        if shot:
            page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)

    # MasterCard was chosen, a Visa card paid: the receipt names the card that paid.
    pay(APPROVED_VISA)
    page.wait_for_url(re.compile(r"/receipts/[0-9A-Z]+$"))
    label = page.locator("dt", has_text="Ödəniş növü")
    payment_type = label.locator("xpath=following-sibling::dd[1]")
    expect(payment_type).to_have_text("Visa, 422865******8101")
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
