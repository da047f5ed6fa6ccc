"""Equipment status: the identifiers an EIR is asked about, and the answer.

A PEI is ``imei-`` + 15 digits or ``imeisv-`` + 16 (TS 23.003). Networks do not carry
the IMEI's check digit reliably (the UE may send 0), so it is not checked here: the key is
the first 14 digits, ``imei_norm``, as everywhere in the registry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from mcqs.eir.models import BlacklistReason, EirImei, EirPairing, EquipmentStatus

_PEI = re.compile(r"imei-([0-9]{15})|imeisv-([0-9]{16})")
_SUPI = re.compile(r"imsi-([0-9]{5,15})")
_GPSI = re.compile(r"msisdn-([0-9]{5,15})")
# Bulk: a bare IMEI / IMEISV too (14, 15 or 16 digits).
_BARE_IMEI = re.compile(r"[0-9]{14,16}")

# SQLite refuses more bound parameters than this in one statement.
_CHUNK = 30_000


@dataclass(frozen=True)
class InvalidParam:
    """One entry of ProblemDetails' ``invalidParams``."""

    param: str
    reason: str


def pei_key(pei: str) -> str | None:
    """``imei_norm`` of a PEI, or None when it is not an IMEI or IMEISV."""
    found = _PEI.fullmatch(pei)
    if found is None:
        return None
    return (found.group(1) or found.group(2))[:14]


def bulk_key(entry: str) -> str | None:
    """``imei_norm`` of a bulk entry: a PEI or a bare 14-16 digit IMEI."""
    entry = entry.strip()
    if _BARE_IMEI.fullmatch(entry):
        return entry[:14]
    return pei_key(entry)


_PEI_PREFIX = np.frombuffer(b"imei-", dtype=np.uint8)
_TEN_POWERS = 10 ** np.arange(13, -1, -1, dtype=np.int64)


def bulk_numbers(entries: Sequence[str]) -> Any:
    """The ``imei_norm`` of every entry as an int64 array, at once, when every entry is an
    ``imei-`` PEI (what networks send); None otherwise (then :func:`bulk_key` one by one)."""
    if not entries:
        return None
    joined = "\n".join(entries)
    # Rows of 21 characters, each "imei-", 15 digits and a newline: then the newlines are
    # exactly the n - 1 between entries and the one added, so each row is one entry, a PEI.
    # Checked as a matrix, at once.
    if len(joined) != 21 * len(entries) - 1 or not joined.isascii():
        return None
    rows = np.frombuffer((joined + "\n").encode("ascii"), dtype=np.uint8).reshape(-1, 21)
    digits = rows[:, 5:20] - np.uint8(ord("0"))  # not a digit: wraps around to 10 or more
    if not (
        (rows[:, :5] == _PEI_PREFIX).all() and (rows[:, 20] == 10).all() and (digits < 10).all()
    ):
        return None
    return digits[:, :14].astype(np.int64) @ _TEN_POWERS


def supi_imsi(supi: str) -> str | None:
    found = _SUPI.fullmatch(supi)
    return found.group(1) if found else None


def gpsi_msisdn(gpsi: str) -> str | None:
    found = _GPSI.fullmatch(gpsi)
    return found.group(1) if found else None


def check_query(
    pei: str | None, supi: str | None, gpsi: str | None
) -> tuple[str | None, str | None, str | None, list[InvalidParam]]:
    """Parse the three query parameters: (imei_norm, imsi, msisdn, what is wrong)."""
    wrong: list[InvalidParam] = []
    key = pei_key(pei) if pei else None
    if not pei:
        wrong.append(InvalidParam("query pei", "required"))
    elif key is None:
        wrong.append(InvalidParam("query pei", "not imei-<15 digits> or imeisv-<16 digits>"))
    imsi = supi_imsi(supi) if supi is not None else None
    if supi is not None and imsi is None:
        wrong.append(InvalidParam("query supi", "not imsi-<5 to 15 digits>"))
    msisdn = gpsi_msisdn(gpsi) if gpsi is not None else None
    if gpsi is not None and msisdn is None:
        wrong.append(InvalidParam("query gpsi", "not msisdn-<5 to 15 digits>"))
    return key, imsi, msisdn, wrong


