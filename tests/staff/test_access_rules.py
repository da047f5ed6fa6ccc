"""The access rules of every staff route, present and future: every route under /staff,
/counter, /supervisor and /back-office is walked from the app, and

- without a staff session it is refused (a page: to the sign-in page; JSON: 401);
- each role its principal does not admit gets 403 ``staff_role_refused``;
- a route naming a point's record answers staff of another point 404, as for a record
  that does not exist (the records are made by ``route_samples.SAMPLES``).

The roles come from the route itself (``principals.admitted_roles``), so a new route is
checked the day it is added, with no list to keep here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from staff.route_samples import SAMPLES, Sample
from staff.signing_in import Staff, create_point, create_staff, csrf_of, sign_in
from starlette.responses import PlainTextResponse

from mcqs.config import Settings
from mcqs.db import Database

# Module level: the probe route's annotations are resolved from here.
from mcqs.principals import (
    StaffMember,
    admitted_roles,
    api_routes,
    refuse_another_point,
    staff_member,
)
from mcqs.staff.models import POINT_ROLES, StaffRole

STAFF_PREFIXES = ("/staff", "/counter", "/supervisor", "/back-office")
# The sign-in pages themselves: open to anyone (the principal is the anonymous browser).
SIGN_IN = {"/staff/sign-in", "/staff/sign-in/code"}
PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


def staff_routes(app: Any) -> list[tuple[str, str, frozenset[StaffRole]]]:
    """(method, path, admitted roles) of every staff route but the sign-in pages."""
    found = []
    for route in api_routes(app.routes):
        if not route.path.startswith(STAFF_PREFIXES) or route.path in SIGN_IN:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            found.append((method, route.path, admitted_roles(route)))
    return found


# ---- the guard rail's own probe: a point-scoped route, so the walk is seen to refuse ----
PROBE = "/counter/_guard-rail-probe/{probe_point}"


def _probe_router() -> Any:
    router = APIRouter()

    @router.get(PROBE)
    def probe(
        probe_point: int,
        member: Annotated[
            StaffMember,
            Depends(staff_member(StaffRole.COUNTER_AGENT, StaffRole.POINT_SUPERVISOR)),
        ],
    ) -> PlainTextResponse:
        refuse_another_point(member, probe_point)
        return PlainTextResponse("seen")

    return router


@pytest.fixture(autouse=True)
def probe_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe's record is its owner's point (its id in the path)."""
    sample = Sample(make=lambda db, owner: str(owner.point.id if owner.point else 0))
    monkeypatch.setitem(SAMPLES, "probe_point", sample)


def _app(settings: Settings, db: Database) -> Any:
    from mcqs.app import create_app

    app = create_app(settings, db=db)
    app.include_router(_probe_router())
    return app


def _client(settings: Settings, db: Database) -> Iterator[Any]:
    from starlette.testclient import TestClient

    with TestClient(_app(settings, db)) as client:
        yield client


@pytest.fixture
def client(app_settings: Settings, catalogue: Database) -> Iterator[Any]:  # type: ignore[override]
    """The app with the probe route."""
    yield from _client(app_settings, catalogue)


def _ask(client: Any, method: str, url: str, **kwargs: Any) -> Any:
    if method == "GET":
        return client.get(url, follow_redirects=False, **kwargs)
    token = csrf_of(client.get("/staff/sign-in").text) if method != "GET" else ""
    return client.request(method, url, data={"csrf_token": token}, follow_redirects=False, **kwargs)


def _url(path: str, values: dict[str, str] | None = None) -> str:
    return PARAM.sub(lambda m: (values or {}).get(m.group(1), "1"), path)


def test_every_staff_route_admits_named_roles_only(client: Any) -> None:
    routes = staff_routes(client.app)
    assert ("GET", "/staff", frozenset(StaffRole)) in routes, "the walk finds the staff routes"
    for method, path, roles in routes:
        assert roles, f"{method} {path} declares no staff principal (staff_member(...))"
        for name in PARAM.findall(path):
            assert name in SAMPLES, f"{method} {path}: add '{name}' to route_samples.SAMPLES"


def test_every_staff_route_refuses_someone_not_signed_in(client: Any) -> None:
    for method, path, _roles in staff_routes(client.app):
        page = _ask(client, method, _url(path))
        assert page.status_code == 303, f"{method} {path}"
        assert page.headers["location"].endswith("/staff/sign-in"), f"{method} {path}"
        api = _ask(client, method, _url(path), headers={"Accept": "application/json"})
        assert api.status_code == 401, f"{method} {path}"
        assert api.json()["code"] == "staff_sign_in_required"


@pytest.fixture
def by_role(app_settings: Settings, catalogue: Database) -> Iterator[dict[StaffRole, Any]]:
    """A client signed in as each role (the point roles at one point)."""
    point = create_point(catalogue)
    clients: dict[StaffRole, Any] = {}
    opened = []
    for role in StaffRole:
        staff = create_staff(catalogue, role=role, point=point if role in POINT_ROLES else None)
        context = _client(app_settings, catalogue)
        client = next(context)
        sign_in(client, staff)
        clients[role] = client
        opened.append(context)
    yield clients
    for context in opened:
        next(context, None)


def test_every_staff_route_refuses_each_role_it_does_not_admit(
    client: Any, by_role: dict[StaffRole, Any]
) -> None:
    checked = 0
    for method, path, roles in staff_routes(client.app):
        for role in set(StaffRole) - roles:
            answer = _ask(by_role[role], method, _url(path))
            assert answer.status_code == 403, f"{role} {method} {path}"
            assert 'data-error="staff_role_refused"' in answer.text, f"{role} {method} {path}"
            checked += 1
    assert checked >= 2, "the probe refuses back office and admin"


def test_every_point_scoped_route_answers_another_points_staff_as_not_found(
    app_settings: Settings, catalogue: Database, client: Any
) -> None:
    routes = [
        (method, path, roles)
        for method, path, roles in staff_routes(client.app)
        if PARAM.search(path)
        and all(SAMPLES[name].point_scoped for name in PARAM.findall(path))
        and roles & POINT_ROLES
    ]
    assert ("GET", PROBE) in {(method, path) for method, path, _ in routes}
    home, other = create_point(catalogue), create_point(catalogue)
    owner = create_staff(catalogue, role=StaffRole.COUNTER_AGENT, point=home)
    for method, path, roles in routes:
        values = {name: SAMPLES[name].make(catalogue, owner) for name in PARAM.findall(path)}
        for role in roles & POINT_ROLES:
            stranger: Staff = create_staff(catalogue, role=role, point=other)
            for ask in _client(app_settings, catalogue):
                sign_in(ask, stranger)
                answer = _ask(ask, method, _url(path, values))
                assert answer.status_code == 404, f"{role} of another point: {method} {path}"
    # ...and the owner's point is answered (the 404 above is the rule, not a broken probe).
    for ask in _client(app_settings, catalogue):
        sign_in(ask, owner)
        assert ask.get(_url(PROBE, {"probe_point": str(home.id)})).text == "seen"
