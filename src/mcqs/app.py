"""The web application: citizen pages and health. (The demo adds the simulators:
``mcqs_simulators.demo``.)"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcqs import messages
from mcqs.applications.web import router as applications_router
from mcqs.back_office.web import router as back_office_router
from mcqs.config import Settings, get_settings
from mcqs.counter.web import router as counter_router
from mcqs.db import Database, utcnow
from mcqs.egov.client import egov_client
from mcqs.egov.web import router as egov_router
from mcqs.eir.api import mount_operator_api
from mcqs.eir.fast_check import CHECK_PATH, FrontDoor
from mcqs.errors import DomainError
from mcqs.health import check_health
from mcqs.i18n import LanguageMiddleware
from mcqs.my_devices.web import router as my_devices_router
from mcqs.pages import AppState, ShownError, field_errors, public_url_for, render
from mcqs.payments.web import RecentlyPending
from mcqs.payments.web import router as payments_router
from mcqs.principals import (
    SignInRequired,
    StaffPasswordChangeRequired,
    StaffSignInRequired,
    any_browser,
)
from mcqs.problems import problem_response
from mcqs.receipts.web import router as receipts_router
from mcqs.security.access_log import AccessLog
from mcqs.security.limits import WINDOW_SECONDS, ClientLimiter
from mcqs.services import Services
from mcqs.staff.web import router as staff_router
from mcqs.wiring import connect

log = logging.getLogger(__name__)


class Site(FastAPI):
    """FastAPI with the site's access log around the whole middleware stack (Starlette's
    own error middleware included, so a 500 is logged too), and an optional front door in
    front of FastAPI itself (whose own call costs every request a look at its telemetry
    settings): what the front door answers is not logged."""

    front_door: Callable[[ASGIApp], ASGIApp] | None = None
    _entrance: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._entrance is None:
            inner = partial(FastAPI.__call__, self)
            self._entrance = inner if self.front_door is None else self.front_door(inner)
        await self._entrance(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        return AccessLog(super().build_middleware_stack(), unlogged_when_answered=CHECK_PATH)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database(settings.database_url)
    # The API docs list every route and load scripts from a CDN: not in production.
    docs = settings.env in ("demo", "test")
    app = Site(
        title="MCQS",
        docs_url="/api/docs" if docs else None,
        openapi_url="/openapi.json" if docs else None,
        redoc_url=None,
    )
    connect()
    app.state.mcqs = AppState(
        settings=settings,
        db=db,
        services=Services.from_settings(settings),
        return_limiter=ClientLimiter(
            limit=settings.return_limit_per_client, window_seconds=WINDOW_SECONDS
        ),
        security_code_limiter=ClientLimiter(
            limit=settings.security_code_limit_per_client, window_seconds=WINDOW_SECONDS
        ),
        sign_in_limiter=ClientLimiter(
            limit=settings.egov_sign_in_limit_per_client, window_seconds=WINDOW_SECONDS
        ),
        staff_sign_in_limiter=ClientLimiter(
            limit=settings.staff_sign_in_limit_per_client, window_seconds=WINDOW_SECONDS
        ),
    )
    app.state.recently_pending = RecentlyPending()
    app.state.egov = egov_client(settings)
    # The cookie is signed again on every answer, so max_age is an idle timeout: a session
    # left alone this long is gone, in the browser and (the signature's age) on the server.
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="mcqs_session",
        max_age=settings.session_idle_minutes * 60,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    app.add_middleware(LanguageMiddleware, secure=settings.public_url.startswith("https://"))
    # Operators' machine API: bearer tokens, ProblemDetails, no session, no CSRF.
    mount_operator_api(app, settings, db)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"), name="static"
    )
    app.include_router(applications_router)
    app.include_router(payments_router)
    app.include_router(receipts_router)
    app.include_router(egov_router)
    app.include_router(my_devices_router)
    app.include_router(staff_router)
    app.include_router(counter_router)
    app.include_router(back_office_router)

    # Health checks answer anyone (a load balancer, a monitor): the anonymous principal.
    @app.get("/livez", include_in_schema=False, dependencies=[Depends(any_browser)])
    def livez() -> Response:
        """For a load balancer: this node answers and reaches the database. (Whether the
        worker runs is /healthz's question: a silent worker must not take every web node
        out of the pool.)"""
        with db.reading() as session:
            session.execute(text("SELECT 1"))
        return JSONResponse({"status": "ok"})

    @app.get("/healthz", include_in_schema=False, dependencies=[Depends(any_browser)])
    def healthz() -> Response:
        with db.reading() as session:
            report = check_health(session, settings=settings, now=utcnow())
        return JSONResponse(report.as_json(), status_code=report.status_code)

    protect = security_headers(settings)
    # A plain ASGI middleware, not @app.middleware("http"): that one copies every answer
    # through a second task and costs each request (a flood of them most of all).
    app.add_middleware(SecurityHeaders, protect=protect)

    # Outermost: a request for another host is refused before anything reads it.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_list)
    # In front of all of it, an operator's single check (see fast_check.FrontDoor).
    front_headers = MutableHeaders()
    protect(front_headers, CHECK_PATH)
    app.front_door = partial(
        FrontDoor,
        check=app.state.operator_api.state.check,
        allowed_hosts=settings.allowed_host_list,
        headers=front_headers.raw,
    )

    @app.exception_handler(StarletteHTTPException)
    def http_error_page(request: Request, error: StarletteHTTPException) -> Response:
        message = messages.message(
            "page_not_found" if error.status_code == 404 else "request_failed"
        )
        return render(request, "error.html", status_code=error.status_code, message=message)

    @app.exception_handler(RequestValidationError)
    def malformed_request_page(request: Request, error: RequestValidationError) -> Response:
        # A file posted to a text field, a repeated field...: the Azerbaijani page with the
        # field named, never FastAPI's JSON (which shows our internals).
        errors: dict[str, str] = {}
        for item in error.errors():
            field = str(item["loc"][-1]) if item.get("loc") else ""
            shown = ShownError(messages.message("field_not_text"), "field_not_text")
            errors.setdefault(field, shown)
        return render(
            request,
            "error.html",
            status_code=422,
            message=messages.message("request_malformed"),
            errors=errors,
        )

    @app.exception_handler(Exception)
    def unexpected_error_page(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        if not hasattr(request.app.state, "mcqs"):
            # An app mounted beside ours (the demo's simulators): not our page to render.
            return PlainTextResponse("Internal Server Error", status_code=500)
        message = messages.message("unexpected")
        page = render(request, "error.html", status_code=500, message=message)
        protect(page, request.url.path)  # answered outside the middleware
        return page

    @app.exception_handler(SignInRequired)
    def sign_in_required_page(request: Request, error: SignInRequired) -> Response:
        # Not a failed sign-in: a page for the signed-in only, and the way to sign in.
        return render(
            request,
            "sign_in_required.html",
            status_code=401,
            message=messages.message(error.code),
            code=error.code,
        )

    @app.exception_handler(StaffSignInRequired)
    def staff_sign_in_required(request: Request, error: StaffSignInRequired) -> Response:
        # A page sends the browser to sign in; a client asking for JSON gets 401.
        accept = request.headers.get("accept", "")
        if "json" in accept and "html" not in accept:
            return problem_response(401, messages.message(error.code), code=error.code)
        return RedirectResponse(public_url_for(request, "staff:sign_in"), status_code=303)

    @app.exception_handler(StaffPasswordChangeRequired)
    def staff_password_change_required(
        request: Request, error: StaffPasswordChangeRequired
    ) -> Response:
        accept = request.headers.get("accept", "")
        if "json" in accept and "html" not in accept:
            return problem_response(403, messages.message(error.code), code=error.code)
        return RedirectResponse(public_url_for(request, "staff:password_form"), status_code=303)

    @app.exception_handler(DomainError)
    def domain_error_page(request: Request, error: DomainError) -> Response:
        message = " ".join(field_errors(error).values())
        return render(
            request, "error.html", status_code=error.status_code, message=message, code=error.code
        )

    return app


def security_headers(settings: Settings) -> Any:
    """What every answer carries; returns a function that adds it to a response."""
    goldenpay = urlsplit(settings.goldenpay_base_url)
    # Signing out posts to us, and we send the browser on to the portal's end-session page.
    egov = urlsplit(settings.egov_discovery_url)
    # No inline script or style anywhere: the security-code picture (and its sound) are
    # data: URLs; a form may be sent only to us, whose "pay" answer redirects to GoldenPay.
    policy = "; ".join(
        [
            "default-src 'self'",
            "img-src 'self' data:",
            "media-src 'self' data:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"form-action 'self' {goldenpay.scheme}://{goldenpay.netloc} "
            f"{egov.scheme}://{egov.netloc}",
            "frame-ancestors 'none'",
        ]
    )
    https = settings.public_url.startswith("https://")
    # The API docs page (demo and tests only) is FastAPI's Swagger UI: scripts and styles
    # from its CDN and one inline script. Nothing personal is on it.
    docs_policy = (
        "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
        "style-src 'self' https://cdn.jsdelivr.net; img-src 'self' data: "
        "https://fastapi.tiangolo.com; frame-ancestors 'none'"
    )
    docs_path = "/api/docs" if settings.env in ("demo", "test") else None

    def protect(response: Response | MutableHeaders, path: str) -> None:
        headers = response.headers if isinstance(response, Response) else response
        # Pages carry notification codes in their URLs: never send them to another site;
        # and no page of ours may be framed by another (clickjacking the pay button).
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Content-Security-Policy", docs_policy if path == docs_path else policy)
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # Any answer may show personal data (a form typed back, a receipt, its PDF, a status,
        # a redirect naming a notification code): no copy in a shared computer's cache or
        # a proxy. Only the static files may be kept.
        if not path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"

    return protect


class SecurityHeaders:
    """Adds ``protect``'s headers to every answer as it starts, and to a 429 (a client over
    one of the per-minute limits) when it may try again."""

    def __init__(self, app: ASGIApp, *, protect: Any) -> None:
        self.app = app
        self.protect = protect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_protected(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                self.protect(headers, path)
                if message["status"] == 429:
                    headers.setdefault("Retry-After", str(WINDOW_SECONDS))
            await send(message)

        await self.app(scope, receive, send_protected)
