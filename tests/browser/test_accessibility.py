"""Every citizen and staff page at zero axe-core violations of the WCAG 2.0, 2.1 and 2.2 A and AA
rules, in Azerbaijani, English and Russian, on a 390 px phone and on a desktop.

axe-core is the copy bundled in the pinned PyPI package axe-playwright-python (installed
with the venv from requirements.lock). GoldenPay's page is another party's and is skipped.

To check a new page, add a ``Visit`` to ``PAGES``: a name and a function that brings the
browser to the page from where the previous visit left it (``Journey`` carries what the
visits share). Each page is checked as it is reached, at both widths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import pytest
from browser.steps import (
    DESKTOP,
    EGOV_AUTHORIZE,
    LANGUAGES,
    PAY_PAGE,
    PHONE,
    PHONE_TYPED,
    branded_imeis,
    fill_card,
    fill_check_form,
    press_pay,
    receipt_code,
    wrong_check_digit,
)

from conftest import System, skip_or_fail

pytestmark = pytest.mark.browser

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@dataclass
class Journey:
    """What the visits of one language share: the server, the citizen, the IMEI, the way
    back to GoldenPay's page, the notification code once paid."""

    system: System
    lang: str
    citizen: Any
    imei: str
    pay_page_url: str = ""
    notification_code: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return self.system.url + path


@dataclass(frozen=True)
class Visit:
    name: str
    open: Callable[[Any, Journey], None]


def _home(page: Any, journey: Journey) -> None:
    page.goto(journey.url(f"/?lang={journey.lang}"))  # chooses the language for the journey


def _check_form(page: Any, journey: Journey) -> None:
    page.goto(journey.url("/register"))


def _check(page: Any, journey: Journey, imei: str) -> None:
    fill_check_form(page, citizen=journey.citizen, imei=imei)
    page.locator("button[name=action][value=check]").click()


def _check_form_with_errors(page: Any, journey: Journey) -> None:
    _check(page, journey, wrong_check_digit(journey.imei))
    page.locator("#imei_1-error[data-error=imei_bad_check_digit]").wait_for()


def _application_form(page: Any, journey: Journey) -> None:
    _check(page, journey, journey.imei)
    page.wait_for_url("**/application")


def _payment_pending(page: Any, journey: Journey) -> None:
    """Back from GoldenPay before paying: GoldenPay says 'waiting', the page says pending."""
    page.locator("#phone").fill(PHONE_TYPED)
    page.locator("#card_type").check()
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(PAY_PAGE)
    journey.pay_page_url = page.url
    key = page.url.split("payment_key=", 1)[1]
    page.goto(journey.url(f"/payments/goldenpay/success?payment_key={key}"))
    page.locator("[data-module=auto-refresh]").wait_for()


def _receipt(page: Any, journey: Journey) -> None:
    page.goto(journey.pay_page_url)
    fill_card(page)
    press_pay(page)
    journey.notification_code = receipt_code(page)


def _verify(page: Any, journey: Journey) -> None:
    page.goto(journey.url(f"/verify/{journey.notification_code}"))


def _status(page: Any, journey: Journey) -> None:
    page.goto(journey.url(f"/status?code={journey.notification_code}"))


def _error_page(page: Any, journey: Journey) -> None:
    page.goto(journey.url("/no-such-page"))


def _sign_in_required(page: Any, journey: Journey) -> None:
    """ "Mənim cihazlarım" signed out: the page that says to sign in (401)."""
    page.goto(journey.url("/my-devices"))
    page.locator("[data-error=sign_in_required]").wait_for()


def _sign_in_refused(page: Any, journey: Journey) -> None:
    """A callback this browser never started: the refusal page, with a retry."""
    page.goto(journey.url("/egov/callback?code=forged&state=forged"))
    page.locator("[data-error=egov_state_invalid]").wait_for()


def _signed_in_check_form(page: Any, journey: Journey) -> None:
    """Signed in on the e-gov simulator as the journey's citizen: only the IMEI to type."""
    page.goto(journey.url("/egov/sign-in"))
    page.wait_for_url(EGOV_AUTHORIZE)
    page.get_by_label(re.compile(journey.citizen.fin)).check()
    page.get_by_role("button", name="Daxil ol").click()  # the portal's page, in Azerbaijani
    page.wait_for_url("**/register")
    page.locator("#who .who-name").wait_for()


