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

from mcqs.db import Database, utcnow
from mcqs.egov.sessions import active_session
from mcqs.errors import DomainError, NotFound

# Where the signed-in citizen's session id is kept in the (signed) session cookie: only
# the id; the FİN, the name and the ID token stay in the citizen_sessions row.
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
    """The citizen whose server-side session this browser's cookie names, if that session
    is active (not signed out, not idle too long, not older than the maximum). Looked up
    once per request."""
    if hasattr(request.state, "citizen"):
        return request.state.citizen  # type: ignore[no-any-return]
    citizen: SignedInCitizen | None = None
    session_id = request.session.get(SESSION_KEY)
    if isinstance(session_id, str) and session_id:
        app = request.app.state.mcqs
        with app.db.transaction() as session:
            active = active_session(
                session, settings=app.settings, session_id=session_id, now=utcnow()
            )
        if active is None:
            # Signed out (here or in another copy of this cookie), or run out: this browser
            # is a new anonymous one from now on. Everything the session held goes with it,
            # so the applications it remembered while signed in are not reachable from a
            # copy of the cookie.
            request.session.clear()
        else:
            citizen = SignedInCitizen(fin=active.fin, name=active.name)
    request.state.citizen = citizen
    return citizen


def forget_citizen(request: Request) -> None:
    """After signing in or out: the next look-up reads the session again."""
    if hasattr(request.state, "citizen"):
        del request.state.citizen


def is_own(principal: Browser, fin: str) -> bool:
    """Whether ``principal`` is the signed-in citizen of this FİN."""
    return isinstance(principal, SignedInCitizen) and principal.fin == fin


def refuse_another_citizens(principal: Browser, fin: str) -> None:
    """The rule of every route that names an application (its form, receipt, PDF, status,
    payment): a signed-in citizen reaches only their own FİN's, and another's answers
    exactly as a notification code that does not exist (404)."""
    if isinstance(principal, SignedInCitizen) and not is_own(principal, fin):
        raise NotFound("notification_code_unknown", field="code")


# Sync dependencies: FastAPI runs them in its thread pool, so the session's look-up never
# blocks the event loop of an async route.
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
