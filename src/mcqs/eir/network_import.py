"""Import what an operator's network saw: ``date,imei,imsi,msisdn,rat`` (CSV, or a zip
holding one), in the pattern of the TAC import (``devices/tac_import.py``).

1. The run goes into the ledger (``operator_runs``, kind ``import-network``), in a
   transaction of its own, before anything else: a refused file is on record too.
2. The file is checked: its shape (one CSV in a zip, UTF-8, comma-separated, the header,
   a last line cut short), then every row (:func:`_parse_row`, :data:`REJECT_REASONS`).
   Too many rejected rows, or too many IMSIs of other operators, refuse the file.
3. One transaction stores it, all or nothing: the sightings (per IMEI, IMSI, MSISDN and
   month, first and last seen kept by min/max, the radio technologies OR-ed, so uploading
   a file twice changes nothing) and the first sightings of unregistered IMEIs, whose
   grace periods start with an SMS to the numbers using them.

SQLite (the demo) aggregates the rows in memory and merges them into the folded sightings.
PostgreSQL checks and appends a block of rows at a time, at about a bare COPY's speed
(the section "PostgreSQL" below; decision record 0006).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import queue
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.db import Database, among, insert_rows, utcnow
from mcqs.eir.errors import refused
from mcqs.eir.models import NEVER_SEEN_UNREGISTERED, EirImei, FoldedSighting
from mcqs.eir.network_rows import ActivityRows, Ints, read_rows
from mcqs.eir.operators import operator_by_code
from mcqs.eir.service import tell_grace_started_all
from mcqs.jobs.ledger import describe, finish_run, start_run
from mcqs.jobs.models import OperatorRun
from mcqs.jobs.queue import enqueue
from mcqs.localtime import baku_day

RUN_KIND = "import-network"
HEADER = ("date", "imei", "imsi", "msisdn", "rat")
# Radio access technology, as networks name it -> its bit in a sighting's rats.
RAT_BITS = {"2G": 1, "GSM": 1, "3G": 2, "UMTS": 2, "WCDMA": 2, "4G": 4, "LTE": 4, "5G": 8, "NR": 8}
REJECT_REASONS = (
    "field_count",
    "date_invalid",
    "date_in_future",
    "imei_empty",
    "imei_not_digits",  # hex letters, '*', '#', ...
    "imei_too_short",  # fewer than 14 digits
    "imei_too_long",  # more than 16
    "imsi_invalid",
    "imsi_other_country",
    "imsi_other_operator",
    "msisdn_invalid",
    "rat_unknown",
)
OTHER_OPERATOR_REASONS = ("imsi_other_country", "imsi_other_operator")
_EXAMPLES_PER_REASON = 5
_BATCH = 5000

Triplet = tuple[dt.date, str, str, str]  # month, imei_norm, imsi, msisdn


@dataclass
class NetworkImportReport:
    operator: str
    sha256: str
    outcome: str = "imported"  # or "unchanged": this exact file was imported before
    read: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)
    triplets: int = 0
    imeis: int = 0
    grace_started: int = 0
    # Seconds each step took (PostgreSQL: stage, check, merge, detect), kept in the ledger:
    # where a slow import spends its time.
    seconds: dict[str, float] = field(default_factory=dict)

    def reject(self, reason: str, line: int) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        lines = self.examples.setdefault(reason, [])
        if len(lines) < _EXAMPLES_PER_REASON:
            lines.append(line)

    def summary(self) -> str:
        rejected = ", ".join(f"{r} {n}" for r, n in sorted(self.rejected.items()))
        return (
            f"{self.operator}: {self.outcome}; {self.read} rows read, {self.accepted} accepted, "
            f"{sum(self.rejected.values())} rejected"
            + (f" ({rejected})" if rejected else "")
            + f"; {self.triplets} triplet-months, {self.imeis} IMEIs, "
            f"{self.grace_started} grace periods started"
        )


@dataclass
class _Aggregate:
    first: dt.date
    last: dt.date
    rats: int


def import_network_file(
    db: Database,
    *,
    operator_code: str,
    content: bytes,
    filename: str,
    settings: Settings,
    started_by: str,
    now: dt.datetime | None = None,
) -> NetworkImportReport:
    """Import one upload of an operator's network activity; see the module's docstring.

    Any refusal raises :class:`~mcqs.eir.errors.OperatorInputRefused` after marking the
    run ``failed``; the registry is then as it was."""
    now = now or utcnow()
    sha256 = hashlib.sha256(content).hexdigest()
    run_id = start_run(
        db, kind=RUN_KIND, source=f"{operator_code}:{sha256}:{filename}", started_by=started_by
    )
    report = NetworkImportReport(operator=operator_code, sha256=sha256)
    try:
        with db.reading() as session:
            operator = operator_by_code(session, operator_code)
            if operator is None:
                raise refused("operator_unknown", operator=operator_code)
            operator_id, prefixes = operator.id, operator.prefixes
            done_before = _imported_before(session, operator_code=operator_code, sha256=sha256)
        if done_before:
            report.outcome = "unchanged"
        elif db.engine.dialect.name == "postgresql":
            _import_in_postgresql(
                db,
                _staged_bytes(content, filename),
                report,
                operator_id=operator_id,
                prefixes=prefixes,
                settings=settings,
                run_id=run_id,
                now=now,
            )
        else:
            csv_text = _staged_text(content, filename)
            sightings = _read_rows(
                csv_text,
                report,
                prefixes=prefixes,
                home_mcc=settings.network_home_mcc,
                today=baku_day(now),
            )
            _check_thresholds(report, settings)
            with db.transaction() as session:
                serialise_network_writes(session)
                # Asked again under the lock: the same file uploaded twice at once.
                if _imported_before(session, operator_code=operator_code, sha256=sha256):
                    report.outcome = "unchanged"
                else:
                    _merge(session, sightings, operator_id=operator_id)
                    report.grace_started = _first_sightings(
                        session, sightings, settings=settings, run_id=run_id, now=now
                    )
                    report.triplets = len(sightings)
                    report.imeis = len({key[1] for key in sightings})
                    _mark_merged(session, run_id)
    except BaseException as exc:
        finish_run(db, run_id, outcome="failed", counts=asdict(report), detail=describe(exc))
        raise
    finish_run(db, run_id, outcome="ok", counts=asdict(report), detail=report.summary())
    return report


def _mark_merged(session: Session, run_id: int) -> None:
    # Marked done in the same transaction as the merge, so a concurrent twin sees it.
    session.execute(
        update(OperatorRun).where(OperatorRun.id == run_id).values(outcome="ok", detail="merged")
    )


# ---- staging and checking -------------------------------------------------------------------


def _staged_text(content: bytes, filename: str) -> str:
    """The CSV text of an upload: the file itself, or the one file a zip holds."""
    return _staged_bytes(content, filename).decode("utf-8")


def _staged_bytes(content: bytes, filename: str) -> bytes:
    """The CSV of an upload as bytes, checked to be UTF-8 (without its byte order mark)."""
    if content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise refused("network_zip_not_one_file", count=len(members))
                content = archive.read(members[0])
        except zipfile.BadZipFile:
            raise refused("network_zip_not_one_file", count=0) from None
    content = content.removeprefix(b"\xef\xbb\xbf")
    if not content.isascii():
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise refused("network_file_not_utf8") from None
    return content


def _read_rows(
    text: str,
    report: NetworkImportReport,
    *,
    prefixes: tuple[str, ...],
    home_mcc: str,
    today: dt.date,
) -> dict[Triplet, _Aggregate]:
    lines = text.split("\n")
    # A file that ends with a newline splits into a last empty string; one that does not
    # ends with its last line unterminated, which may be a transfer cut short.
    unterminated = lines[-1] != ""
    if not unterminated:
        lines.pop()
    if not any(line.strip() for line in lines):
        raise refused("network_file_empty")
    _check_header(lines[0])
    latest = today + dt.timedelta(days=1)  # a network's clock may be a day ahead of Baku's
    sightings: dict[Triplet, _Aggregate] = {}
    last = len(lines)
    cut_short = last if unterminated else None
    for number in range(2, last + 1):
        parsed = _read_line(
            number,
            lines[number - 1],
            report,
            prefixes=prefixes,
            home_mcc=home_mcc,
            latest=latest,
            cut_short=cut_short,
        )
        if parsed is None:
            continue
        day, imei_norm, imsi, msisdn, rat = parsed
        report.accepted += 1
        key = (day.replace(day=1), imei_norm, imsi, msisdn)
        seen = sightings.get(key)
        if seen is None:
            sightings[key] = _Aggregate(day, day, rat)
        else:
            seen.first, seen.last = min(seen.first, day), max(seen.last, day)
            seen.rats |= rat
    if report.read == 0:
        raise refused("network_file_empty")
    return sightings


def _read_line(
    number: int,
    line: str,
    report: NetworkImportReport,
    *,
    prefixes: tuple[str, ...],
    home_mcc: str,
    latest: dt.date,
    cut_short: int | None,
) -> tuple[dt.date, str, str, str, int] | None:
    """Line ``number`` read by the rules (:func:`_parse_row`), counted in ``report``: its
    values, or None for a blank or rejected line. A rejected line numbered ``cut_short``
    (the file's unterminated last line) refuses the file as cut short."""
    line = line.rstrip("\r")
    if not line.strip():
        return None
    report.read += 1
    parsed = _parse_row(line, prefixes=prefixes, home_mcc=home_mcc, latest=latest)
    if isinstance(parsed, str):
        if number == cut_short:
            raise refused("network_file_truncated", line=number)
        report.reject(parsed, number)
        return None
    return parsed


def _check_header(line: str) -> None:
    header = line.rstrip("\r")
    if "," not in header:
        delimiter = next((d for d in (";", "\t", "|") if d in header), None)
        if delimiter is not None:
            raise refused("network_file_bad_delimiter", delimiter=delimiter)
    if tuple(cell.strip().lower() for cell in header.split(",")) != HEADER:
        raise refused("network_file_bad_header")


def _parse_row(
    line: str, *, prefixes: tuple[str, ...], home_mcc: str, latest: dt.date
) -> tuple[dt.date, str, str, str, int] | str:
    """The row's values, or the reason it is rejected."""
    cells = [cell.strip() for cell in line.split(",")]
    if len(cells) != 5:
        return "field_count"
    date_text, imei, imsi, msisdn, rat = cells
    try:
        day = dt.date.fromisoformat(date_text)
    except ValueError:
        return "date_invalid"
    if day > latest:
        return "date_in_future"
    if not imei:
        return "imei_empty"
    if not (imei.isascii() and imei.isdigit()):
        return "imei_not_digits"
    if len(imei) < 14:
        return "imei_too_short"
    if len(imei) > 16:
        return "imei_too_long"
    if not (imsi.isascii() and imsi.isdigit() and 6 <= len(imsi) <= 15):
        return "imsi_invalid"
    if not imsi.startswith(home_mcc):
        return "imsi_other_country"
    if not imsi.startswith(prefixes):
        return "imsi_other_operator"
    msisdn = msisdn.removeprefix("+")
    if not (msisdn.isascii() and msisdn.isdigit() and 8 <= len(msisdn) <= 15):
        return "msisdn_invalid"
    bit = RAT_BITS.get(rat.upper())
    if bit is None:
        return "rat_unknown"
    return day, imei[:14], imsi, msisdn, bit


def _check_thresholds(report: NetworkImportReport, settings: Settings) -> None:
    other = sum(report.rejected.get(reason, 0) for reason in OTHER_OPERATOR_REASONS)
    if other / report.read > settings.network_max_other_operator_share:
        raise refused(
            "network_file_other_operators",
            share=other / report.read,
            limit=settings.network_max_other_operator_share,
        )
    rejected = sum(report.rejected.values())
    if rejected / report.read > settings.network_max_rejected_share:
        raise refused(
            "network_file_too_many_rejected",
            share=rejected / report.read,
            limit=settings.network_max_rejected_share,
            reasons=", ".join(f"{r} {n}" for r, n in Counter(report.rejected).most_common()),
        )


# ---- merging --------------------------------------------------------------------------------


def _merge(session: Session, sightings: dict[Triplet, _Aggregate], *, operator_id: int) -> None:
    """Upsert the aggregated sightings (SQLite, the demo: straight into the folded table):
    min of first seen, max of last seen, OR of RATs."""
    table = FoldedSighting.__table__
    items = list(sightings.items())
    for start in range(0, len(items), _BATCH):
        values = [
            {
                "month": month,
                "imei_norm": imei_norm,
                "imsi": imsi,
                "msisdn": msisdn,
                "operator_id": operator_id,
                "first_seen": seen.first,
                "last_seen": seen.last,
                "rats": seen.rats,
            }
            for (month, imei_norm, imsi, msisdn), seen in items[start : start + _BATCH]
        ]
        statement = sqlite.insert(FoldedSighting).values(values)
        excluded = statement.excluded
        session.execute(
            statement.on_conflict_do_update(
                index_elements=list(_SIGHTING_KEY),
                set_={
                    "first_seen": func.min(table.c.first_seen, excluded.first_seen),
                    "last_seen": func.max(table.c.last_seen, excluded.last_seen),
                    "rats": table.c.rats.op("|")(excluded.rats),
                },
            )
        )


_SIGHTING_KEY = ("imei_norm", "imsi", "msisdn", "month", "operator_id")

# For the writes, which check it again (the PostgreSQL import's look-up asks it first).
_NEVER_SEEN_UNREGISTERED = text(NEVER_SEEN_UNREGISTERED)


def _start_grace_periods(
    session: Session,
    *,
    known: list[str],
    unknown: list[str],
    now: dt.datetime,
    grace_until: dt.datetime,
) -> list[str]:
    """Start the grace period of the ``known`` IMEIs still never seen and unregistered, and
    of each ``unknown`` one with a new row (insert-or-ignore: a registration may make the
    row at this moment, and it wins). Returns the IMEIs whose grace period started."""
    started: list[str] = []
    for start in range(0, len(known), _BATCH):
        started += session.scalars(
            update(EirImei)
            .where(among(session, EirImei.imei_norm, known[start : start + _BATCH]))
            .where(_NEVER_SEEN_UNREGISTERED)
            .values(first_seen_at=now, grace_until=grace_until, updated_at=now)
            .returning(EirImei.imei_norm)
            .execution_options(synchronize_session=False)
        ).all()
    for start in range(0, len(unknown), _BATCH):
        started += [
            imei_norm
            for (imei_norm,) in insert_rows(
                session,
                cast(Table, EirImei.__table__),
                [
                    {
                        "imei_norm": imei_norm,
                        "registered": False,
                        "clone": False,
                        "first_seen_at": now,
                        "grace_until": grace_until,
                        "updated_at": now,
                    }
                    for imei_norm in unknown[start : start + _BATCH]
                ],
                returning=("imei_norm",),
                skip_conflicts_on=("imei_norm",),
            )
        ]
    return started


def _first_sightings(
    session: Session,
    sightings: dict[Triplet, _Aggregate],
    *,
    settings: Settings,
    run_id: int,
    now: dt.datetime,
) -> int:
    """Start the grace period (with its SMS) of each unregistered IMEI of the file that the
    networks see for the first time: a new row for those the EIR did not know, its first
    sighting on the known ones never seen. Nothing is written for the others."""
    msisdns: dict[str, set[str]] = {}
    for _month, imei_norm, _imsi, msisdn in sightings:
        msisdns.setdefault(imei_norm, set()).add(msisdn)
    keys = sorted(msisdns)
    unknown = set(keys)
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        unknown.difference_update(
            session.scalars(select(EirImei.imei_norm).where(EirImei.imei_norm.in_(chunk)))
        )
    grace_until = now + dt.timedelta(days=settings.eir_grace_days)
    started = _start_grace_periods(
        session,
        known=[key for key in keys if key not in unknown],
        unknown=sorted(unknown),
        now=now,
        grace_until=grace_until,
    )
    tell_grace_started_all(
        session,
        [(imei_norm, msisdns[imei_norm]) for imei_norm in sorted(started)],
        grace_until=grace_until,
        register_url=f"{settings.public_url}/register",
    )
    session.flush()
    return len(started)


# ---- PostgreSQL: checked over the file's bytes, appended with binary COPY -------------------
#
# A million-row day in about the time PostgreSQL takes to COPY the file into a bare table
# (decision record 0006, "The import at COPY's speed"). The lines are checked a block at a
# time over their bytes (``network_rows``: a plain row is recognised there, every other line
# goes to _parse_row, the rules' one place); each block's accepted rows are written, as
# they are read, with binary COPY into ``network_activity`` (no index, no key: appended), so
# PostgreSQL stores one block while the next is checked. Nothing is aggregated here: the
# view ``network_sightings`` shows the stored sightings and the appended rows together per
# triplet and month from the moment the import commits, and the job
# ``eir.fold_sightings`` (queued in the same transaction), or the next detection run,
# folds the appended rows into ``network_sightings_folded``. Detection looks up the
# file's distinct IMEIs once, by key, and writes only the first sightings of unregistered
# ones. A refused file rolls all of it back.

_ACTIVITY_COLUMNS = "imei, imsi, msisdn, operator_id, day, rats"
# One row of binary COPY for those columns: the field count, then each field's length and
# value, big-endian (PostgreSQL's binary COPY format).
_BINARY_ROW = np.dtype(
    [
        ("fields", ">i2"),
        *(
            pair
            for name, kind in (
                ("imei", ">i8"),
                ("imsi", ">i8"),
                ("msisdn", ">i8"),
                ("operator_id", ">i4"),
                ("day", ">i4"),  # days since 2000-01-01
                ("rats", ">i2"),
            )
            for pair in ((f"{name}_size", ">i4"), (name, kind))
        ),
    ]
)
_POWERS_OF_TEN = 10 ** np.arange(17, dtype=np.int64)
_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
_DAYS_1970_TO_2000 = (dt.date(2000, 1, 1) - dt.date(1970, 1, 1)).days
# The file's IMEIs that need a first sighting written: unknown to the EIR, or known,
# unregistered and never seen (a registration withdrawn, say); nothing is written for the
# others. Asked in two parts: which exist, one probe of the primary key per distinct IMEI of
# the file, answered from the index alone (an index-only scan: the table's row is not read
# where the visibility map says it is visible to all); and which are never seen and
# unregistered, from their own small partial index (NEVER_SEEN_UNREGISTERED).
_FIRST_SIGHTINGS = f"""
SELECT f.imei_norm, false AS known
FROM unnest(%(imeis)s::text[]) AS f(imei_norm)
WHERE NOT EXISTS (SELECT FROM eir_imeis AS e WHERE e.imei_norm = f.imei_norm)
UNION ALL
SELECT imei_norm, true FROM eir_imeis
WHERE imei_norm = ANY(%(imeis)s::text[]) AND {NEVER_SEEN_UNREGISTERED}
"""


class _ImportedBefore(Exception):
    """The same file was imported while this one was read: roll back, change nothing."""


def _import_in_postgresql(
    db: Database,
    body: bytes,
    report: NetworkImportReport,
    *,
    operator_id: int,
    prefixes: tuple[str, ...],
    settings: Settings,
    run_id: int,
    now: dt.datetime,
) -> None:
    """Check, append and detect on PostgreSQL (see the section's comment); all or nothing."""
    if not body or (body.isspace() if body.isascii() else body.decode("utf-8").isspace()):
        raise refused("network_file_empty")
    end_of_header = body.find(b"\n")
    _check_header(body.decode("utf-8") if end_of_header < 0 else body[:end_of_header].decode())
    body = b"" if end_of_header < 0 else body[end_of_header + 1 :]
    unterminated = bool(body) and not body.endswith(b"\n")
    # The number of the file's last line when it is unterminated (the header is line 1).
    cut_short = body.count(b"\n") + 2 if unterminated else None
    latest = baku_day(now) + dt.timedelta(days=1)  # a network's clock may be a day ahead
    home_mcc = settings.network_home_mcc

    def slow_line(number: int, line: str) -> tuple[dt.date, str, str, str, int] | None:
        return _read_line(
            number,
            line,
            report,
            prefixes=prefixes,
            home_mcc=home_mcc,
            latest=latest,
            cut_short=cut_short,
        )

    started = time.perf_counter()
    blocks: list[ActivityRows] = []
    hashes: list[npt.NDArray[np.uint64]] = []  # of each row's triplet-month
    lookup = _FirstSightingLookup(db)
    try:
        with db.transaction() as session:
            cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            # Written by a thread of psycopg's while the next block is read: else each
            # block's write waits for the server to take most of it, and the two take turns.
            # Its queue holds at most 1,024 pieces of 128 kB: what a file read faster than
            # PostgreSQL stores costs in memory.
            with cursor.copy(
                f"COPY network_activity ({_ACTIVITY_COLUMNS}) FROM STDIN (FORMAT binary)",
                writer=QueuedLibpqWriter(cursor),
            ) as copy:
                copy.write(_BINARY_HEADER)
                for rows, plain in read_rows(
                    body,
                    first_line=2,
                    latest=latest,
                    home_mcc=home_mcc,
                    prefixes=prefixes,
                    rat_bits=RAT_BITS,
                    slow_line=slow_line,
                ):
                    report.read += plain
                    report.accepted += len(rows)
                    copy.write(_binary_rows(rows, operator_id=operator_id))
                    lookup.add(rows.imei)
                    blocks.append(rows)
                    hashes.append(_triplet_hashes(rows))
                lookup.ask()
                copy.write(_BINARY_TRAILER)
            if report.read == 0:
                raise refused("network_file_empty")
            _check_thresholds(report, settings)
            step = _timer(report, "check_and_append", started)
            with ThreadPoolExecutor(max_workers=1) as counting:
                # Counted beside the rest (numpy sorts without holding the GIL).
                triplets = counting.submit(_triplet_months, blocks, hashes)
                report.imeis, candidates = lookup.result()
                step = _timer(report, "look_up", step)
                serialise_network_writes(session)
                # Asked again under the lock: the same file uploaded twice at once.
                if _imported_before(session, operator_code=report.operator, sha256=report.sha256):
                    raise _ImportedBefore
                report.grace_started = _first_sightings_of(
                    session, blocks, candidates, settings=settings, now=now
                )
                enqueue(session, "eir.fold_sightings", {"run_id": run_id})
                _mark_merged(session, run_id)
                report.triplets = triplets.result()
            _timer(report, "detect", step)
    except _ImportedBefore:
        report.outcome = "unchanged"
    finally:
        lookup.close()


def _binary_rows(rows: ActivityRows, *, operator_id: int) -> memoryview:
    """The rows in binary COPY's format (a view of the array: libpq copies it anyway)."""
    if not len(rows):
        return memoryview(b"")
    out = np.empty(len(rows), dtype=_BINARY_ROW)
    # The sizes and the operator, the same in every row, copied in; then the values.
    template = np.zeros(1, dtype=_BINARY_ROW)
    names = _BINARY_ROW.names or ()
    template["fields"] = len(names) // 2
    for name in names[1::2]:
        template[name] = _BINARY_ROW[name.removesuffix("_size")].itemsize
    template["operator_id"] = operator_id
    out.view(np.uint8).reshape(len(rows), -1)[:] = template.view(np.uint8)
    out["imei"], out["rats"] = rows.imei, rows.rats
    # A 1 before the digits: a number that keeps a leading 0 (see network_activity).
    out["imsi"] = rows.imsi + _POWERS_OF_TEN[rows.imsi_digits]
    out["msisdn"] = rows.msisdn + _POWERS_OF_TEN[rows.msisdn_digits]
    out["day"] = rows.day - _DAYS_1970_TO_2000
    return out.view(np.uint8).data


def _triplet_keys(rows: ActivityRows) -> tuple[Ints, Ints, Ints]:
    """Each row's triplet-month as three numbers: IMEI and month, IMSI, MSISDN."""
    month = rows.day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return (
        (rows.imei << 12) | (month & 0xFFF),  # < 2**59; the same month 341 years apart
        (rows.imsi << 4) | rows.imsi_digits,
        (rows.msisdn << 4) | rows.msisdn_digits,
    )


def _triplet_hashes(rows: ActivityRows) -> npt.NDArray[np.uint64]:
    """A 64-bit hash of each row's triplet-month (made a block at a time, as it is read)."""
    mixed = np.zeros(len(rows), dtype=np.uint64)
    for key, factor in zip(_triplet_keys(rows), _HASH_FACTORS, strict=True):
        mixed = (mixed ^ key.view(np.uint64)) * factor
        mixed ^= mixed >> np.uint64(29)
    return mixed


def _triplet_months(blocks: list[ActivityRows], hashes: list[npt.NDArray[np.uint64]]) -> int:
    """How many distinct (IMEI, IMSI, MSISDN, month) the blocks of rows hold, given each
    row's hash (:func:`_triplet_hashes`): one sort of the hashes; where neighbours are
    equal, they are compared in full (and all the rows sorted by all their keys instead,
    should two different ones share a hash)."""
    if not sum(len(rows) for rows in blocks):
        return 0
    mixed = np.concatenate(hashes)
    ordered = np.sort(mixed)
    same_hash = ordered[1:] == ordered[:-1]
    if same_hash.any():  # only then the rows' keys and order: which are the neighbours?
        keys = tuple(
            np.concatenate(parts) for parts in zip(*map(_triplet_keys, blocks), strict=True)
        )
        order = np.argsort(mixed)
        at = np.flatnonzero(mixed[order][1:] == mixed[order][:-1])
        first, second = order[at], order[at + 1]
        if any((key[first] != key[second]).any() for key in keys):
            order = np.lexsort(keys[::-1])
            same_hash = np.ones(len(mixed) - 1, dtype=bool)
            for key in keys:
                same_hash &= key[order][1:] == key[order][:-1]
    return len(mixed) - int(same_hash.sum())


_HASH_FACTORS = tuple(
    np.uint64(f) for f in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
)


class _FirstSightingLookup:
    """Looks the file's distinct IMEIs up in eir_imeis (:data:`_FIRST_SIGHTINGS`), each
    once, on connections of their own, in threads, once the file is read (:meth:`ask`),
    while PostgreSQL stores its last blocks. In the key's order, all of the file's at once:
    neighbours then often share a page of the index, which is read once for them (a
    ten-million key's index does not fit in shared buffers; asked a block's IMEIs at a time,
    as they were met, the backends spent a third more). Two threads: the lookups have both
    cores while the append ends. Only reads: what they find is written, checked again, in
    the import's transaction."""

    _THREADS = 2
    _KEYS_AT_ONCE = 8192

    def __init__(self, db: Database) -> None:
        self._db = db
        self._blocks: list[npt.NDArray[np.int64]] = []  # each block's IMEIs, once each
        self._seen = np.zeros(0, dtype=np.int64)  # the file's, once each, in order
        self._asked = False
        self._found: list[tuple[str, bool]] = []
        self._failures: list[BaseException] = []
        self._stopped = False
        self._keys: queue.SimpleQueue[npt.NDArray[np.int64] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name="first-sightings", daemon=True)
            for _ in range(self._THREADS)
        ]
        for thread in self._threads:
            thread.start()

    def add(self, imeis: npt.NDArray[np.int64]) -> None:
        """A block's IMEIs, to be asked with the others."""
        self._blocks.append(_distinct(imeis))

    def ask(self) -> None:
        """Start looking up the IMEIs added (once: the file is read)."""
        if self._asked:
            return
        self._asked = True
        if self._blocks:
            self._seen = _distinct(np.concatenate(self._blocks))
        for start in range(0, len(self._seen), self._KEYS_AT_ONCE):
            self._keys.put(self._seen[start : start + self._KEYS_AT_ONCE])

    def result(self) -> tuple[int, list[tuple[str, bool]]]:
        """How many distinct IMEIs the file holds, and those that need a first sighting
        (the IMEI, whether the EIR knows it)."""
        self.ask()
        self._join()
        if self._failures:
            raise self._failures[0]
        return len(self._seen), self._found

    def close(self) -> None:
        """After :meth:`result`, nothing; else (a refused file) the keys still queued are
        dropped."""
        self._stopped = True
        self._join()

    def _join(self) -> None:
        alive = [thread for thread in self._threads if thread.is_alive()]
        for _ in alive:
            self._keys.put(None)
        for thread in alive:
            thread.join()

    def _run(self) -> None:
        try:
            with self._db.engine.connect() as connection:
                cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
                _look_up_by_key(cursor, True)
                while (imeis := self._keys.get()) is not None and not self._stopped:
                    keys = _text_array(imeis)
                    found = cursor.execute(_FIRST_SIGHTINGS, {"imeis": keys}).fetchall()
                    self._found.extend(found)  # one call: atomic under the GIL
                connection.rollback()
        except BaseException as exc:  # raised again by result()
            self._failures.append(exc)
            while self._keys.get() is not None:
                pass


