"""The counter's pages (``/counter``, a point's agents and supervisor) and the supervisor's
(``/supervisor``). Thin: each parses, calls one service, renders. Whose point it is, is the
service's and ``principals.refuse_another_point``'s business; which role, the route's."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from mcqs import i18n
from mcqs.applications.lifecycle import PAYABLE, Action, allowed
from mcqs.applications.models import Application
from mcqs.counter.report import render_day_report_pdf
from mcqs.counter.service import (
    CounterInput,
    CounterPaymentInput,
    application_at_point,
    cancel_registration,
    close_day,
    closed_day,
    confirm_at_counter,
    paid_at_point,
    point_agents,
    point_day,
    point_days,
    record_receipt_printed,
    register_at_counter,
    take_payment,
)
from mcqs.db import utcnow
from mcqs.errors import DomainError, FormErrors, NotFound
from mcqs.localtime import baku_day
from mcqs.pages import (
    control_character_errors,
    field_errors,
    notice_errors,
    public_url_for,
    render,
    state,
    without_control_characters,
)
from mcqs.principals import StaffMember, staff_member
from mcqs.receipts.pdf import A4, LAYOUTS
from mcqs.receipts.service import counter_of, kept_receipt_pdf, make_receipt_pdf, receipt_view
from mcqs.staff.models import RegistrationPoint, StaffRole

router = APIRouter()

AtCounter = Annotated[
    StaffMember, Depends(staff_member(StaffRole.COUNTER_AGENT, StaffRole.POINT_SUPERVISOR))
]
Supervisor = Annotated[StaffMember, Depends(staff_member(StaffRole.POINT_SUPERVISOR))]

COUNTER_FIELDS = ("id_card", "fin", "imei_1", "imei_2", "imei_3", "imei_4", "phone")
HOME_NOTICES = ("day_already_closed",)


def _point(request: Request, member: StaffMember) -> RegistrationPoint:
    with state(request).db.reading() as session:
        point = session.get(RegistrationPoint, member.point_id)
    if point is None:
        raise NotFound("staff_record_unknown")
    return point


def _home(
    request: Request,
    member: StaffMember,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    """The agent's home: the new-registration form (with a fresh one-time key unless one is
    being shown again), and the point's day."""
    point = _point(request, member)
    with state(request).db.reading() as session:
        day = point_day(session, point_id=point.id, day=baku_day(utcnow()))
    values = {name: without_control_characters(value) for name, value in values.items()}
    values.setdefault("submission_key", secrets.token_urlsafe(24))
    return render(
        request,
        "counter_home.html",
        status_code=status_code,
        member=member,
        point=point,
        day=day,
        values=values,
        errors=errors,
    )


@router.get("/counter", name="counter:home")
def counter_home(request: Request, member: AtCounter, notice: str = "") -> Response:
    return _home(request, member, values={}, errors=notice_errors(notice, HOME_NOTICES))


@router.post("/counter/register", name="counter:register")
def counter_register(
    request: Request,
    member: AtCounter,
    submission_key: Annotated[str, Form()] = "",
    id_card: Annotated[str, Form()] = "",
    fin: Annotated[str, Form()] = "",
    imei_1: Annotated[str, Form()] = "",
    imei_2: Annotated[str, Form()] = "",
    imei_3: Annotated[str, Form()] = "",
    imei_4: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
) -> Response:
    """The counter form: checked like the online one (the registry asked with no
    transaction open), then one transaction writes the application. Sent twice, the same
    application (the form's one-time key)."""
    app = state(request)
    typed = {
        "id_card": id_card,
        "fin": fin,
        "imei_1": imei_1,
        "imei_2": imei_2,
        "imei_3": imei_3,
        "imei_4": imei_4,
        "phone": phone,
    }
    values = {**typed, "submission_key": submission_key}
    dirty = control_character_errors(values, submission_key="")
    if dirty:
        return _home(request, member, values=values, errors=dirty, status_code=422)
    data = CounterInput(
        submission_key=submission_key,
        id_card=id_card,
        fin=fin,
        imeis=(imei_1, imei_2, imei_3, imei_4),
        phone=phone,
    )
    try:
        check = confirm_at_counter(app.services.population, data)
        with app.db.transaction() as session:
            application = register_at_counter(
                session,
                member=member,
                check=check,
                max_open_per_fin=app.settings.open_applications_per_fin,
                now=utcnow(),
                language=i18n.current(),
            )
            code = application.notification_code
    except (FormErrors, DomainError) as error:
        if isinstance(error, FormErrors) and any(
            e.code == "counter_form_expired" for e in error.errors
        ):
            values.pop("submission_key")  # a fresh key for the next try
        return _home(
            request, member, values=values, errors=field_errors(error), status_code=_status(error)
        )
    return RedirectResponse(
        public_url_for(request, "counter:application", code=code), status_code=303
    )