def _my_devices(page: Any, journey: Journey) -> None:
    """ "Mənim cihazlarım" with something in every section: the journey's paid application,
    registered by the worker; a second paid application for the same IMEI, rejected, its
    fee owed back; and an unpaid one that can be continued."""
    from mcqs.services import Services
    from mcqs.worker import work_once

    from factories import create_application, create_paid_application

    system = journey.system
    with system.db.transaction() as session:
        create_paid_application(session, imeis=(journey.imei,), fin=journey.citizen.fin)
        create_application(session, imeis=(journey.extra["unpaid_imei"],), fin=journey.citizen.fin)
    services = Services.from_settings(system.settings)
    for _ in range(5):  # registration, then what it queues (the SMS)
        if not work_once(system.db, services):
            break
    page.goto(journey.url("/my-devices"))
    page.locator("#devices tbody tr").first.wait_for()
    page.locator("#refunds tbody tr").first.wait_for()
    page.locator("#applications a.continue").first.wait_for()


def _staff_sign_in(page: Any, journey: Journey) -> None:
    """The staff sign-in page, after a wrong password (its error shown)."""
    from staff.signing_in import create_staff

    from mcqs.staff.models import StaffRole

    staff = create_staff(journey.system.db, role=StaffRole.POINT_SUPERVISOR, enrolled=False)
    journey.extra["staff_username"], journey.extra["staff_password"] = (
        staff.username,
        staff.password,
    )
    page.goto(journey.url("/staff/sign-in"))
    page.locator("#username").fill(staff.username)
    page.locator("#password").fill("not the password")
    page.locator("#staff-continue").click()
    page.locator("[data-error=staff_sign_in_refused]").first.wait_for()


def _staff_enrolment(page: Any, journey: Journey) -> None:
    """The first sign-in's enrolment page: the QR code and the secret."""
    page.locator("#password").fill(journey.extra["staff_password"])
    page.locator("#staff-continue").click()
    page.locator("[data-enrolment=true]").wait_for()
    journey.extra["staff_secret"] = page.locator("#totp-secret").inner_text().strip()


def _staff_home(page: Any, journey: Journey) -> None:
    import pyotp

    page.locator("#totp_code").fill(pyotp.TOTP(journey.extra["staff_secret"]).now())
    page.locator("#staff-verify").click()
    page.wait_for_url("**/staff")


def _staff_password(page: Any, journey: Journey) -> None:
    """Changing one's password, sent empty: each field's error."""
    page.goto(journey.url("/staff/password"))
    page.locator("#staff-change-password").click()
    page.locator("#current_password-error").wait_for()


def _counter_form_with_errors(page: Any, journey: Journey) -> None:
    """The counter's form (the journey's supervisor works at a point), a mistake shown."""
    page.goto(journey.url("/counter"))
    page.locator("#id_card").fill(journey.citizen.id_card)
    page.locator("#fin").fill(journey.citizen.fin)
    page.locator("#imei_1").fill(wrong_check_digit(journey.extra["counter_imei"]))
    page.locator("#phone").fill(PHONE_TYPED)
    page.locator("#counter-form button[type=submit]").click()
    page.locator("#imei_1-error[data-error=imei_bad_check_digit]").wait_for()


def _counter_application(page: Any, journey: Journey) -> None:
    page.locator("#imei_1").fill(journey.extra["counter_imei"])
    page.locator("#counter-form button[type=submit]").click()
    page.locator("#payment-form").wait_for()


def _counter_paid(page: Any, journey: Journey) -> None:
    """Cash, a wrong amount first (the error checked), then the fee: the receipts to print."""
    fee = int(page.locator("[data-fee-qepik]").get_attribute("data-fee-qepik") or 0)
    page.locator("#method").check()
    page.locator("#amount").fill("1")
    page.locator("#payment-form button[type=submit]").click()
    page.locator("#amount-error[data-error=amount_not_fee]").wait_for()
    page.locator("#amount").fill(f"{fee // 100}.{fee % 100:02d}")
    page.locator("#payment-form button[type=submit]").click()
    page.locator("#paid").wait_for()
    journey.extra["counter_code"] = page.url.rsplit("/", 1)[-1]


def _counter_day_closed(page: Any, journey: Journey) -> None:
    page.goto(journey.url("/counter"))
    page.locator("#close-day button").click()
    page.locator("#day-closed").wait_for()


def _supervisor_with_errors(page: Any, journey: Journey) -> None:
    """The point's supervisor page, a cancellation without a reason refused."""
    page.goto(journey.url("/supervisor"))
    row = page.locator(f"tr[data-code='{journey.extra['counter_code']}']")
    row.locator("button[type=submit]").click()
    page.locator("[data-error=cancel_reason_required]").first.wait_for()


