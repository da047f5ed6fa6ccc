"""Staff pages: signing in (password, then the authenticator app's code, with enrolment
by QR code the first time), the staff home page by role, signing out.

Each step is one short transaction in the service; a refusal's count and its audit entry
are committed with it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from mcqs import messages
from mcqs.db import utcnow
from mcqs.errors import FormErrors
from mcqs.pages import (
    AppState,
    ShownError,
    client_address,
    control_character_errors,
    csrf_refused,
    csrf_valid,
    field_errors,
    public_url_for,
    render,
    state,
)
from mcqs.principals import (
    STAFF_SESSION_KEY,
    AnyBrowser,
    AnyStaff,
    AnyStaffChangingPassword,
    StaffMember,
    admitted_roles,
    api_routes,
    forget_staff,
    staff_in_session,
)
from mcqs.receipts.qr import qr_svg
from mcqs.staff import service
from mcqs.staff.models import StaffRole

router = APIRouter()


def _shown(code: str, field: str = "") -> dict[str, str]:
    return {field: ShownError(messages.message(code), code)}


def _password_form(
    request: Request,
    *,
    username: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_sign_in.html",
        status_code=status_code,
        values={"username": username},
        errors=errors or {},
    )


@router.get("/staff/sign-in", name="staff:sign_in")
def sign_in_form(request: Request, principal: AnyBrowser) -> Response:
    """The staff sign-in page (username and password); a member signed in already goes
    to the staff home page."""
    if staff_in_session(request) is not None:
        return RedirectResponse(public_url_for(request, "staff:home"), status_code=303)
    return _password_form(request)


@router.post("/staff/sign-in", name="staff:check_password")
def check_password(
    request: Request,
    principal: AnyBrowser,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    username = username.strip()
    if not csrf_valid(request, csrf_token):
        return _password_form(request, username=username, errors=csrf_refused(), status_code=403)
    app = state(request)
    if not app.staff_sign_in_limiter.allow(client_address(request)):
        return _password_form(
            request, username=username, errors=_shown("too_many_staff_sign_ins"), status_code=429
        )
    errors = control_character_errors({"username": username, "password": password})
    if not username:
        errors.setdefault("username", _shown("staff_username_required")[""])
    if not password:
        errors.setdefault("password", _shown("staff_password_required")[""])
    if errors:
        return _password_form(request, username=username, errors=errors, status_code=422)
    with app.db.transaction() as session:
        outcome = service.check_password(
            session,
            settings=app.settings,
            username=username,
            password=password,
            client_address=client_address(request),
            now=utcnow(),
        )
    if outcome.session_id is None:
        refused = outcome.refused or "staff_sign_in_refused"
        status = 423 if refused == "staff_account_locked" else 401
        return _password_form(
            request, username=username, errors=_shown(refused), status_code=status
        )
    # A new cookie session for the half sign-in: nothing from before carries over.
    request.session.clear()
    request.session[STAFF_SESSION_KEY] = outcome.session_id
    forget_staff(request)
    return RedirectResponse(public_url_for(request, "staff:code_form"), status_code=303)


def _pending(app: AppState, session_id: str) -> tuple[str, service.Enrolment | None] | None:
    with app.db.transaction() as session:
        found = service.pending_sign_in(
            session, settings=app.settings, session_id=session_id, now=utcnow()
        )
        return None if found is None else (found[0].username, found[1])


def _code_form(
    request: Request,
    *,
    username: str,
    enrolment: service.Enrolment | None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_code.html",
        status_code=status_code,
        username=username,
        enrolment=enrolment,
        qr=qr_svg(enrolment.uri) if enrolment else None,
        errors=errors or {},
    )


def _restart(request: Request, code: str) -> Response:
    """Back to the password: the half sign-in ran out, or the account is locked now."""
    request.session.pop(STAFF_SESSION_KEY, None)
    status = 423 if code == "staff_account_locked" else 401
    return _password_form(request, errors=_shown(code), status_code=status)


@router.get("/staff/sign-in/code", name="staff:code_form")
def code_form(request: Request, principal: AnyBrowser) -> Response:
    """The second step: the authenticator app's code; the first time, the QR code (and
    the secret as text) to enrol the app, confirmed by its first code."""
    session_id = request.session.get(STAFF_SESSION_KEY)
    pending = _pending(state(request), session_id) if isinstance(session_id, str) else None
    if pending is None:
        if staff_in_session(request) is not None:
            return RedirectResponse(public_url_for(request, "staff:home"), status_code=303)
        return _restart(request, "staff_sign_in_expired")
    username, enrolment = pending
    return _code_form(request, username=username, enrolment=enrolment)


@router.post("/staff/sign-in/code", name="staff:check_code")
def check_code(
    request: Request,
    principal: AnyBrowser,
    totp_code: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    app = state(request)
    session_id = request.session.get(STAFF_SESSION_KEY)
    pending = _pending(app, session_id) if isinstance(session_id, str) else None
    if not csrf_valid(request, csrf_token):
        if pending is None:
            return _password_form(request, errors=csrf_refused(), status_code=403)
        return _code_form(
            request,
            username=pending[0],
            enrolment=pending[1],
            errors=csrf_refused(),
            status_code=403,
        )
    if pending is None or not isinstance(session_id, str):
        return _restart(request, "staff_sign_in_expired")
    username, enrolment = pending
    if not app.staff_sign_in_limiter.allow(client_address(request)):
        return _code_form(
            request,
            username=username,
            enrolment=enrolment,
            errors=_shown("too_many_staff_sign_ins"),
            status_code=429,
        )
    if not totp_code.strip():
        return _code_form(
            request,
            username=username,
            enrolment=enrolment,
            errors=_shown("staff_code_required", "totp_code"),
            status_code=422,
        )
    with app.db.transaction() as session:
        outcome = service.check_code(
            session,
            settings=app.settings,
            session_id=session_id,
            code=totp_code,
            client_address=client_address(request),
            now=utcnow(),
        )
    if outcome.session_id is None:
        if outcome.restart:
            return _restart(request, outcome.refused or "staff_sign_in_expired")
        return _code_form(
            request,
            username=username,
            enrolment=enrolment,
            errors=_shown(outcome.refused or "staff_code_wrong", "totp_code"),
            status_code=401,
        )
    request.session.clear()  # a new CSRF token for the signed-in session
    request.session[STAFF_SESSION_KEY] = outcome.session_id
    forget_staff(request)
    return RedirectResponse(public_url_for(request, "staff:home"), status_code=303)


#: The pages the staff home page links to (the counter's, the supervisor's, the back
#: office's), each shown to the roles its route admits (read from the route's principal),
#: so a link never leads to a refusal and a page not built yet is not linked.
STAFF_PAGES: tuple[tuple[str, str], ...] = (
    ("counter", "/counter"),
    ("supervisor", "/supervisor"),
    ("refunds", "/back-office/refunds"),
)


def _admitted(request: Request, path: str) -> frozenset[StaffRole]:
    for route in api_routes(request.app.routes):
        if route.path == path and "GET" in route.methods:
            return admitted_roles(route)
    return frozenset()


@router.get("/staff", name="staff:home")
def home(request: Request, member: AnyStaff) -> Response:
    """What this member's role does, as links."""
    links = [(key, path) for key, path in STAFF_PAGES if member.role in _admitted(request, path)]
    return render(request, "staff_home.html", member=member, links=links)


