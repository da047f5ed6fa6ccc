"""Citizen sessions on the server: begun at sign-in, checked on every request, ended at
sign-out; a session ends too when left alone ``session_idle_minutes`` or, however busy,
``citizen_session_hours`` after signing in. The cookie carries only the session's random
id; its hash is the row's key, so a copy of the database opens no session."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.egov.models import CitizenSession
from mcqs.security.session_ids import new_session_id, session_id_hash


@dataclass(frozen=True)
class ActiveSession:
    fin: str
    name: str
    id_token: str


def _oldest_active(settings: Settings, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """(signed in after, seen after): what an active session must be."""
    return (
        now - dt.timedelta(hours=settings.citizen_session_hours),
        now - dt.timedelta(minutes=settings.session_idle_minutes),
    )


def begin_session(
    session: Session, *, settings: Settings, fin: str, name: str, id_token: str, now: dt.datetime
) -> str:
    """A new session for a citizen who signed in; returns its id for the cookie.

    Sessions ended or run out are purged here: sign-ins are what add rows, so the table
    stays about as large as the number of citizens signed in lately."""
    purge_ended_sessions(session, settings=settings, now=now)
    session_id = new_session_id()
    session.add(
        CitizenSession(
            id_hash=session_id_hash(session_id),
            fin=fin,
            name=name,
            id_token=id_token,
            signed_in_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return session_id


def active_session(
    session: Session, *, settings: Settings, session_id: str, now: dt.datetime
) -> ActiveSession | None:
    """The citizen signed in under this id, if the session is still active (not ended,
    not idle too long, not older than the maximum); marks it seen."""
    signed_in_after, seen_after = _oldest_active(settings, now)
    row = session.scalars(
        select(CitizenSession).where(
            CitizenSession.id_hash == session_id_hash(session_id),
            CitizenSession.ended_at.is_(None),
            CitizenSession.signed_in_at > signed_in_after,
            CitizenSession.last_seen_at > seen_after,
        )
    ).one_or_none()
    if row is None:
        return None
    # Every request, as for staff: written at most once a minute, a session ended up to a
    # minute before its idle limit.
    row.last_seen_at = now
    session.flush()
    return ActiveSession(fin=row.fin, name=row.name, id_token=row.id_token)


def end_session(session: Session, *, session_id: str, now: dt.datetime) -> str | None:
    """Sign-out: the session ends for every copy of its cookie. Returns its ID token (the
    portal's end-session hint), or None when it was not active."""
    row = session.scalars(
        select(CitizenSession).where(
            CitizenSession.id_hash == session_id_hash(session_id), CitizenSession.ended_at.is_(None)
        )
    ).one_or_none()
    if row is None:
        return None
    id_token = row.id_token
    row.ended_at, row.id_token = now, ""  # the token is not kept past its use as the hint
    session.flush()
    return id_token


def purge_ended_sessions(session: Session, *, settings: Settings, now: dt.datetime) -> None:
    """Forget sessions that can never be active again (ended, idle, or too old)."""
    signed_in_after, seen_after = _oldest_active(settings, now)
    session.execute(
        delete(CitizenSession).where(
            or_(
                CitizenSession.ended_at.is_not(None),
                CitizenSession.signed_in_at <= signed_in_after,
                CitizenSession.last_seen_at <= seen_after,
            )
        )
    )
