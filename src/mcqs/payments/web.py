"""Paying: "Təsdiqlə və ödəniş et", and where GoldenPay sends the citizen's browser back.

The return is unsigned: it only names a payment key, and the result call decides."""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from mcqs import i18n
from mcqs.applications.service import find_by_notification_code
from mcqs.applications.web import application_form_page, form_status
from mcqs.db import utcnow
from mcqs.errors import (
    Conflict,
    DomainError,
    ExternalServiceError,
    FormErrors,
    NotFound,
    TooManyRequests,
)
from mcqs.pages import (
    client_address,
    control_character_errors,
    csrf_refused,
    csrf_valid,
    field_errors,
    owns_application,
    public_url_for,
    remember_application,
    render,
    state,
)
from mcqs.payments.goldenpay import PAGE_LANGUAGES
from mcqs.payments.service import settle_payment, start_payment
from mcqs.principals import AnyBrowser, Browser, is_own, refuse_another_citizens

router = APIRouter()


@router.post("/application", name="applications:pay")
def confirm_and_pay(
    request: Request,
    principal: AnyBrowser,
    code: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    card_type: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """ "Təsdiqlə və ödəniş et": take the phone number and send the citizen to GoldenPay.

    The form names its application, so a second tab with another application cannot make
    this one pay for the other."""
    app = state(request)
    values = {"phone": phone, "card_type": card_type}
    owner = owns_application(request, code)
    if not csrf_valid(request, csrf_token):
        if not owner:  # no form of ours to show again
            refused = csrf_refused()[""]
            return render(
                request, "error.html", status_code=403, message=refused, code="csrf_refused"
            )
        return application_form_page(
            request, principal, values=values, errors=csrf_refused(), status_code=403
        )
    if not owner:
        return RedirectResponse(public_url_for(request, "applications:check_form"), status_code=303)
    remember_application(request, code)
    dirty = control_character_errors(values)
    if dirty:
        return application_form_page(
            request, principal, values=values, errors=dirty, status_code=422
        )
    try:
        with app.db.transaction() as session:
            application = find_by_notification_code(session, code)
    except DomainError:
        return RedirectResponse(public_url_for(request, "applications:check_form"), status_code=303)
    # Anonymous: this browser made it (``owner`` above); signed in: their own FİN.
    refuse_another_citizens(principal, application.fin)
    application_id = application.id
    try:
        opened = start_payment(
            app.db,
            goldenpay=app.services.goldenpay,
            settings=app.settings,
            application_id=application_id,
            phone=phone,
            card_type=card_type,
            lang=PAGE_LANGUAGES[i18n.current()],
            now=utcnow,
        )
    except (FormErrors, DomainError) as error:
        return application_form_page(
            request,
            principal,
            values=values,
            errors=field_errors(error),
            status_code=form_status(error),
        )
    pay_page = app.services.goldenpay.pay_page_url(opened.payment_key)
    return RedirectResponse(pay_page, status_code=303)


def _came_back(request: Request, principal: Browser, payment_key: str, outcome: str) -> Response:
    app = state(request)
    if not app.return_limiter.allow(client_address(request)):
        raise TooManyRequests("too_many_returns")
    if control_character_errors({"payment_key": payment_key}):
        raise NotFound("payment_unknown")  # no key of ours has one; PostgreSQL refuses a NUL
    payment_key = payment_key.strip()[:64]
    recently_pending = _recently_pending(request)
    if recently_pending.seen(payment_key):
        # Answered "pending" for this key a moment ago: a flood of one key costs no database
        # work (nor a question to GoldenPay, which the claim would refuse anyway).
        return render(request, "payment_pending.html", status_code=202, errors={})
    try:
        settled = settle_payment(
            app.db,
            goldenpay=app.services.goldenpay,
            settings=app.settings,
            payment_key=payment_key,
            now=utcnow,
            came_back=outcome,
        )
    except ExternalServiceError as error:
        # GoldenPay did not answer in time: the worker settles the payment; nothing is lost.
        return render(request, "payment_pending.html", status_code=503, errors=field_errors(error))
    code = settled.notification_code
    # A signed-in citizen's own FİN, or (anonymous) this browser's application.
    owner = owns_application(request, code) or is_own(principal, settled.fin)
    if settled.state == "paid":
        target = public_url_for(request, "receipts:show" if owner else "receipts:verify", code=code)
        return RedirectResponse(target, status_code=303)
    if settled.state == "pending":
        recently_pending.remember(payment_key)
        return render(request, "payment_pending.html", status_code=202, errors={})
    if settled.state == "expired":
        if not owner:
            raise Conflict("application_expired")
        url = public_url_for(request, "applications:check_form").include_query_params(
            notice="application_expired"
        )
        return RedirectResponse(url, status_code=303)
    # Not paid (declined, no funds, cancelled, the session ran out): the citizen reads why
    # on the application form and may pay again from there.
    notice = f"payment_{settled.failure_reason or 'failed'}"
    if not owner:
        raise DomainError(notice)
    remember_application(request, code)
    url = public_url_for(request, "applications:form").include_query_params(notice=notice)
    return RedirectResponse(url, status_code=303)


class RecentlyPending:
    """Payment keys this process answered "pending" for within the last second."""

    SECONDS = 1.0

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, payment_key: str) -> bool:
        with self._lock:
            at = self._seen.get(payment_key)
            return at is not None and time.monotonic() - at < self.SECONDS

    def remember(self, payment_key: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < self.SECONDS}
            self._seen[payment_key] = now


def _recently_pending(request: Request) -> RecentlyPending:
    return request.app.state.recently_pending  # type: ignore[no-any-return]


@router.get("/payments/goldenpay/success", name="payments:goldenpay_success")
def goldenpay_success(request: Request, principal: AnyBrowser, payment_key: str = "") -> Response:
    return _came_back(request, principal, payment_key, "success")


@router.get("/payments/goldenpay/failure", name="payments:goldenpay_failure")
def goldenpay_failure(request: Request, principal: AnyBrowser, payment_key: str = "") -> Response:
    return _came_back(request, principal, payment_key, "failure")
