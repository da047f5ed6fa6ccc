"""The edge: who is asking, and the database handle, as FastAPI dependencies.

Every route declares the principal it accepts with one of :data:`PRINCIPAL_DEPENDENCIES`
(a guard-rail test walks the routes and fails on one that declares none):

- :func:`any_browser` — an anonymous browser or a citizen signed in through e-gov
  (the citizen pages, which work either way; health checks);
- :func:`signed_in_citizen` — a citizen signed in through e-gov only ("Mənim cihazlarım");
- :func:`staff_member` — staff signed in with a password and a one-time code, in one of
  the roles the route names: ``member: Annotated[StaffMember,
  Depends(staff_member(StaffRole.COUNTER_AGENT, StaffRole.POINT_SUPERVISOR))]`` (or a
  module-level alias of it, as :data:`AnyStaff`). Someone
  not signed in is sent to the staff sign-in page (401 for a client that asks for JSON);
  another role gets 403 ``staff_role_refused``. Routes naming a point's data call
  :func:`refuse_another_point`, which answers another point's data as not existing (404).

The database dependency hands over the :class:`~mcqs.db.Database`, not a session: a
route opens short transactions (``db.transaction()``, ``db.reading()``) around its
domain steps, so no transaction is held open across the request, nor while an outside
party (the registry, GoldenPay, e-gov) is asked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from mcqs.db import Database, utcnow
from mcqs.egov.sessions import active_session
from mcqs.errors import DomainError, NotFound
from mcqs.staff.models import POINT_ROLES, StaffRole
from mcqs.staff.sessions import active_staff

# Where the signed-in citizen's session id is kept in the (signed) session cookie: only
# the id; the FİN, the name and the ID token stay in the citizen_sessions row.
SESSION_KEY = "citizen"
# Where a signed-in (or half signed-in) staff member's session id is kept: only the id.
STAFF_SESSION_KEY = "staff"


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
    """Staff signed in with a password and a one-time code: a counter agent or a point
    supervisor (of one registration point), back office or an administrator (no point).
    ``client_address`` is where this request came from, for the audit log; a
    StaffMember is what :func:`mcqs.audit.service.record_staff_action` takes."""

    account_id: int
    username: str
    role: StaffRole
    point_id: int | None
    point_code: str | None
    client_address: str
    # Signed in with a password an administrator handed over: only the page to change it
    # opens until then.
    must_change_password: bool = False

    @property
    def at_a_point(self) -> bool:
        """Whether this member works at one point and sees only its data."""
        return self.role in POINT_ROLES


Browser = AnonymousBrowser | SignedInCitizen


class SignInRequired(DomainError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("sign_in_required")


class StaffSignInRequired(DomainError):
    """No staff member is signed in: a page sends the browser to the staff sign-in page,
    a JSON client gets 401 (``app.staff_sign_in_required``)."""

    status_code = 401

    def __init__(self) -> None:
        super().__init__("staff_sign_in_required")


class CsrfRefused(DomainError):
    """A staff form posted without this session's CSRF token."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("csrf_refused")


