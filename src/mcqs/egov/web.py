"""Routes of the sign-in through the e-government portal: "Portala giriş", the portal's
callback, sign-out (ours, then the portal's end-session endpoint).

The portal is an outside party: no database transaction is open while it is asked."""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from authlib.integrations.starlette_client import OAuthError, StarletteOAuth2App
from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from mcqs import messages
from mcqs.db import utcnow
from mcqs.egov.client import LEEWAY_SECONDS, refusal_code
from mcqs.egov.sessions import begin_session, end_session
from mcqs.errors import ExternalServiceError, InvalidInput
from mcqs.identity.rules import normalize_fin
from mcqs.pages import (
    AppState,
    client_address,
    csrf_refused,
    csrf_valid,
    public_url_for,
    render,
    state,
)
from mcqs.principals import SESSION_KEY, AnyBrowser, forget_citizen

router = APIRouter()

# HTTP status of each refusal's page.
_STATUS = {
    "egov_unavailable": 503,
    "population_registry_unavailable": 503,
    "egov_person_unknown": 403,
    "egov_cancelled": 400,
    "sign_in_required": 401,
    "too_many_sign_ins": 429,
}


def _egov(request: Request) -> StarletteOAuth2App:
    return request.app.state.egov  # type: ignore[no-any-return]


def sign_in_refused(request: Request, code: str) -> Response:
    """Why signing in did not work, with a retry and the path without login."""
    # Shown at the callback's one-time address: the language switcher goes to egov:refused.
    request.state.shown_again_at = public_url_for(request, "egov:refused").include_query_params(
        reason=code
    )
    return render(
        request,
        "egov_refused.html",
        status_code=_STATUS.get(code, 403 if code.startswith("egov_token") else 400),
        message=messages.message(code),
        code=code,
    )


@router.get("/egov/refused", name="egov:refused")
def refused_again(request: Request, principal: AnyBrowser, reason: str = "") -> Response:
    """A refusal shown again (in another language): only a sign-in refusal's own code."""
    known = reason in _STATUS or reason.startswith("egov_")
    return sign_in_refused(request, reason if known and reason in messages.AZ else "egov_refused")


@router.get("/egov/sign-in", name="egov:sign_in")
async def sign_in(request: Request, principal: AnyBrowser) -> Response:
    """ "Portala giriş": to the portal's login page (state, nonce and the PKCE verifier are
    kept in this browser's signed session)."""
    # One sign-in in flight per browser: the state of an earlier, unfinished one is dropped,
    # or each press would add one to the cookie until it outgrew what browsers keep.
    for key in [key for key in request.session if key.startswith("_state_egov_")]:
        del request.session[key]
    if not state(request).sign_in_limiter.allow(client_address(request)):
        return sign_in_refused(request, "too_many_sign_ins")
    try:
        return await _egov(request).authorize_redirect(
            request, str(public_url_for(request, "egov:callback"))
        )
    except Exception as error:  # noqa: BLE001 - mapped, or raised again
        code = refusal_code(error)
        if code is None:
            raise
        return sign_in_refused(request, code)


@router.get("/egov/callback", name="egov:callback")
async def callback(request: Request, principal: AnyBrowser) -> Response:
    """The portal sends the browser back with a code: exchange it, check the ID token, and
    confirm the FİN with the population registry."""
    app = state(request)
    # Each callback, whatever its code, costs a call to the portal's token endpoint.
    if not app.sign_in_limiter.allow(client_address(request)):
        return sign_in_refused(request, "too_many_sign_ins")
    try:
        token: dict[str, Any] = await _egov(request).authorize_access_token(
            request, leeway=LEEWAY_SECONDS
        )
    except Exception as error:  # noqa: BLE001 - mapped, or raised again
        code = refusal_code(error)
        if code is None:
            raise
        return sign_in_refused(request, code)
    claims = token.get("userinfo")
    if not claims or not token.get("id_token"):
        return sign_in_refused(request, "egov_token_invalid")
    try:
        fin = normalize_fin(str(claims.get(app.settings.egov_fin_claim) or ""))
    except InvalidInput:
        return sign_in_refused(request, "egov_fin_missing")
    try:
        person = await run_in_threadpool(app.services.population.get_person, fin)
    except ExternalServiceError as error:
        return sign_in_refused(request, error.code)
    if person is None:
        return sign_in_refused(request, "egov_person_unknown")
    name = str(claims.get("name") or f"{person.name} {person.surname}")
    # A new session for the signed-in citizen (a new CSRF token too): nothing made before
    # signing in carries over, so nobody can plant a session for someone to sign into. It
    # lives on the server; the cookie carries only its random id.
    session_id = await run_in_threadpool(
        _begin, app, fin=fin, name=name, id_token=str(token["id_token"])
    )
    previous = request.session.get(SESSION_KEY)
    if isinstance(previous, str):  # signed in again over another sign-in: that one ends
        await run_in_threadpool(_end, app, previous)
    request.session.clear()
    request.session[SESSION_KEY] = session_id
    forget_citizen(request)
    return RedirectResponse(public_url_for(request, "applications:check_form"), status_code=303)


def _begin(app: AppState, *, fin: str, name: str, id_token: str) -> str:
    with app.db.transaction() as session:
        return begin_session(
            session, settings=app.settings, fin=fin, name=name, id_token=id_token, now=utcnow()
        )


def _end(app: AppState, session_id: str) -> str | None:
    with app.db.transaction() as session:
        return end_session(session, session_id=session_id, now=utcnow())


@router.post("/egov/sign-out", name="egov:sign_out")
async def sign_out(
    request: Request, principal: AnyBrowser, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Sign out here, then at the portal (RP-initiated logout), which sends the browser back
    to ``egov:signed_out``."""
    if not csrf_valid(request, csrf_token):
        refused = csrf_refused()[""]
        return render(request, "error.html", status_code=403, message=refused, code="csrf_refused")
    session_id = request.session.get(SESSION_KEY)
    # Ended on the server: a copy of this browser's cookie signs nobody in any more.
    id_token = (
        await run_in_threadpool(_end, state(request), session_id)
        if isinstance(session_id, str)
        else None
    )
    request.session.clear()
    forget_citizen(request)
    home = RedirectResponse(public_url_for(request, "home"), status_code=303)
    if not isinstance(id_token, str):
        return home
    try:
        to_portal = await _egov(request).logout_redirect(
            request,
            post_logout_redirect_uri=str(public_url_for(request, "egov:signed_out")),
            id_token_hint=id_token,
        )
    except Exception as error:  # noqa: BLE001 - signed out here all the same
        if refusal_code(error) is None and not isinstance(error, RuntimeError):
            raise
        return home
    return RedirectResponse(to_portal.headers["location"], status_code=303)


@router.get("/egov/signed-out", name="egov:signed_out")
async def signed_out(request: Request, principal: AnyBrowser) -> Response:
    """Where the portal's end-session endpoint sends the browser back. We signed out
    before going there; the ``state`` is checked and dropped."""
    with suppress(OAuthError):  # nothing to protect: this browser is signed out already
        await _egov(request).validate_logout_response(request)
    return RedirectResponse(public_url_for(request, "home"), status_code=303)
