"""Citizen pages of the registration: without login ("Qeydiyyatsız xidmətlər"), and for a
citizen signed in through e-gov, who types only the IMEI(s) and the security code."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from mcqs import i18n, messages
from mcqs.applications.lifecycle import PAYABLE
from mcqs.applications.models import ApplicationStatus, Channel
from mcqs.applications.service import (
    CheckInput,
    confirm_person,
    confirm_signed_in_person,
    create_application,
    find_by_notification_code,
    parse_check_input,
    parse_imeis,
)
from mcqs.db import Database, utcnow
from mcqs.errors import DomainError, FormErrors, InvalidInput
from mcqs.pages import (
    ShownError,
    client_address,
    control_character_errors,
    csrf_refused,
    csrf_valid,
    current_application_code,
    field_errors,
    notice_errors,
    owns_application,
    public_url_for,
    remember_application,
    render,
    state,
    without_control_characters,
)
from mcqs.principals import (
    AnyBrowser,
    Browser,
    CitizenOnly,
    SignedInCitizen,
    refuse_another_citizens,
)
from mcqs.security.captcha import render_security_code, speak_security_code
from mcqs.security.service import count_fin_check, guard_check, issue_security_code

router = APIRouter()


@router.get("/", name="home")
def home(request: Request, principal: AnyBrowser) -> Response:
    return render(request, "home.html")


def _check_form(
    request: Request, *, values: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    """The check form with a new security code; what was typed is shown back."""
    app = state(request)
    values = {name: without_control_characters(value) for name, value in values.items()}
    if not app.security_code_limiter.allow(client_address(request)):
        # Each code is a row and a picture: one client may not have them by the hundred.
        # The form stays, with what was typed, and no code until the minute is over.
        refused = ShownError(messages.message("too_many_security_codes"), "too_many_security_codes")
        return render(
            request,
            "register.html",
            status_code=429,
            values=values,
            errors={**errors, "": refused},
            security_code_id="",
            security_code_picture="",
        )
    with app.db.transaction() as session:
        code_id, text = issue_security_code(session, settings=app.settings, now=utcnow())
    # Inline, as data: URIs: the code's text is never stored, so no later request could
    # draw or speak it.
    picture = base64.b64encode(render_security_code(text)).decode()
    spoken = base64.b64encode(speak_security_code(text)).decode()
    return render(
        request,
        "register.html",
        status_code=status_code,
        values=values,
        errors=errors,
        security_code_id=code_id,
        security_code_picture=f"data:image/png;base64,{picture}",
        security_code_audio=f"data:audio/wav;base64,{spoken}",
    )


# Notices another page may send the citizen back to the check form with.
CHECK_FORM_NOTICES = ("application_expired",)


@router.get("/register", name="applications:check_form")
def check_form(request: Request, principal: AnyBrowser, notice: str = "") -> Response:
    return _check_form(request, values={}, errors=notice_errors(notice, CHECK_FORM_NOTICES))


@router.post("/register", name="applications:check")
def check(
    request: Request,
    principal: AnyBrowser,
    id_card: Annotated[str, Form()] = "",
    fin: Annotated[str, Form()] = "",
    security_code: Annotated[str, Form()] = "",
    security_code_id: Annotated[str, Form()] = "",
    imei_1: Annotated[str, Form()] = "",
    imei_2: Annotated[str, Form()] = "",
    imei_3: Annotated[str, Form()] = "",
    imei_4: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "check",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """ "Məlumatları yoxla": guard, validate, fill the application form from the registry.

    A signed-in citizen types no FİN nor ID card: the FİN is the login's, the card the
    registry's (whatever the form posted for them is ignored)."""
    app = state(request)
    signed_in = principal if isinstance(principal, SignedInCitizen) else None
    if signed_in is not None:
        id_card, fin = "", signed_in.fin
    values = {
        "id_card": id_card,
        "fin": fin,
        "imei_1": imei_1,
        "imei_2": imei_2,
        "imei_3": imei_3,
        "imei_4": imei_4,
    }
    if not csrf_valid(request, csrf_token):
        return _check_form(request, values=values, errors=csrf_refused(), status_code=403)
    if action == "new_code":
        return _check_form(request, values=values, errors={})
    # Refused at the edge: nobody types a control character, and a NUL would reach the
    # database (PostgreSQL refuses it in text) through the rate-limit key or the code's id.
    dirty = control_character_errors(
        {**values, "security_code": security_code, "security_code_id": security_code_id},
        security_code_id="security_code",
    )
    if dirty:
        return _check_form(request, values=values, errors=dirty, status_code=422)

    refused = _counted(
        app.db,
        lambda session: guard_check(
            session,
            settings=app.settings,
            client=client_address(request),
            code_id=security_code_id,
            typed_code=security_code,
            now=utcnow(),
        ),
    )
    data = CheckInput(id_card=id_card, fin=fin, imeis=(imei_1, imei_2, imei_3, imei_4))
    if refused is not None:
        # Say at once what else is wrong with what was typed (checking the form reveals
        # nothing about anyone), so that the next try can be the last.
        errors = field_errors(refused)
        try:
            if signed_in is None:
                parse_check_input(data)
            else:
                parse_imeis(data.imeis)
        except FormErrors as typed_wrong:
            errors = {**field_errors(typed_wrong), **errors}
        return _check_form(request, values=values, errors=errors, status_code=form_status(refused))

    try:
        # The registry is asked with no transaction open; then one short transaction.
        if signed_in is None:
            checked = confirm_person(app.services.population, data)
        else:
            checked = confirm_signed_in_person(app.services.population, fin=fin, imeis=data.imeis)
        # One transaction: the FİN's try is counted (only now that the ID card matched the
        # FİN: someone who merely knows a FİN cannot use up its owner's tries), then the
        # application is written; a refused one writes nothing, and the try still counts.
        with app.db.transaction() as session:
            now = utcnow()
            refusal: DomainError | FormErrors | None = _counted_in(
                session,
                lambda: count_fin_check(session, settings=app.settings, fin=checked.fin, now=now),
            )
            if refusal is None:
                try:
                    application = create_application(
                        session,
                        checked=checked,
                        channel=Channel.ONLINE_ANONYMOUS if signed_in is None else Channel.EGOV,
                        max_open_per_fin=app.settings.open_applications_per_fin,
                        now=now,
                        language=i18n.current(),
                    )
                except (FormErrors, DomainError) as error:
                    refusal = error
        if refusal is not None:
            raise refusal
    except (FormErrors, DomainError) as error:
        return _check_form(
            request, values=values, errors=field_errors(error), status_code=form_status(error)
        )
    remember_application(request, application.notification_code)
    return RedirectResponse(public_url_for(request, "applications:form"), status_code=303)


