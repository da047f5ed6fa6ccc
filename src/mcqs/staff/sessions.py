"""Staff sessions on the server, the twin of ``egov.sessions`` for citizens: the cookie
holds a random id, the row its SHA-256. A session is *half* (password accepted, code
awaited) until the one-time code verifies it, which retires its id for a new one. Both
end after ``staff_idle_minutes`` left alone, and at most ``staff_session_hours`` after
signing in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Select, delete, or_, select
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.security.session_ids import new_session_id, session_id_hash
from mcqs.staff.models import RegistrationPoint, StaffAccount, StaffRole, StaffSession


def _oldest_active(settings: Settings, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(started after, seen after): what an active session must be."""
    return (
        now - dt.timedelta(hours=settings.staff_session_hours),
        now - dt.timedelta(minutes=settings.staff_idle_minutes),
    )


def begin_session(
    session: Session, *, settings: Settings, account_id: int, now: dt.datetime
) -> str:
    """A half session after the password; returns its id for the cookie. Purges what can
    never be active again (sign-ins are what add rows)."""
    purge_ended_sessions(session, settings=settings, now=now)
    session_id = new_session_id()
    session.add(
        StaffSession(
            id_hash=session_id_hash(session_id),
            account_id=account_id,
            started_at=now,
            verified_at=None,
            last_seen_at=now,
            failed_codes=0,
        )
    )
    session.flush()
    return session_id


def _active(
    settings: Settings, now: dt.datetime, session_id: str, *, verified: bool
) -> Select[StaffSession]:
    started_after, seen_after = _oldest_active(settings, now)
    return select(StaffSession).where(
        StaffSession.id_hash == session_id_hash(session_id),
        StaffSession.ended_at.is_(None),
        StaffSession.verified_at.is_not(None) if verified else StaffSession.verified_at.is_(None),
        StaffSession.started_at > started_after,
        StaffSession.last_seen_at > seen_after,
    )


def half_session(
    session: Session, *, settings: Settings, session_id: str, now: dt.datetime, lock: bool = False
) -> StaffSession | None:
    """The half session under this id, if still active."""
    query = _active(settings, now, session_id, verified=False)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def verify_session(
    session: Session, *, settings: Settings, row: StaffSession, now: dt.datetime
) -> str:
    """The code was right: the half session ends and a verified one begins under a new id
    (an id seen before the second factor never becomes a signed-in one)."""
    row.ended_at = now
    session_id = new_session_id()
    session.add(
        StaffSession(
            id_hash=session_id_hash(session_id),
            account_id=row.account_id,
            started_at=row.started_at,
            verified_at=now,
            last_seen_at=now,
            failed_codes=0,
        )
    )
    session.flush()
    return session_id


@dataclass(frozen=True)
class ActiveStaff:
    account_id: int
    username: str
    role: StaffRole
    point_id: int | None
    point_code: str | None
    must_change_password: bool


def active_staff(
    session: Session, *, settings: Settings, session_id: str, now: dt.datetime
) -> ActiveStaff | None:
    """Who is signed in under this id: a verified, active session of an account that is
    still active and not locked; marks the session seen."""
    row = session.scalars(_active(settings, now, session_id, verified=True)).one_or_none()
    if row is None:
        return None
    found = session.execute(
        select(StaffAccount, RegistrationPoint.code)
        .outerjoin(RegistrationPoint, RegistrationPoint.id == StaffAccount.point_id)
        .where(StaffAccount.id == row.account_id)
    ).one_or_none()
    if found is None:
        return None
    account, point_code = found
    if not account.active or account.locked_at is not None:
        return None
    # Every request: the idle limit is exact (staff requests are few; written at most
    # once a minute, a session could end a minute early).
    row.last_seen_at = now
    session.flush()
    return ActiveStaff(
        account.id,
        account.username,
        account.role,
        account.point_id,
        point_code,
        account.must_change_password,
    )


def end_session(session: Session, *, session_id: str, now: dt.datetime) -> bool:
    """Sign-out: the session (half or verified) ends for every copy of its cookie.
    Returns whether it was open."""
    row = session.scalars(
        select(StaffSession).where(
            StaffSession.id_hash == session_id_hash(session_id), StaffSession.ended_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        return False
    row.ended_at = now
    session.flush()
    return True


def purge_ended_sessions(session: Session, *, settings: Settings, now: dt.datetime) -> None:
    started_after, seen_after = _oldest_active(settings, now)
    session.execute(
        delete(StaffSession).where(
            or_(
                StaffSession.ended_at.is_not(None),
                StaffSession.started_at <= started_after,
                StaffSession.last_seen_at <= seen_after,
            )
        )
    )
