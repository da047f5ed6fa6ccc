"""Lists for operators' own EIRs: the blacklist (every network's), and per operator the
notification list (grey IMEIs with that operator's SIMs, to warn) and the exceptions list
(clone pairings with that operator's SIMs, still let in).

Each generation is a numbered run whose lists are kept (one row each, the lines joined), so
the delta between any two runs is computed again at will (lines in the newer and not the
older are ``add``, the other way ``remove``). A list is its lines sorted (bytewise): the
same data at the same moment gives the same files.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Subquery, case, func, insert, literal, or_, select, text
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from mcqs.eir.errors import refused
from mcqs.eir.models import (
    BLACKLISTABLE,
    BlacklistReason,
    EirImei,
    EirPairing,
    ListFile,
    ListKind,
    ListRun,
    Operator,
    network_triplets,
)

# The lists name IMEIs by ``imei_norm``, the first 14 digits: what networks carry (the check
# digit is not sent) and what an EIR compares, as everywhere in the registry.
HEADERS = {
    ListKind.BLACKLIST: "imei_norm,reason",
    ListKind.NOTIFICATION: "imei_norm,imsi,msisdn,grace_until",
    ListKind.EXCEPTIONS: "imei_norm,imsi,msisdn",
}


def generate_lists(session: Session, *, operator: Operator, now: dt.datetime) -> ListRun:
    """A new numbered run of the operator's three lists, as of ``now``. Each list is one
    row (:class:`ListFile`): on PostgreSQL one INSERT … SELECT sorts and joins its lines in
    the database (a million lines in seconds, none of them through Python)."""
    run = ListRun(operator_id=operator.id, generated_at=now, as_of=now)
    session.add(run)
    session.flush()
    dialect = session.get_bind().dialect.name
    # Only the notification list can find a line twice (a triplet seen in several months or
    # imports);
    # a blacklist line is one IMEI's, an exceptions line one pairing's: no DISTINCT's sort.
    for kind, found, repeats in (
        (ListKind.BLACKLIST, _blacklist(now=now), False),
        (ListKind.NOTIFICATION, _notification(operator=operator, now=now, dialect=dialect), True),
        (ListKind.EXCEPTIONS, _exceptions(operator=operator), False),
    ):
        lines = (select(found.c.line).distinct() if repeats else select(found.c.line)).subquery()
        if dialect == "postgresql":
            # Sorted bytewise (COLLATE "C"), as Python sorts: the same list on SQLite.
            joined = func.string_agg(
                lines.c.line, aggregate_order_by(literal("\n"), lines.c.line.collate("C"))
            )
            session.execute(
                insert(ListFile).from_select(
                    ["run_id", "kind", "line_count", "lines"],
                    select(
                        literal(run.id),
                        literal(kind.value),
                        func.count(),
                        func.coalesce(joined, ""),
                    ).select_from(lines),
                )
            )
        else:
            every = sorted(session.scalars(select(lines.c.line)))
            session.add(
                ListFile(run_id=run.id, kind=kind, line_count=len(every), lines="\n".join(every))
            )
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
    joined = session.scalar(
        select(ListFile.lines).where(ListFile.run_id == run_id, ListFile.kind == kind)
    )
    return joined.split("\n") if joined else []


def full_csv(session: Session, *, run_id: int, kind: ListKind) -> str:
    joined = session.scalar(
        select(ListFile.lines).where(ListFile.run_id == run_id, ListFile.kind == kind)
    )
    return f"{HEADERS[kind]}\n{joined}\n" if joined else f"{HEADERS[kind]}\n"


def delta_csv(session: Session, *, since_run_id: int, run_id: int, kind: ListKind) -> str:
    """``change,`` + the list's columns: what to add and remove to go from one run's list
    to the other's."""
    old = set(list_lines(session, run_id=since_run_id, kind=kind))
    new = set(list_lines(session, run_id=run_id, kind=kind))
    changes = [(line, "add") for line in new - old] + [(line, "remove") for line in old - new]
    rows = [f"{change},{line}" for line, change in sorted(changes)]
    return "\n".join([f"change,{HEADERS[kind]}", *rows]) + "\n"


def _blacklist(*, now: dt.datetime) -> Subquery:
    """Every IMEI blacklisted for every SIM: stolen, clones (see the exceptions list), and
    unregistered ones past their grace period. The condition is :data:`BLACKLISTABLE` (the
    partial index's, so PostgreSQL reads the index alone) and, of those, the ones whose
    grace period has ended by ``now``: the same rows as the rule itself."""
    why = case(
        (EirImei.blacklist_reason == BlacklistReason.STOLEN.value, BlacklistReason.STOLEN.value),
        (EirImei.clone.is_(True), BlacklistReason.CLONE.value),
        else_=BlacklistReason.GRACE_EXPIRED.value,
    )
    return (
        select((EirImei.imei_norm + "," + why).label("line"))
        .where(
            text(f"({BLACKLISTABLE})"),
            or_(
                EirImei.blacklist_reason == BlacklistReason.STOLEN.value,
                EirImei.clone.is_(True),
                EirImei.grace_until <= now,
            ),
        )
        .subquery()
    )


def _notification(*, operator: Operator, now: dt.datetime, dialect: str) -> Subquery:
    if dialect == "postgresql":
        until = func.to_char(
            func.timezone("UTC", EirImei.grace_until), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
        )
    else:
        until = func.strftime("%Y-%m-%dT%H:%M:%SZ", EirImei.grace_until)
    # Who was seen with the IMEI, whatever the month: network_triplets, which reads the rows
    # appended by imports not folded yet without aggregating them (the list takes DISTINCT).
    seen = network_triplets.c
    line = EirImei.imei_norm + "," + seen.imsi + "," + seen.msisdn + "," + until
    return (
        select(line.label("line"))
        .join(network_triplets, seen.imei_norm == EirImei.imei_norm)
        .where(
            seen.operator_id == operator.id,
            text(f"({BLACKLISTABLE})"),
            EirImei.registered.is_(False),
            EirImei.clone.is_(False),
            EirImei.blacklist_reason.is_(None),
            EirImei.grace_until > now,
        )
        .subquery()
    )


def _exceptions(*, operator: Operator) -> Subquery:
    line = EirPairing.imei_norm + "," + EirPairing.imsi + "," + EirPairing.msisdn
    return (
        select(line.label("line"))
        .where(or_(*(EirPairing.imsi.startswith(prefix) for prefix in operator.prefixes)))
        .subquery()
    )
