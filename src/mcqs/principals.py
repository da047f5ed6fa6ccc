"""The edge: who is asking, and the database handle, as FastAPI dependencies.

Every route declares the principal it accepts with one of :data:`PRINCIPAL_DEPENDENCIES`
(a guard-rail test walks the routes and fails on one that declares none):

- :func:`any_browser` — an anonymous browser or a citizen signed in through e-gov
  (the citizen pages, which work either way; health checks);
- :func:`signed_in_citizen` — a citizen signed in through e-gov only ("Mənim cihazlarım");
- :func:`staff_member` — the counter and back office to come: refuses everyone for now.

The database dependency hands over the :class:`~mcqs.db.Database`, not a session: a
route opens short transactions (``db.transaction()``, ``db.reading()``) around its
domain steps, so no transaction is held open across the request, nor while an outside
party (the registry, GoldenPay, e-gov) is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from mcqs.db import Database
from mcqs.errors import DomainError

# Where a signed-in citizen is kept in the (signed) session cookie.
SESSION_KEY = "citizen"


@dataclass(frozen=True)
class AnonymousBrowser:
    """A browser nobody signed in on: it sees in full only the applications it made."""


@dataclass(frozen=True)
class SignedInCitizen:
    """A citizen signed in through the e-government portal: the FİN is the ID token's
    claim, checked against the population registry at sign-in."""

    fin: str
    name: str


@dataclass(frozen=True)
class StaffMember:
    """Reserved: staff of a registration point (post office, operator's shop) or of the
    back office, with a role and a point. Nobody is one yet."""

    username: str
    role: str
    point: str


Browser = AnonymousBrowser | SignedInCitizen


class SignInRequired(DomainError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("sign_in_required")


class StaffOnly(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("staff_not_available")


def citizen_in_session(request: Request) -> SignedInCitizen | None:
    value = request.session.get(SESSION_KEY)
    if not isinstance(value, dict):
        return None
    fin, name = value.get("fin"), value.get("name")
    if not isinstance(fin, str) or not isinstance(name, str):
        return None
    return SignedInCitizen(fin=fin, name=name)


def any_browser(request: Request) -> Browser:
    """Anyone with a browser: the signed-in citizen, or an anonymous browser."""
    return citizen_in_session(request) or AnonymousBrowser()


def signed_in_citizen(request: Request) -> SignedInCitizen:
    """Only a citizen signed in through e-gov; anyone else is asked to sign in (401)."""
    citizen = citizen_in_session(request)
    if citizen is None:
        raise SignInRequired()
    return citizen


def staff_member(request: Request) -> StaffMember:
    """Staff pages do not exist yet: every request is refused (403)."""
    raise StaffOnly()


def database(request: Request) -> Database:
    """The configured database; routes open short transactions on it, never one per
    request (see the module's docstring)."""
    return request.app.state.mcqs.db  # type: ignore[no-any-return]


AnyBrowser = Annotated[Browser, Depends(any_browser)]
CitizenOnly = Annotated[SignedInCitizen, Depends(signed_in_citizen)]
StaffOnlyPrincipal = Annotated[StaffMember, Depends(staff_member)]
Db = Annotated[Database, Depends(database)]

#: What a route must depend on, directly or through a router's dependencies.
PRINCIPAL_DEPENDENCIES = (any_browser, signed_in_citizen, staff_member)
