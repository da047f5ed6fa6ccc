"""Guard rails: mistakes that a review would have to catch every time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mcqs import messages
from mcqs.db import Base, Database
from mcqs.principals import AnyBrowser  # module level: the test's routes resolve it

SRC = Path(__file__).resolve().parent.parent / "src" / "mcqs"
RAISED = re.compile(
    r"\b(?:InvalidInput|Conflict|NotFound|TooManyRequests|ExternalServiceError"
    r"|DomainError)\(\s*\"([a-z0-9_]+)\""
)


def test_migrations_create_exactly_the_models(db: Database) -> None:
    import mcqs.models  # noqa: F401

    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_every_error_a_citizen_can_meet_has_words() -> None:
    codes = set()
    for path in SRC.rglob("*.py"):  # the simulators, other parties' apps, are not in SRC
        codes |= set(RAISED.findall(path.read_text(encoding="utf-8")))
    assert codes, "the pattern finds the raised codes"
    missing = sorted(c for c in codes if c not in messages.AZ and c not in messages.OPERATOR_EN)
    assert missing == []


def test_every_rejection_reason_has_words() -> None:
    source = (SRC / "registrations" / "service.py").read_text(encoding="utf-8")
    reasons = set(re.findall(r'(?:reason(?:=| = )|return )"([a-z_]+)"', source))
    assert reasons and reasons <= set(messages.REJECT_REASONS_AZ)


FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.DOTALL)


def test_every_form_that_posts_carries_the_csrf_token() -> None:
    forms = [
        (template.name, attributes, body)
        for template in sorted((SRC / "templates").glob("*.html"))
        for attributes, body in FORM.findall(template.read_text(encoding="utf-8"))
    ]
    assert forms, "the pattern finds the forms"
    for name, attributes, body in forms:
        method = re.search(r'method="(get|post)"', attributes)
        assert method, f"{name}: a form says its method"
        # A GET form changes nothing, and a token in its URL would leak into logs and history.
        if method.group(1) == "post":
            assert 'name="csrf_token" value="{{ csrf_token }}"' in body, name


def _routes(client: Any, method: str) -> list[str]:
    """The app's routes answering ``method``, as its OpenAPI schema lists them."""
    paths = client.app.openapi()["paths"]
    return sorted(path for path, methods in paths.items() if method.lower() in methods)


def test_every_post_route_refuses_a_post_without_the_csrf_token(client: Any) -> None:
    paths = _routes(client, "POST")
    assert paths
    for path in paths:
        client.get("/register")  # a session with a token of its own
        answer = client.post(path, data={}, follow_redirects=False)
        assert answer.status_code == 403, path
        assert 'data-error="csrf_refused"' in answer.text, path


def test_every_page_answers_no_store(flow: Any, client: Any, demo_imeis: list[str]) -> None:
    """Every GET route (a new one is checked the day it is added) as the browser that paid
    sees it, receipts and the PDF included: no copy of personal data in any cache."""
    code = flow.register_and_pay(imeis=(demo_imeis[0],))
    samples = {"code": code}
    answered = {}
    for path in _routes(client, "GET"):
        url = path.format(**samples) + (f"?code={code}" if path == "/status" else "")
        answer = client.get(url, follow_redirects=False)
        answered[path] = answer.status_code
        assert answer.headers.get("cache-control") == "no-store", url
    assert answered["/receipts/{code}"] == answered["/receipts/{code}/pdf"] == 200
    assert client.get("/status").headers["cache-control"] == "no-store"
    assert client.get("/static/site.css").headers.get("cache-control") != "no-store"


def test_status_columns_have_their_check_constraints_by_name(db: Database) -> None:
    """The names the models give (``ck_<table>_<name>``), not doubled by the migration."""
    from sqlalchemy import inspect

    inspector = inspect(db.engine)
    names = {
        check["name"]
        for table in ("applications", "payments", "refunds", "sms_messages", "jobs")
        for check in inspector.get_check_constraints(table)
    }
    assert {
        "ck_applications_application_status",
        "ck_applications_application_language",
        "ck_payments_payment_status",
        "ck_payments_payment_failure_reason",
        "ck_refunds_refund_status",
        "ck_sms_messages_sms_status",
        "ck_jobs_job_status",
    } <= names


# ---- who is asking: every route declares its principal ----------------------------------------

# Not routes of ours: FastAPI's API docs (demo and test only) and the static files.
NO_PRINCIPAL = {"/openapi.json", "/api/docs", "/docs/oauth2-redirect", "/static"}


def _principals_of(route: Any) -> set[Any]:
    """The principal dependencies a route declares, directly or through its dependencies."""
    from mcqs.principals import declares_principal

    found, pending = set(), [route.dependant]
    while pending:
        dependant = pending.pop()
        if declares_principal(dependant.call):
            found.add(dependant.call)
        pending.extend(dependant.dependencies)
    return found


def _routes_without_a_principal(app: Any) -> list[str]:
    from conftest import api_routes

    declared = api_routes(app.routes)
    others = [
        getattr(route, "path", repr(route))
        for route in app.routes
        if not hasattr(route, "original_router") and route not in declared
    ]
    missing = [f"{sorted(r.methods)} {r.path}" for r in declared if not _principals_of(r)]
    return missing + [path for path in others if path not in NO_PRINCIPAL]


def test_every_route_declares_the_principal_it_accepts(client: Any) -> None:
    from conftest import api_routes

    assert len(api_routes(client.app.routes)) >= 15, "the walk finds the included routers' routes"
    assert _routes_without_a_principal(client.app) == []


def test_the_principal_guard_rail_catches_a_route_that_declares_none(client: Any) -> None:
    from fastapi import APIRouter, FastAPI

    router = APIRouter()

    @router.get("/forgot")
    def forgot() -> None: ...

    @router.get("/declared")
    def declared(principal: AnyBrowser) -> None: ...

    app = FastAPI(docs_url=None, openapi_url=None)
    app.include_router(router)
    app.mount("/files", client.app)  # a mount that is not a route of ours
    assert _routes_without_a_principal(app) == ["['GET'] /forgot", "/files"]