def _text_array(imeis: npt.NDArray[np.int64]) -> str:
    """The IMEIs as the text of a PostgreSQL ``text[]``, ``{35332506000001,…}`` (14 digits
    each), made by numpy: psycopg sends one string as it is, where it converts a list of
    strings one by one in Python (0.24 s of the GIL for a file's 117,000 IMEIs, which the
    check of the file's blocks waited for)."""
    digits = imeis[:, None] // _POWERS_OF_TEN[13::-1] % 10 + ord("0")
    text = np.full((len(imeis), 15), ord(","), dtype=np.uint8)
    text[:, :14] = digits
    return "{" + text.tobytes()[:-1].decode("ascii") + "}"


def _distinct(values: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The values once each, in order (np.unique hashes, several times slower here)."""
    ordered = np.sort(values)
    return (
        ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(values) else ordered
    )


def _first_sightings_of(
    session: Session,
    blocks: list[ActivityRows],
    candidates: list[tuple[str, bool]],
    *,
    settings: Settings,
    now: dt.datetime,
) -> int:
    """:func:`_first_sightings` for PostgreSQL's import, given the IMEIs that looked like
    first sightings (:class:`_FirstSightingLookup`): the unregistered ones seen for the
    first time start their grace period (a new row for those the EIR did not know), with an
    SMS to the numbers using them."""
    grace_until = now + dt.timedelta(days=settings.eir_grace_days)
    started = _start_grace_periods(
        session,
        known=[imei_norm for imei_norm, is_known in candidates if is_known],
        unknown=[imei_norm for imei_norm, is_known in candidates if not is_known],
        now=now,
        grace_until=grace_until,
    )
    if not started:
        return 0
    numbers = np.array(sorted(int(imei_norm) for imei_norm in started), dtype=np.int64)

    def using(rows: ActivityRows) -> npt.NDArray[np.bool_]:
        at = np.minimum(np.searchsorted(numbers, rows.imei), len(numbers) - 1)
        return numbers[at] == rows.imei  # np.isin sorts all the rows: slower

    rows = ActivityRows.joined([block.subset(using(block)) for block in blocks])
    msisdns: dict[str, set[str]] = {}
    for imei, msisdn, digits in zip(
        rows.imei.tolist(),
        rows.msisdn.tolist(),
        rows.msisdn_digits.tolist(),
        strict=True,
    ):
        msisdns.setdefault(f"{imei:014d}", set()).add(f"{msisdn:0{digits}d}")
    tell_grace_started_all(
        session,
        sorted(msisdns.items()),
        grace_until=grace_until,
        register_url=f"{settings.public_url}/register",
    )
    return len(started)


def _look_up_by_key(cursor: Any, by_key: bool) -> None:
    """While ``by_key``, joins against eir_imeis look each of the file's keys up in its
    primary key: a cost that grows with the file, not with the registry. Left to itself the
    planner may hash all of eir_imeis (ten million rows) for a file's hundred thousand."""
    value = "off" if by_key else "on"
    cursor.execute(f"SET LOCAL enable_hashjoin = {value}")
    cursor.execute(f"SET LOCAL enable_mergejoin = {value}")


def _timer(report: NetworkImportReport, step: str, since: float) -> float:
    """Note in the report how long ``step`` took since ``since``; returns now."""
    moment = time.perf_counter()
    report.seconds[step] = round(moment - since, 3)
    return moment


# ---- folding the appended rows -------------------------------------------------------------

_KEY = "imei_norm, imsi, msisdn, month, operator_id"
# The appended rows per triplet and month (the view network_activity_sightings, migration
# 0014) merged into the folded ones: min of first seen, max of last seen, OR of RATs.
_FOLD = f"""
INSERT INTO network_sightings_folded AS f ({_KEY}, first_seen, last_seen, rats)
SELECT {_KEY}, first_seen, last_seen, rats FROM network_activity_sightings
ORDER BY imei_norm COLLATE "C", imsi COLLATE "C", msisdn COLLATE "C", month
ON CONFLICT ({_KEY}) DO UPDATE SET
    first_seen = LEAST(f.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(f.last_seen, EXCLUDED.last_seen),
    rats = f.rats | EXCLUDED.rats
"""


def fold_sightings(session: Session) -> int:
    """Fold what imports appended into ``network_sightings_folded`` and empty
    ``network_activity`` (PostgreSQL; SQLite's imports merge at once). The view
    ``network_sightings`` reads the same before and after; this only makes it cheap to read.
    Under the network-writes lock, which imports hold when they commit, so no row is
    appended between the fold and the delete. Returns the rows folded."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    serialise_network_writes(session)
    if session.execute(text("SELECT 1 FROM network_activity LIMIT 1")).first() is None:
        return 0
    session.execute(text("SET LOCAL work_mem = '256MB'"))
    session.execute(text(_FOLD))
    folded = session.execute(text("DELETE FROM network_activity")).rowcount  # type: ignore[attr-defined]
    # A day can be a large share of the table: the lists' plans on fresh figures.
    session.execute(text("ANALYZE network_sightings_folded"))
    return int(folded)


# ---- the ledger -----------------------------------------------------------------------------


# Network imports and detection runs change the same IMEIs: on PostgreSQL they take
# turns (a transaction-scoped advisory lock); SQLite's writers take turns anyway.
_NETWORK_WRITES_LOCK = 80_080_001


def serialise_network_writes(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NETWORK_WRITES_LOCK})


def _imported_before(session: Session, *, operator_code: str, sha256: str) -> bool:
    return (
        session.scalar(
            select(OperatorRun.id).where(
                OperatorRun.kind == RUN_KIND,
                OperatorRun.outcome == "ok",
                OperatorRun.source.startswith(f"{operator_code}:{sha256}:", autoescape=True),
            )
        )
        is not None
    )
