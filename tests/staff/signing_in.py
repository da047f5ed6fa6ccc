"""Staff for tests: make a registration point and an account, and sign a TestClient in
as it the way a browser does (password, then the authenticator app's code from pyotp).

    from staff.signing_in import create_point, create_staff, signed_in_client

    point = create_point(db, code="POST-1")
    agent = create_staff(db, role=StaffRole.COUNTER_AGENT, point=point)
    with signed_in_client(app_settings, catalogue, agent) as client:
        client.get("/counter")

or, with a client the test has already: ``sign_in(client, agent)``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from mcqs.audit.service import RecordedActor
from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.staff.models import POINT_ROLES, PointKind, StaffRole
from mcqs.staff.service import add_account, add_point

# Who the audit log names for the points and accounts a test makes.
TEST_ADMIN = RecordedActor(None, "test-setup", "admin", None, "test")
# What making them writes in the audit log (tests of other actions leave these out).
SETUP_ACTIONS = frozenset({"points.added", "staff.account_added"})

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Point:
    id: int
    code: str


@dataclass(frozen=True)
class Staff:
    """An account made for a test, with what signing in as it takes."""

    account_id: int
    username: str
    password: str
    totp_secret: str
    role: StaffRole
    point: Point | None

    def code(self, *, at: dt.datetime | None = None) -> str:
        """The authenticator app's code now (or at ``at``)."""
        return pyotp.TOTP(self.totp_secret).at(at or utcnow())


def create_point(
    db: Database,
    *,
    code: str | None = None,
    kind: PointKind = PointKind.POST_OFFICE,
    name: str = "Bakı 1 saylı poçt şöbəsi",
) -> Point:
    code = code or f"TEST-{next(_numbers):03d}"
    with db.transaction() as session:
        point = add_point(
            session,
            by=TEST_ADMIN,
            code=code,
            name=name,
            address="Bakı, Nizami küç. 1",
            kind=kind,
            operator_name="Azercell" if kind == PointKind.OPERATOR_SHOP else None,
            now=utcnow(),
        )
        return Point(point.id, point.code)


def create_staff(
    db: Database,
    *,
    role: StaffRole = StaffRole.COUNTER_AGENT,
    point: Point | None = None,
    username: str | None = None,
    password: str = PASSWORD,
    enrolled: bool = True,
) -> Staff:
    """An account; a point role without ``point`` gets a new point of its own. Enrolled
    (a TOTP secret known to the test) unless ``enrolled=False``: then the first sign-in
    shows the enrolment page and its secret."""
    if role in POINT_ROLES and point is None:
        point = create_point(db)
    if role not in POINT_ROLES:
        point = None
    username = username or f"{role.value.replace('_', '-')}-{next(_numbers)}"
    secret = pyotp.random_base32()
    with db.transaction() as session:
        account = add_account(
            session,
            by=TEST_ADMIN,
            username=username,
            password=password,
            role=role,
            point_code=point.code if point else None,
            totp_secret=secret if enrolled else None,
            now=utcnow(),
        )
        return Staff(
            account.id, account.username, password, secret if enrolled else "", role, point
        )


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page's form carries a CSRF token"
    return found.group(1)


def type_password(client: Any, username: str, password: str) -> httpx.Response:
    """The first step: the sign-in page's form, posted."""
    page = client.get("/staff/sign-in")
    return client.post(
        "/staff/sign-in",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def type_code(client: Any, code: str) -> httpx.Response:
    """The second step: the code page's form, posted."""
    page = client.get("/staff/sign-in/code")
    assert page.status_code == 200, page.text[:500]
    return client.post(
        "/staff/sign-in/code",
        data={"totp_code": code, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def enrolment_secret(client: Any) -> str:
    """The secret the enrolment page shows (as text beside its QR code)."""
    page = client.get("/staff/sign-in/code")
    found = _SECRET.search(page.text)
    assert found, "the enrolment page shows the secret"
    return found.group(1)


def sign_in(client: Any, staff: Staff) -> httpx.Response:
    """Sign ``client`` in as ``staff`` (enrolling first if needed); returns the answer to
    the code (a redirect to /staff)."""
    answer = type_password(client, staff.username, staff.password)
    assert answer.status_code == 303, answer.text[:1000]
    secret = staff.totp_secret or enrolment_secret(client)
    answer = type_code(client, pyotp.TOTP(secret).now())
    assert answer.status_code == 303, answer.text[:1000]
    return answer


@contextmanager
def signed_in_client(settings: Settings, db: Database, staff: Staff) -> Iterator[Any]:
    """A TestClient of the app, signed in as ``staff``."""
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    with TestClient(create_app(settings, db=db)) as client:
        sign_in(client, staff)
        yield client
