"""The web application: citizen pages, health, and (demo, tests) the simulators."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response

from mcqs.applications.web import router as applications_router
from mcqs.config import Settings, get_settings
from mcqs.db import Database
from mcqs.errors import DomainError
from mcqs.pages import AppState, field_errors, render
from mcqs.payments.web import router as payments_router
from mcqs.receipts.web import router as receipts_router
from mcqs.services import Services


def create_app(settings: Settings | None = None, *, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = db or Database(settings.database_url)
    app = FastAPI(title="MCQS", docs_url="/api/docs", redoc_url=None)
    app.state.mcqs = AppState(settings=settings, db=db, services=Services.from_settings(settings))
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
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return JSONResponse({"status": "ok"})

    @app.exception_handler(DomainError)
    def domain_error_page(request: Request, error: DomainError) -> Response:
        message = " ".join(field_errors(error).values())
        return render(request, "error.html", status_code=error.status_code, message=message)

    if settings.mount_simulators:
        from mcqs.simulators.app import create_simulators_app

        app.mount("/_sim", create_simulators_app(settings), name="simulators")
    return app
