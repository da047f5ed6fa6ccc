"""The web application: citizen pages and health. (The demo adds the simulators:
``mcqs_simulators.demo``.)"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response

from mcqs import messages
from mcqs.applications.web import router as applications_router
from mcqs.config import Settings, get_settings
from mcqs.db import Database, utcnow
from mcqs.errors import DomainError
from mcqs.health import check_health
from mcqs.pages import AppState, field_errors, render
from mcqs.payments.web import router as payments_router
from mcqs.receipts.web import router as receipts_router
from mcqs.security.limits import ClientLimiter
from mcqs.services import Services
from mcqs.wiring import connect

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database(settings.database_url)
    app = FastAPI(title="MCQS", docs_url="/api/docs", redoc_url=None)
    connect()
    app.state.mcqs = AppState(
        settings=settings,
        db=db,
        services=Services.from_settings(settings),
        return_limiter=ClientLimiter(limit=settings.return_limit_per_client, window_seconds=60),
    )
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="mcqs_session",
        max_age=24 * 3600,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).resolve().parent / "static"), name="static"
    )
    app.include_router(applications_router)
    app.include_router(payments_router)
    app.include_router(receipts_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        with db.reading() as session:
            report = check_health(session, settings=settings, now=utcnow())
        return JSONResponse(report.as_json(), status_code=report.status_code)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        # Pages carry notification codes in their URLs: never send them to another site;
        # and no page of ours may be framed by another (clickjacking the pay button).
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.exception_handler(StarletteHTTPException)
    def http_error_page(request: Request, error: StarletteHTTPException) -> Response:
        message = messages.AZ["page_not_found" if error.status_code == 404 else "request_failed"]
        return render(request, "error.html", status_code=error.status_code, message=message)

    @app.exception_handler(Exception)
    def unexpected_error_page(request: Request, error: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return render(request, "error.html", status_code=500, message=messages.AZ["unexpected"])

    @app.exception_handler(DomainError)
    def domain_error_page(request: Request, error: DomainError) -> Response:
        message = " ".join(field_errors(error).values())
        return render(request, "error.html", status_code=error.status_code, message=message)

    return app