def _password_page(
    request: Request,
    member: StaffMember,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request, "staff_password.html", status_code=status_code, member=member, errors=errors or {}
    )


@router.get("/staff/password", name="staff:password_form")
def password_form(request: Request, member: AnyStaffChangingPassword) -> Response:
    """Change one's password; the first page after signing in with one that was handed over."""
    return _password_page(request, member)


@router.post("/staff/password", name="staff:change_password")
def change_password(
    request: Request,
    member: AnyStaffChangingPassword,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    repeated_password: Annotated[str, Form()] = "",
) -> Response:
    app = state(request)
    try:
        with app.db.transaction() as session:
            service.change_password(
                session,
                member=member,
                current=current_password,
                new=new_password,
                repeated=repeated_password,
                now=utcnow(),
            )
    except FormErrors as error:
        return _password_page(request, member, errors=field_errors(error), status_code=422)
    forget_staff(request)
    return RedirectResponse(
        public_url_for(request, "staff:home").include_query_params(password_changed="1"),
        status_code=303,
    )


@router.post("/staff/sign-out", name="staff:sign_out")
def sign_out(request: Request, member: AnyStaffChangingPassword) -> Response:
    session_id = request.session.get(STAFF_SESSION_KEY)
    app = state(request)
    if isinstance(session_id, str):
        with app.db.transaction() as session:
            service.sign_out(session, member=member, session_id=session_id, now=utcnow())
    request.session.clear()
    forget_staff(request)
    return RedirectResponse(
        public_url_for(request, "staff:sign_in").include_query_params(signed_out="1"),
        status_code=303,
    )
