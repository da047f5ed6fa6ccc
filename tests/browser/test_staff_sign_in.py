"""Staff signing in in a real browser (Debian's Chromium), in Azerbaijani, English and
Russian, on a 390 px phone and on a desktop: the password, the enrolment page's QR code
and secret on the first sign-in, the authenticator's code (pyotp here), the staff home
page, signing out.

Screenshots go to ``test-output/screenshots/``; with ``MCQS_SCREENSHOTS=1`` also to
``docs/screenshots/`` (the README shows those)."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from browser.steps import DESKTOP, LANGUAGES, PHONE, shot
from staff.signing_in import create_staff

from mcqs.staff.models import StaffRole

from conftest import System

pytestmark = pytest.mark.browser


def sign_in_in_browser(page: Any, system: System, *, username: str, password: str) -> str:
    """Password, then the code; an account not enrolled yet shows its secret, read from
    the page as a person would read it into an app. Returns the secret used."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("#staff-continue").click()
    page.wait_for_url("**/staff/sign-in/code")
    return (
        page.locator("#totp-secret").inner_text().strip()
        if page.locator("[data-enrolment=true]").count()
        else ""
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "desktop"])
@pytest.mark.parametrize("lang", LANGUAGES)
def test_staff_sign_in_with_enrolment_and_code(
    system: System, page_on: Any, lang: str, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    agent = create_staff(system.db, role=StaffRole.COUNTER_AGENT, enrolled=False)
    page = page_on(viewport)
    page.goto(f"{system.url}/staff?lang={lang}")  # not signed in: to the sign-in page
    page.wait_for_url("**/staff/sign-in")
    assert page.locator("html").get_attribute("lang") == lang
    # Pictures of the Azerbaijani run on a phone (the README shows them).
    pictured = lang == "az" and viewport == PHONE
    if pictured:
        shot(page, "31-staff-sign-in")
    # A wrong password first: refused next to nothing typed back but the username.
    page.locator("#username").fill(agent.username)
    page.locator("#password").fill("not the password")
    page.locator("#staff-continue").click()
    expect(page.locator("[data-error=staff_sign_in_refused]").first).to_be_visible()
    expect(page.locator("#username")).to_have_value(agent.username)
    secret = sign_in_in_browser(page, system, username=agent.username, password=agent.password)
    assert secret, "the first sign-in shows the enrolment page with the secret"
    expect(page.locator("svg.qr")).to_be_visible()
    if pictured:
        shot(page, "32-staff-enrolment")
    page.locator("#totp_code").fill(pyotp.TOTP(secret).now())
    page.locator("#staff-verify").click()
    page.wait_for_url("**/staff")
    expect(page.locator(f"[data-staff='{agent.username}']")).to_be_visible()
    expect(page.locator("dd[data-role=counter_agent]")).to_be_visible()
    if pictured:
        shot(page, "33-staff-home")
    page.locator("#staff-sign-out").click()
    expect(page.locator("[data-status=signed_out]")).to_be_visible()
    page.goto(f"{system.url}/staff")
    page.wait_for_url("**/staff/sign-in")
