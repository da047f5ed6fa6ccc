"""IMEI holds: an IMEI is spoken for only while its fee is being paid, and once paid, until
the registry decides. A checked application that nobody pays for holds nothing, so one
person cannot keep other people's IMEIs blocked by checking them again and again.

The database keeps 'one unreleased hold per IMEI' (a partial unique index); two people
taking the same IMEI at the same moment end with one hold and one clean refusal.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import ColumnElement, Select, Table, or_, select, update
from sqlalchemy.orm import Session

from mcqs.applications.models import Application, ImeiHold
from mcqs.db import among, insert_rows
from mcqs.errors import Conflict
from mcqs.localtime import format_baku_by_minute_after


def _alive(now: dt.datetime | ColumnElement[dt.datetime]):  # type: ignore[no-untyped-def]
    return (ImeiHold.released_at.is_(None)) & (
        or_(ImeiHold.held_until.is_(None), ImeiHold.held_until > now)
    )


def holds_on(session: Session, imei_norms: list[str], *, now: dt.datetime) -> dict[str, ImeiHold]:
    """The live holds on these IMEIs (lapsed ones do not count), by IMEI."""
    if not imei_norms:
        return {}
    rows = session.scalars(
        select(ImeiHold).where(ImeiHold.imei_norm.in_(imei_norms), _alive(now))
    ).all()
    return {hold.imei_norm: hold for hold in rows}


def live_hold(
    imei_norm: ColumnElement[str], *, now: dt.datetime | ColumnElement[dt.datetime]
) -> Select[ImeiHold]:
    """The live hold on an IMEI (its key, an SQL expression), as a query to put inside
    another (at most one: the partial unique index); ``now`` a moment or a parameter."""
    return select(ImeiHold).where(ImeiHold.imei_norm == imei_norm, _alive(now))


def holders_on(session: Session, imei_norms: list[str], *, now: dt.datetime) -> dict[str, int]:
    """The applications holding these IMEIs (live holds only), by IMEI: :func:`holds_on`
    as plain values, for a batch."""
    if not imei_norms:
        return {}
    rows = session.execute(
        select(ImeiHold.imei_norm, ImeiHold.application_id).where(
            among(session, ImeiHold.imei_norm, imei_norms), _alive(now)
        )
    )
    return {norm: application_id for norm, application_id in rows}


def _release_lapsed(session: Session, imei_norms: list[str], *, now: dt.datetime) -> None:
    session.execute(
        update(ImeiHold)
        .where(
            ImeiHold.imei_norm.in_(imei_norms),
            ImeiHold.released_at.is_(None),
            ImeiHold.held_until.is_not(None),
            ImeiHold.held_until <= now,
        )
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )


HOLD_ALLOWANCE_WINDOW = dt.timedelta(hours=24)


def hold_time_used(session: Session, *, fin: str, imei_norm: str, now: dt.datetime) -> dt.timedelta:
    """How long this FİN has held this IMEI, unpaid, over the last day (a paid hold, with
    no end, does not count: it was used to pay)."""
    rows = session.execute(
        select(ImeiHold.held_from, ImeiHold.held_until, ImeiHold.released_at).where(
            ImeiHold.fin == fin,
            ImeiHold.imei_norm == imei_norm,
            ImeiHold.held_from > now - HOLD_ALLOWANCE_WINDOW,
            ImeiHold.held_until.is_not(None),
        )
    ).all()
    used = dt.timedelta()
    for held_from, held_until, released_at in rows:
        assert held_until is not None  # the query keeps only holds with an end
        end = min(released_at, held_until) if released_at else held_until
        used += max(end - held_from, dt.timedelta())
    return used


def hold_imeis(
    session: Session,
    *,
    application: Application,
    until: dt.datetime | None,
    now: dt.datetime,
    daily_allowance: dt.timedelta | None = None,
) -> dict[str, ImeiHold]:
    """Hold every IMEI of ``application`` until ``until`` (None: until decided).

    An IMEI it already holds keeps its hold, with ``until`` only when that is None (paid):
    a new payment session never lengthens a hold. Nor can one person chain sessions to
    keep an IMEI from others: a FİN holds one IMEI unpaid for at most ``daily_allowance``
    a day (refused with ``imei_hold_allowance_used``). Returns the live holds of *other*
    applications that stood in the way, by IMEI; empty when all are held."""
    # In one order for everybody: two applications for one dual-SIM phone, typed in
    # another order, would otherwise each wait for the other's second IMEI.
    norms = sorted(item.imei_norm for item in application.imeis)
    _release_lapsed(session, norms, now=now)
    if daily_allowance is not None and until is not None:
        for norm in norms:
            used = hold_time_used(session, fin=application.fin, imei_norm=norm, now=now)
            if used + (until - now) > daily_allowance:
                raise Conflict("imei_hold_allowance_used")
    own = {
        hold.imei_norm: hold
        for hold in session.scalars(
            select(ImeiHold).where(
                ImeiHold.application_id == application.id, ImeiHold.released_at.is_(None)
            )
        )
    }
    if until is None:  # paid: held until decided
        for hold in own.values():
            hold.held_until = None
    blocked = _take(
        session,
        application=application,
        imei_norms=[norm for norm in norms if norm not in own],
        until=until,
        now=now,
    )
    session.flush()
    return blocked


_HOLDS = cast(Table, ImeiHold.__table__)


def _take(
    session: Session,
    *,
    application: Application,
    imei_norms: list[str],
    until: dt.datetime | None,
    now: dt.datetime,
) -> dict[str, ImeiHold]:
    """Insert the holds with one statement, skipping an IMEI held already (the partial
    unique index decides, also against a transaction taking it at this moment); returns
    the live holds in the way. A second try covers a hold that lapsed between our look and
    our insert."""
    blocked: dict[str, ImeiHold] = {}
    left = imei_norms
    for _ in range(2):
        if not left:
            return blocked
        rows = [
            {
                "imei_norm": norm,
                "application_id": application.id,
                "fin": application.fin,
                "held_from": now,
                "held_until": until,
                "released_at": None,
            }
            for norm in left
        ]
        taken = {
            norm
            for (norm,) in insert_rows(
                session,
                _HOLDS,
                rows,
                returning=("imei_norm",),
                skip_conflicts_on=("imei_norm",),  # the index of unreleased holds
            )
        }
        left = [norm for norm in left if norm not in taken]
        blocked.update(holds_on(session, left, now=now))
        left = [norm for norm in left if norm not in blocked]
        if left:
            _release_lapsed(session, left, now=now)
    if left:
        raise RuntimeError(f"could not hold IMEI for application {application.id}")
    return blocked


def hold_conflict(hold: ImeiHold, *, field: str | None = None) -> Conflict:
    """What a citizen is told about an IMEI another application holds: paid and waiting
    for the registry, or being paid for until a time (rounded up: "after 21:04" is true)."""
    return held_until_conflict(hold.held_until, field=field)


def held_until_conflict(held_until: dt.datetime | None, *, field: str | None = None) -> Conflict:
    """:func:`hold_conflict` of a live hold that ends at ``held_until`` (None: paid)."""
    if held_until is None:
        return Conflict("imei_in_paid_application", field=field)
    until = format_baku_by_minute_after(held_until)
    return Conflict("imei_in_pending_application", field=field, until=until)


def release_holds(session: Session, *, application_id: int, now: dt.datetime) -> None:
    """The application is decided or given up: its IMEIs are free for others."""
    release_holds_of(session, application_ids=[application_id], now=now)


def release_holds_of(session: Session, *, application_ids: list[int], now: dt.datetime) -> None:
    """Several applications decided at once (the worker's batch): one statement."""
    session.execute(
        update(ImeiHold)
        .where(
            among(session, ImeiHold.application_id, application_ids),
            ImeiHold.released_at.is_(None),
        )
        .values(released_at=now)
        .execution_options(synchronize_session=False)
    )