def decide(
    *,
    registered: bool,
    grace_until: dt.datetime | None,
    clone: bool,
    reason: str | None,
    paired: bool,
    now: dt.datetime,
) -> EquipmentStatus | None:
    """The one rule of statuses. Stolen beats everything; a clone is blacklisted except
    with a SIM it is paired with; registered is whitelisted; otherwise the grace period
    decides (grey inside, black after: no run is needed for an expiry to show)."""
    if reason == BlacklistReason.STOLEN:
        return EquipmentStatus.BLACKLISTED
    if clone and not paired:
        return EquipmentStatus.BLACKLISTED
    if registered:
        return EquipmentStatus.WHITELISTED
    if grace_until is not None:
        return EquipmentStatus.GREYLISTED if now < grace_until else EquipmentStatus.BLACKLISTED
    if clone:
        return EquipmentStatus.WHITELISTED  # paired, and nothing else against it
    return None


def is_paired(session: Session, *, imei_norm: str, imsi: str | None, msisdn: str | None) -> bool:
    """The SIM asking is one the clone was already used with (by IMSI, else by MSISDN)."""
    if imsi is None and msisdn is None:
        return False
    query = select(EirPairing.imei_norm).where(EirPairing.imei_norm == imei_norm)
    if imsi is not None:
        query = query.where(EirPairing.imsi == imsi)
    else:
        query = query.where(EirPairing.msisdn == msisdn)
    return session.scalar(query.limit(1)) is not None


def equipment_status(
    session: Session,
    *,
    imei_norm: str,
    imsi: str | None,
    msisdn: str | None,
    now: dt.datetime,
) -> EquipmentStatus | None:
    """One IMEI's status for the SIM asking; None for unknown equipment. One primary-key
    lookup of the columns the rule reads, and a second only for a clone."""
    found = session.execute(
        select(
            EirImei.registered, EirImei.grace_until, EirImei.clone, EirImei.blacklist_reason
        ).where(EirImei.imei_norm == imei_norm)
    ).first()
    if found is None:
        return None
    registered, grace_until, clone, reason = found
    paired = clone and is_paired(session, imei_norm=imei_norm, imsi=imsi, msisdn=msisdn)
    return decide(
        registered=registered,
        grace_until=grace_until,
        clone=clone,
        reason=reason,
        paired=paired,
        now=now,
    )


def bulk_statuses(
    session: Session, keys: Sequence[str], *, now: dt.datetime
) -> dict[str, EquipmentStatus]:
    """Statuses of many IMEIs (no SIM given: a clone is blacklisted); unknown ones are
    left out of the answer."""
    answer: dict[str, EquipmentStatus] = {}
    columns = (
        EirImei.imei_norm,
        EirImei.registered,
        EirImei.grace_until,
        EirImei.clone,
        EirImei.blacklist_reason,
    )
    postgres = session.get_bind().dialect.name == "postgresql"
    for chunk in _chunks(sorted(set(keys)), _CHUNK):
        # PostgreSQL: one array parameter instead of thousands of bound values.
        wanted = (
            EirImei.imei_norm == any_(bindparam("keys", list(chunk), type_=ARRAY(String)))
            if postgres
            else EirImei.imei_norm.in_(chunk)
        )
        for imei_norm, registered, grace_until, clone, reason in session.execute(
            select(*columns).where(wanted)
        ):
            status = decide(
                registered=registered,
                grace_until=grace_until,
                clone=clone,
                reason=reason,
                paired=False,
                now=now,
            )
            if status is not None:
                answer[imei_norm] = status
    return answer


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