def _back_office_refunds(page: Any, journey: Journey) -> None:
    """Cancelled with a reason; then back office (signed in anew) sees the refund owed."""
    import pyotp
    from staff.signing_in import create_staff

    from mcqs.staff.models import StaffRole

    row = page.locator(f"tr[data-code='{journey.extra['counter_code']}']")
    row.locator("textarea").fill("Yanlış İMEİ")
    row.locator("button[type=submit]").click()
    page.locator(
        f"tr[data-code='{journey.extra['counter_code']}'][data-status=cancelled]"
    ).wait_for()
    page.locator("#staff-sign-out").click()
    office = create_staff(journey.system.db, role=StaffRole.BACK_OFFICE)
    page.goto(journey.url("/staff/sign-in"))
    page.locator("#username").fill(office.username)
    page.locator("#password").fill(office.password)
    page.locator("#staff-continue").click()
    page.locator("#totp_code").fill(pyotp.TOTP(office.totp_secret).now())
    page.locator("#staff-verify").click()
    page.wait_for_url("**/staff")
    page.goto(journey.url("/back-office/refunds"))
    page.locator("#refunds tr[data-refund-status=owed]").first.wait_for()


PAGES: list[Visit] = [
    Visit("home", _home),
    Visit("check form", _check_form),
    Visit("check form with errors", _check_form_with_errors),
    Visit("application form", _application_form),
    Visit("payment pending", _payment_pending),
    Visit("receipt", _receipt),
    Visit("verify", _verify),
    Visit("status", _status),
    Visit("error page", _error_page),
    Visit("sign-in required", _sign_in_required),
    Visit("sign-in refused", _sign_in_refused),
    Visit("signed-in check form", _signed_in_check_form),
    Visit("my devices", _my_devices),
    Visit("staff sign-in", _staff_sign_in),
    Visit("staff enrolment", _staff_enrolment),
    Visit("staff home", _staff_home),
    Visit("staff password with errors", _staff_password),
    Visit("counter form with errors", _counter_form_with_errors),
    Visit("counter application", _counter_application),
    Visit("counter paid", _counter_paid),
    Visit("counter day closed", _counter_day_closed),
    Visit("supervisor with errors", _supervisor_with_errors),
    Visit("back-office refunds", _back_office_refunds),
]


@pytest.fixture(scope="module")
def axe_source() -> str:
    try:
        return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    except ModuleNotFoundError:
        skip_or_fail("Accessibility test", "axe-playwright-python is not installed")
        raise


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's WCAG A/AA violations on the page as it is now."""
    for attempt in range(3):
        try:
            if page.evaluate("typeof axe === 'undefined'"):  # once per page, not per width
                page.evaluate(axe_source)
            results = page.evaluate(
                "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
                " resultTypes: ['violations']})",
                WCAG_TAGS,
            )
            return list(results["violations"])
        except Exception as error:  # a page that refreshes itself (payment pending)
            if "context was destroyed" not in str(error) or attempt == 2:
                raise
            page.wait_for_load_state()
    return []


def describe(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
        for v in violations
    ]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_has_no_wcag_violations(
    system: System, page_on: Any, axe_source: str, lang: str
) -> None:
    from mcqs_simulators.population.citizens import CITIZENS

    index = LANGUAGES.index(lang)
    citizen = CITIZENS[index + 3]
    # A fresh IMEI per language: each journey pays for its own.
    imeis = [row[0] for row in branded_imeis(system, 30)]
    journey = Journey(
        system=system,
        lang=lang,
        citizen=citizen,
        imei=imeis[index],
        extra={"unpaid_imei": imeis[3 + index], "counter_imei": imeis[6 + index]},
    )
    page = page_on(PHONE)
    found: dict[str, list[str]] = {}
    for visit in PAGES:
        page.set_viewport_size(PHONE)
        visit.open(page, journey)
        assert page.locator("html").get_attribute("lang") == lang, visit.name
        for width, viewport in (("390px", PHONE), ("desktop", DESKTOP)):
            page.set_viewport_size(viewport)
            violations = describe(axe_violations(page, axe_source))
            if violations:
                found[f"{visit.name} at {width}"] = violations
    assert found == {}, "\n".join(
        f"{where}:\n  " + "\n  ".join(items) for where, items in found.items()
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "desktop"])
def test_the_skip_link_is_the_first_stop_and_leads_to_the_main_content(
    system: System, page_on: Any, viewport: dict[str, int]
) -> None:
    from playwright.sync_api import expect

    page = page_on(viewport, locale=None)
    page.goto(system.url + "/register")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_have_attribute("href", "#main")
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab goes into the page's content, past the header.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null")
