"""Lists for operators' own EIRs: the blacklist (every network's), and per operator the
notification list (grey IMEIs with that operator's SIMs, to warn) and the exceptions list
(clone pairings with that operator's SIMs, still let in).

Each generation is a numbered run whose lines are kept, so the delta between any two runs
is computed again at will (lines in the newer and not the older are ``add``, the other
way ``remove``). A list is its lines sorted: the same data at the same moment gives the
same files.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.orm import Session

from mcqs.devices.imei import imei_with_check_digit
from mcqs.eir.errors import refused
from mcqs.eir.models import (
    BlacklistReason,
    EirImei,
    EirPairing,
    ListEntry,
    ListKind,
    ListRun,
    NetworkSighting,
    Operator,
)

HEADERS = {
    ListKind.BLACKLIST: "imei,reason",
    ListKind.NOTIFICATION: "imei,imsi,msisdn,grace_until",
    ListKind.EXCEPTIONS: "imei,imsi,msisdn",
}
_BATCH = 10_000


def generate_lists(session: Session, *, operator: Operator, now: dt.datetime) -> ListRun:
    """A new numbered run of the operator's three lists, as of ``now``."""
    run = ListRun(operator_id=operator.id, generated_at=now, as_of=now)
    session.add(run)
    session.flush()
    for kind, lines in (
        (ListKind.BLACKLIST, _blacklist(session, now=now)),
        (ListKind.NOTIFICATION, _notification(session, operator=operator, now=now)),
        (ListKind.EXCEPTIONS, _exceptions(session, operator=operator)),
    ):
        batch: list[dict[str, object]] = []
        for line in sorted(set(lines)):
            batch.append({"run_id": run.id, "kind": kind, "line": line})
            if len(batch) >= _BATCH:
                session.execute(insert(ListEntry), batch)
                batch = []
        if batch:
            session.execute(insert(ListEntry), batch)
    session.flush()
    return run


def get_run(session: Session, *, operator: Operator, run_id: int) -> ListRun:
    run = session.get(ListRun, run_id)
    if run is None or run.operator_id != operator.id:
        raise refused("list_run_unknown", run=run_id)
    return run


def latest_run(session: Session, *, operator: Operator) -> ListRun | None:
    return session.scalar(
        select(ListRun).where(ListRun.operator_id == operator.id).order_by(ListRun.id.desc())
    )


def list_lines(session: Session, *, run_id: int, kind: ListKind) -> list[str]:
    return list(
        session.scalars(
            select(ListEntry.line)
            .where(ListEntry.run_id == run_id, ListEntry.kind == kind)
            .order_by(ListEntry.line)
        )
    )


def full_csv(session: Session, *, run_id: int, kind: ListKind) -> str:
    lines = [HEADERS[kind], *list_lines(session, run_id=run_id, kind=kind)]
    return "\n".join(lines) + "\n"


def delta_csv(session: Session, *, since_run_id: int, run_id: int, kind: ListKind) -> str:
    """``change,`` + the list's columns: what to add and remove to go from one run's list
    to the other's."""
    old = set(list_lines(session, run_id=since_run_id, kind=kind))
    new = set(list_lines(session, run_id=run_id, kind=kind))
    changes = [(line, "add") for line in new - old] + [(line, "remove") for line in old - new]
    rows = [f"{change},{line}" for line, change in sorted(changes)]
    return "\n".join([f"change,{HEADERS[kind]}", *rows]) + "\n"


def _blacklist(session: Session, *, now: dt.datetime) -> Iterator[str]:
    """Every IMEI blacklisted for every SIM: stolen, clones (see the exceptions list), and
    unregistered ones past their grace period."""
    query = select(
        EirImei.imei_norm, EirImei.blacklist_reason, EirImei.clone, EirImei.registered
    ).where(
        or_(
            EirImei.blacklist_reason == BlacklistReason.STOLEN,
            EirImei.clone.is_(True),
            and_(
                EirImei.registered.is_(False),
                EirImei.grace_until.is_not(None),
                EirImei.grace_until <= now,
            ),
        )
    )
    for imei_norm, reason, clone, _registered in session.execute(query):
        if reason == BlacklistReason.STOLEN:
            why = BlacklistReason.STOLEN
        elif clone:
            why = BlacklistReason.CLONE
        else:
            why = BlacklistReason.GRACE_EXPIRED
        yield f"{imei_with_check_digit(imei_norm)},{why}"


def _notification(session: Session, *, operator: Operator, now: dt.datetime) -> Iterator[str]:
    query = (
        select(EirImei.imei_norm, NetworkSighting.imsi, NetworkSighting.msisdn, EirImei.grace_until)
        .join(NetworkSighting, NetworkSighting.imei_norm == EirImei.imei_norm)
        .where(
            NetworkSighting.operator_id == operator.id,
            EirImei.registered.is_(False),
            EirImei.clone.is_(False),
            EirImei.blacklist_reason.is_(None),
            EirImei.grace_until > now,
        )
        .distinct()
    )
    for imei_norm, imsi, msisdn, grace_until in session.execute(query):
        until = grace_until.strftime("%Y-%m-%dT%H:%M:%SZ") if grace_until else ""
        yield f"{imei_with_check_digit(imei_norm)},{imsi},{msisdn},{until}"


def _exceptions(session: Session, *, operator: Operator) -> Iterator[str]:
    query = select(EirPairing.imei_norm, EirPairing.imsi, EirPairing.msisdn).where(
        or_(*(EirPairing.imsi.startswith(prefix) for prefix in operator.prefixes))
    )
    for imei_norm, imsi, msisdn in session.execute(query):
        yield f"{imei_with_check_digit(imei_norm)},{imsi},{msisdn}"