def _counted(db: Database, count: Callable[[Session], None]) -> DomainError | None:
    """Run a counting step (rate limits, the security code's tries) in a transaction that
    is committed even when it refuses, since a refused try must count; returns the refusal."""
    with db.transaction() as session:
        return _counted_in(session, lambda: count(session))


def _counted_in(session: Session, count: Callable[[], None]) -> DomainError | None:
    """A counting step inside a transaction that the caller commits even when it refuses;
    returns the refusal."""
    try:
        count()
    except DomainError as error:
        return error
    return None


def form_status(error: DomainError | FormErrors) -> int:
    """The HTTP status of a form shown again: 422 when something typed is malformed, else
    the error's own (409 a conflict such as an IMEI being paid for, 429 too many tries,
    502 a party down)."""
    errors = error.errors if isinstance(error, FormErrors) else [error]
    if any(isinstance(item, InvalidInput) for item in errors):
        return 422
    return errors[0].status_code


def application_form_page(
    request: Request,
    principal: Browser,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    """The application form of this browser's current application, or where it went."""
    code = current_application_code(request)
    if code is None or not owns_application(request, code):
        return RedirectResponse(public_url_for(request, "applications:check_form"), status_code=303)
    with state(request).db.transaction() as session:
        application = find_by_notification_code(session, code)
    # Anonymous: this browser made it (checked above); signed in: their own FİN.
    refuse_another_citizens(principal, application.fin)
    if application.status == ApplicationStatus.EXPIRED:
        url = public_url_for(request, "applications:check_form").include_query_params(
            notice="application_expired"
        )
        return RedirectResponse(url, status_code=303)
    if application.status not in PAYABLE:
        return RedirectResponse(
            public_url_for(request, "receipts:show", code=application.notification_code),
            status_code=303,
        )
    values.setdefault("phone", application.phone or "")
    if application.payments:  # paying again: the card type chosen last time stays chosen
        values.setdefault("card_type", application.payments[-1].card_type or "")
    return render(
        request,
        "application.html",
        status_code=status_code,
        application=application,
        values=values,
        errors=errors,
    )


# Why the last payment was not made (GoldenPay's return sends the citizen back with one).
PAYMENT_NOTICES = (
    "payment_declined",
    "payment_insufficient_funds",
    "payment_cancelled",
    "payment_expired",
    "payment_failed",
)


@router.get("/application", name="applications:form")
def application_form(request: Request, principal: AnyBrowser, notice: str = "") -> Response:
    return application_form_page(
        request, principal, values={}, errors=notice_errors(notice, PAYMENT_NOTICES)
    )


@router.get("/status", name="applications:status")
def application_status(request: Request, principal: AnyBrowser, code: str = "") -> Response:
    """Follow an application by its notification code; personal data stays masked.

    Anyone with the code may (it is on the paper receipt), except that a signed-in citizen
    reaches only their own FİN's applications: another's answers as an unknown code."""
    if not code.strip():
        return render(request, "status.html", code="", application=None)
    dirty = control_character_errors({"code": code})
    if dirty:
        shown = without_control_characters(code)
        return render(
            request, "status.html", status_code=422, code=shown, application=None, errors=dirty
        )
    try:
        with state(request).db.transaction() as session:
            application = find_by_notification_code(session, code)
        refuse_another_citizens(principal, application.fin)
    except DomainError as error:
        return render(
            request,
            "status.html",
            status_code=error.status_code,
            code=code,
            application=None,
            errors=field_errors(error),
        )
    return render(request, "status.html", code=code, application=application)


@router.get("/application/{code}", name="applications:continue")
def continue_application(request: Request, citizen: CitizenOnly, code: str) -> Response:
    """ "Davam et və ödə" in "Mənim cihazlarım": a signed-in citizen's unpaid application,
    made in this browser or another, opens its application form here. Only the owner's
    (another FİN's answers as an unknown code); signed out, a code alone opens nothing."""
    with state(request).db.transaction() as session:
        application = find_by_notification_code(session, code)
    refuse_another_citizens(citizen, application.fin)
    remember_application(request, application.notification_code)
    return RedirectResponse(public_url_for(request, "applications:form"), status_code=303)