def _status(error: DomainError | FormErrors) -> int:
    errors = error.errors if isinstance(error, FormErrors) else [error]
    return 422 if any(e.status_code == 422 for e in errors) else errors[0].status_code


def _application(request: Request, member: StaffMember, code: str) -> Application:
    with state(request).db.reading() as session:
        return application_at_point(session, member=member, notification_code=code)


def _application_page(
    request: Request,
    member: StaffMember,
    code: str,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    with state(request).db.reading() as session:
        application = application_at_point(session, member=member, notification_code=code)
        counter = counter_of(session, application)
    receipt = None
    if application.paid_payment is not None:
        receipt = receipt_view(
            application, public_url=state(request).settings.public_url, counter=counter
        )
    return render(
        request,
        "counter_application.html",
        status_code=status_code,
        member=member,
        application=application,
        receipt=receipt,
        payable=application.status in PAYABLE and application.expires_at > utcnow(),
        values=values,
        errors=errors,
    )


@router.get("/counter/applications/{code}", name="counter:application")
def counter_application(request: Request, member: AtCounter, code: str) -> Response:
    """The application as the registry filled it (name, address, model, fee), the payment
    form while it is unpaid, the receipts once paid."""
    return _application_page(request, member, code, values={}, errors={})


@router.post("/counter/applications/{code}/payment", name="counter:pay")
def counter_pay(
    request: Request,
    member: AtCounter,
    code: str,
    method: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    slip_reference: Annotated[str, Form()] = "",
) -> Response:
    values = {"method": method, "amount": amount, "slip_reference": slip_reference}
    dirty = control_character_errors(values)
    if dirty:
        return _application_page(
            request, member, code, values=values, errors=dirty, status_code=422
        )
    try:
        with state(request).db.transaction() as session:
            take_payment(
                session,
                member=member,
                notification_code=code,
                data=CounterPaymentInput(
                    method=method, amount=amount, slip_reference=slip_reference
                ),
                now=utcnow(),
            )
    except FormErrors as error:
        return _application_page(
            request,
            member,
            code,
            values=values,
            errors=field_errors(error),
            status_code=_status(error),
        )
    return RedirectResponse(
        public_url_for(request, "counter:application", code=code), status_code=303
    )


@router.get("/counter/applications/{code}/receipt.pdf", name="counter:receipt_pdf")
def counter_receipt_pdf(
    request: Request, member: AtCounter, code: str, layout: str = A4
) -> Response:
    """The receipt to print: A4 or the 80 mm thermal roll (``?layout=thermal``), in the
    page's language; made once and kept like the citizen's. Each print is audited."""
    if layout not in LAYOUTS:
        raise NotFound("page_not_found")
    app = state(request)
    language = i18n.current()
    with app.db.transaction() as session:
        application = application_at_point(session, member=member, notification_code=code)
        counter = counter_of(session, application)
        receipt = receipt_view(application, public_url=app.settings.public_url, counter=counter)
        pdf = kept_receipt_pdf(
            session, application.notification_code, language=language, layout=layout
        )
        record_receipt_printed(
            session, member=member, application=application, layout=layout, now=utcnow()
        )
    if pdf is None:
        pdf = make_receipt_pdf(
            app.db,
            application,
            public_url=app.settings.public_url,
            language=language,
            layout=layout,
            counter=counter,
        )
    suffix = "" if layout == A4 else f"-{layout}"
    filename = f"qebz-{receipt.notification_code}{suffix}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@router.post("/counter/day/close", name="counter:close_day")
def counter_close_day(request: Request, member: AtCounter) -> Response:
    """Close the point's day; closing twice is refused (the report closed first stays)."""
    try:
        with state(request).db.transaction() as session:
            close_day(session, member=member, now=utcnow())
    except DomainError as error:
        url = public_url_for(request, "counter:home").include_query_params(notice=error.code)
        return RedirectResponse(url, status_code=303)
    return RedirectResponse(public_url_for(request, "counter:home"), status_code=303)


def _day(raw: str) -> dt.date:
    """The day a report link names; none named: today's, in Baku."""
    if not raw:
        return baku_day(utcnow())
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise NotFound("day_not_closed") from None


@router.get("/counter/day/report.csv", name="counter:day_report_csv")
def counter_day_report_csv(request: Request, member: AtCounter, day: str = "") -> Response:
    with state(request).db.reading() as session:
        closed = closed_day(session, member=member, day=_day(day))
    filename = f"kassa-{member.point_code}-{closed.business_day.isoformat()}.csv"
    return Response(
        closed.report_csv,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/counter/day/report.pdf", name="counter:day_report_pdf")
def counter_day_report_pdf(request: Request, member: AtCounter, day: str = "") -> Response:
    with state(request).db.reading() as session:
        closed = closed_day(session, member=member, day=_day(day))
        point = session.get(RegistrationPoint, closed.point_id)
    assert point is not None
    pdf = render_day_report_pdf(closed, point_code=point.code, point_name=point.name)
    filename = f"kassa-{point.code}-{closed.business_day.isoformat()}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


# ---- the point's supervisor ---------------------------------------------------------------------


def _supervisor_page(
    request: Request,
    member: StaffMember,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    point = _point(request, member)
    with state(request).db.reading() as session:
        agents = point_agents(session, point_id=point.id)
        days = point_days(session, point_id=point.id)
        today = point_day(session, point_id=point.id, day=baku_day(utcnow()))
        paid = paid_at_point(session, point_id=point.id)
    return render(
        request,
        "supervisor.html",
        status_code=status_code,
        member=member,
        point=point,
        agents=agents,
        days=days,
        today=today,
        paid=paid,
        cancellable=lambda application: allowed(application.status, Action.CANCEL),
        values=values,
        errors=errors,
    )


@router.get("/supervisor", name="supervisor:home")
def supervisor_home(request: Request, member: Supervisor) -> Response:
    return _supervisor_page(request, member, values={}, errors={})


@router.post("/supervisor/cancel", name="supervisor:cancel")
def supervisor_cancel(
    request: Request,
    member: Supervisor,
    code: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Cancel a paid registration of the point, with a written reason (a refund owed)."""
    values = {"code": code, "reason": reason}
    dirty = control_character_errors(values)
    if dirty:
        errors = {f"{key}-{code}": value for key, value in dirty.items()}
        return _supervisor_page(request, member, values=values, errors=errors, status_code=422)
    try:
        with state(request).db.transaction() as session:
            cancel_registration(
                session, member=member, notification_code=code, reason=reason, now=utcnow()
            )
    except FormErrors as error:
        # Shown next to the reason field of that registration's form.
        errors = {f"{key or 'reason'}-{code}": value for key, value in field_errors(error).items()}
        return _supervisor_page(
            request, member, values=values, errors=errors, status_code=_status(error)
        )
    return RedirectResponse(public_url_for(request, "supervisor:home"), status_code=303)
