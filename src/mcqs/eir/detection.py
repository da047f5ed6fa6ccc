"""Detection runs: grace periods that ended become blacklistings (told by SMS), and IMEIs
used with several IMSIs at overlapping times become clones with a pairing list.

A grace expiry shows in the status API at once without a run (the status is derived from
``grace_until``); the run records it — reason, source, run — for the lists and the
owners. A run that would blacklist more than ``MCQS_EIR_MAX_BLACKLIST_SHARE`` of all seen
IMEIs is refused, changing nothing, unless forced by name (a bad upload, a clock wrong by
a month, must not block a country). Each run is in the ledger, kind ``eir-detect``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.eir.errors import refused
from mcqs.eir.models import BlacklistReason, EirImei, EirPairing, NetworkSighting
from mcqs.eir.network_import import fold_sightings, serialise_network_writes
from mcqs.eir.service import tell_blocked
from mcqs.jobs.ledger import describe, finish_run, start_run

RUN_KIND = "eir-detect"


@dataclass
class DetectionReport:
    run_id: int
    seen: int = 0  # IMEIs ever seen on a network
    grace_expired: int = 0
    clones: int = 0
    pairings: int = 0
    forced: bool = False


def run_detection(
    db: Database,
    *,
    settings: Settings,
    started_by: str,
    force_over_safety_share: bool = False,
    now: dt.datetime | None = None,
) -> DetectionReport:
    """Classify in one transaction; refused (``detection_over_safety_share``) when it
    would blacklist too many, unless ``force_over_safety_share``."""
    now = now or utcnow()
    run_id = start_run(db, kind=RUN_KIND, source="eir_imeis", started_by=started_by)
    report = DetectionReport(run_id=run_id, forced=force_over_safety_share)
    try:
        with db.transaction() as session:
            serialise_network_writes(session)
            fold_sightings(session)  # the run reads every sighting: cheaper folded
            report.seen = _seen(session)
            expired = _grace_expired(session, now=now)
            clones = _clones(session, threshold=settings.eir_clone_imsi_threshold)
            count = len(expired) + len(set(clones) - set(expired))
            share = count / report.seen if report.seen else 0.0
            if share > settings.eir_max_blacklist_share and not force_over_safety_share:
                raise refused(
                    "detection_over_safety_share",
                    count=count,
                    seen=report.seen,
                    share=share,
                    limit=settings.eir_max_blacklist_share,
                )
            register_url = f"{settings.public_url}/register"
            for row in expired:
                row.blacklist_reason = BlacklistReason.GRACE_EXPIRED
                row.blacklisted_at = now
                row.blacklist_source = "detection"
                row.blacklist_run_id = run_id
                row.updated_at = now
                tell_blocked(
                    session,
                    imei_norm=row.imei_norm,
                    msisdns=_msisdns_of(session, row.imei_norm),
                    register_url=register_url,
                )
            report.grace_expired = len(expired)
            for imei_norm, pairs in sorted(clones.items()):
                row = session.get_one(EirImei, imei_norm)
                row.clone = True
                row.updated_at = now
                for imsi, msisdn in sorted(pairs):
                    session.merge(
                        EirPairing(imei_norm=imei_norm, imsi=imsi, msisdn=msisdn, run_id=run_id)
                    )
                    report.pairings += 1
            report.clones = len(clones)
            session.flush()
    except BaseException as exc:
        finish_run(db, run_id, outcome="failed", counts=asdict(report), detail=describe(exc))
        raise
    detail = f"{report.grace_expired} grace periods ended, {report.clones} clones"
    finish_run(db, run_id, outcome="ok", counts=asdict(report), detail=detail)
    return report


def _seen(session: Session) -> int:
    """IMEIs ever seen on a network: in a sighting, or first seen by a status check."""
    seen = union(
        select(NetworkSighting.imei_norm),
        select(EirImei.imei_norm).where(EirImei.first_seen_at.is_not(None)),
    ).subquery()
    return session.scalar(select(func.count()).select_from(seen)) or 0


def _grace_expired(session: Session, *, now: dt.datetime) -> list[EirImei]:
    return list(
        session.scalars(
            select(EirImei)
            .where(
                EirImei.registered.is_(False),
                EirImei.grace_until.is_not(None),
                EirImei.grace_until <= now,
                EirImei.blacklist_reason.is_(None),
            )
            .order_by(EirImei.imei_norm)
        )
    )


def _clones(session: Session, *, threshold: int) -> dict[str, set[tuple[str, str]]]:
    """New clone candidates: IMEIs seen with ``threshold`` or more IMSIs at one time (their
    first-to-last-seen intervals overlap) -> every (IMSI, MSISDN) pair they were used with."""
    candidates = (
        select(NetworkSighting.imei_norm)
        .join(EirImei, EirImei.imei_norm == NetworkSighting.imei_norm)
        .where(EirImei.clone.is_(False))
        .group_by(NetworkSighting.imei_norm)
        .having(func.count(func.distinct(NetworkSighting.imsi)) >= threshold)
    )
    rows = session.execute(
        select(
            NetworkSighting.imei_norm,
            NetworkSighting.imsi,
            NetworkSighting.msisdn,
            NetworkSighting.first_seen,
            NetworkSighting.last_seen,
        ).where(NetworkSighting.imei_norm.in_(candidates))
    )
    spans: dict[str, dict[str, tuple[dt.date, dt.date]]] = defaultdict(dict)
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for imei_norm, imsi, msisdn, first, last in rows:
        old = spans[imei_norm].get(imsi)
        spans[imei_norm][imsi] = (min(first, old[0]), max(last, old[1])) if old else (first, last)
        pairs[imei_norm].add((imsi, msisdn))
    return {
        imei_norm: pairs[imei_norm]
        for imei_norm, by_imsi in spans.items()
        if _most_at_once(list(by_imsi.values())) >= threshold
    }


def _most_at_once(spans: list[tuple[dt.date, dt.date]]) -> int:
    """The most intervals (days, both ends included) that hold one same day."""
    events = sorted([(first, 0) for first, _ in spans] + [(last, 1) for _, last in spans])
    most = current = 0
    for _day, kind in events:  # a start sorts before an end on the same day
        current += 1 if kind == 0 else -1
        most = max(most, current)
    return most


def _msisdns_of(session: Session, imei_norm: str) -> set[str]:
    return set(
        session.scalars(
            select(NetworkSighting.msisdn).where(NetworkSighting.imei_norm == imei_norm).distinct()
        )
    )