class StaffPasswordChangeRequired(DomainError):
    """Signed in with a handed-over password: the page to change it comes first."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("staff_password_change_required")


class StaffRoleRefused(DomainError):
    """Signed in, but this route is not for this role."""

    status_code = 403

    def __init__(self) -> None:
        super().__init__("staff_role_refused")


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


async def _citizen(request: Request) -> SignedInCitizen | None:
    """:func:`citizen_in_session` for a dependency: a session that names a citizen is looked
    up in the thread pool (the database is never asked on the event loop); a browser whose
    session names none, most of them, is answered at once (a hop to the thread pool and
    back cost every anonymous request more than anything else its principal needs)."""
    if hasattr(request.state, "citizen") or not request.session.get(SESSION_KEY):
        return citizen_in_session(request)  # already known, or no database to ask
    return await run_in_threadpool(citizen_in_session, request)


async def any_browser(request: Request) -> Browser:
    """Anyone with a browser: the signed-in citizen, or an anonymous browser."""
    return await _citizen(request) or AnonymousBrowser()


async def signed_in_citizen(request: Request) -> SignedInCitizen:
    """Only a citizen signed in through e-gov; anyone else is asked to sign in (401)."""
    citizen = await _citizen(request)
    if citizen is None:
        raise SignInRequired()
    return citizen


def staff_in_session(request: Request) -> StaffMember | None:
    """The staff member whose verified session this browser's cookie names, if it is
    active (not signed out, not idle ``staff_idle_minutes``, the account not locked or
    deactivated meanwhile). Looked up once per request."""
    if hasattr(request.state, "staff"):
        return request.state.staff  # type: ignore[no-any-return]
    member: StaffMember | None = None
    session_id = request.session.get(STAFF_SESSION_KEY)
    if isinstance(session_id, str) and session_id:
        app = request.app.state.mcqs
        with app.db.transaction() as session:
            found = active_staff(
                session, settings=app.settings, session_id=session_id, now=utcnow()
            )
        if found is not None:
            member = StaffMember(
                account_id=found.account_id,
                username=found.username,
                role=found.role,
                point_id=found.point_id,
                point_code=found.point_code,
                client_address=request.client.host if request.client else "unknown",
                must_change_password=found.must_change_password,
            )
    request.state.staff = member
    return member


def forget_staff(request: Request) -> None:
    """After signing in or out: the next look-up reads the session again."""
    if hasattr(request.state, "staff"):
        del request.state.staff


@dataclass(frozen=True)
class StaffGuard:
    """The dependency ``staff_member(*roles)`` makes: the signed-in staff member, if in
    one of ``roles``. It keeps the roles, so the guard-rail test reads from each route
    whom it admits and tries every other role against it."""

    roles: frozenset[StaffRole]
    # The page to change one's password (and signing out): open to a member who must.
    while_changing_password: bool = False

    async def __call__(self, request: Request) -> StaffMember:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            # Every staff form is checked here, before anything else: a forged post is
            # refused the same whether or not someone is signed in.
            from mcqs.pages import csrf_valid  # pages builds on this module

            # A form posts it as a field; a script (fetch) may send it as a header.
            posted = request.headers.get("x-csrf-token") or (await request.form()).get("csrf_token")
            if not isinstance(posted, str) or not csrf_valid(request, posted):
                raise CsrfRefused()
        member = await run_in_threadpool(staff_in_session, request)
        if member is None:
            raise StaffSignInRequired()
        if member.role not in self.roles:
            raise StaffRoleRefused()
        if member.must_change_password and not self.while_changing_password:
            raise StaffPasswordChangeRequired()
        return member


def staff_member(*roles: StaffRole) -> StaffGuard:
    """A route's staff principal:
    ``member: Annotated[StaffMember, Depends(staff_member(ROLE, …))]``. At least one role;
    every role must be named (no "any staff" by omission)."""
    if not roles:
        raise ValueError("staff_member() needs the roles the route admits")
    return StaffGuard(frozenset(StaffRole(role) for role in roles))


#: Every staff role: for the pages every member uses (the staff home, signing out).
ANY_STAFF = tuple(StaffRole)


def refuse_another_point(
    member: StaffMember,
    point_id: int | None,
    *,
    code: str = "staff_record_unknown",
    field: str | None = None,
) -> None:
    """The rule of every staff route that names a point's data (an application made at a
    counter, a day, an agent): a counter agent or supervisor reaches only their own
    point's, and another point's answers exactly as a record that does not exist (404
    ``code``: pass the code the route gives for an unknown id). Back office and
    administrators see every point."""
    if member.at_a_point and member.point_id != point_id:
        raise NotFound(code, field=field)


def database(request: Request) -> Database:
    """The configured database; routes open short transactions on it, never one per
    request (see the module's docstring)."""
    return request.app.state.mcqs.db  # type: ignore[no-any-return]


AnyBrowser = Annotated[Browser, Depends(any_browser)]
CitizenOnly = Annotated[SignedInCitizen, Depends(signed_in_citizen)]
AnyStaff = Annotated[StaffMember, Depends(staff_member(*ANY_STAFF))]
#: Any staff member, even one who must change the password first (that page, sign-out).
AnyStaffChangingPassword = Annotated[
    StaffMember, Depends(StaffGuard(frozenset(ANY_STAFF), while_changing_password=True))
]
Db = Annotated[Database, Depends(database)]

#: What a route must depend on, directly or through a router's dependencies (besides a
#: :class:`StaffGuard`, which ``declares_principal`` recognises).
PRINCIPAL_DEPENDENCIES = (any_browser, signed_in_citizen)


def declares_principal(call: Callable[..., Any] | None) -> bool:
    """Whether a dependency is one of the principals a route may declare."""
    return call in PRINCIPAL_DEPENDENCIES or isinstance(call, StaffGuard)


def staff_roles_of(call: Callable[..., Any] | None) -> frozenset[StaffRole] | None:
    """The roles a staff principal dependency admits (None: not a staff principal)."""
    return call.roles if isinstance(call, StaffGuard) else None


def api_routes(routes: list[Any]) -> list[Any]:
    """Every FastAPI route of an app's (or router's) ``routes``, those of included routers
    too (FastAPI keeps an included router as one entry holding the original router)."""
    from fastapi.routing import APIRoute

    found: list[Any] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def admitted_roles(route: Any) -> frozenset[StaffRole]:
    """The staff roles a route admits: those of the staff principals it declares, directly
    or through its dependencies (none: not a staff route). The staff home page links by
    it, and the guard-rail test tries every other role against it."""
    roles: frozenset[StaffRole] | None = None
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        found = staff_roles_of(dependant.call)
        if found is not None:  # two guards on one route: both must admit
            roles = found if roles is None else roles & found
        pending.extend(dependant.dependencies)
    return roles or frozenset()
