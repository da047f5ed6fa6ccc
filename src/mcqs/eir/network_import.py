"""Import what an operator's network saw: ``date,imei,imsi,msisdn,rat`` (CSV, or a zip
holding one), in the pattern of the TAC import (``devices/tac_import.py``).

1. The run goes into the ledger (``operator_runs``, kind ``import-network``), in a
   transaction of its own, before anything else: a refused file is on record too.
2. The file is staged and checked whole before anything is written: its shape (one CSV in
   a zip, UTF-8, comma-separated, the header, a last line cut short), then every row
   (:data:`REJECT_REASONS`); rows are aggregated per (IMEI, IMSI, MSISDN, month) in
   memory. Too many rejected rows, or too many IMSIs of other operators, refuse the file.
3. One transaction merges it: the sightings (first and last seen kept by min/max, the
   radio technologies OR-ed, so uploading a file twice changes nothing) and the first
   sightings of unregistered IMEIs, whose grace periods start with an SMS to the numbers
   using them. All or nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import time
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.eir.errors import refused
from mcqs.eir.models import EirImei, NetworkSighting
from mcqs.eir.operators import operator_by_code
from mcqs.eir.service import dialect_insert, tell_grace_started
from mcqs.jobs.ledger import describe, finish_run, start_run
from mcqs.jobs.models import OperatorRun
from mcqs.localtime import baku_day

RUN_KIND = "import-network"
HEADER = ("date", "imei", "imsi", "msisdn", "rat")
# Radio access technology, as networks name it -> its bit in NetworkSighting.rats.
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
                _staged_text(content, filename),
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
    if content.startswith(b"PK\x03\x04") or content.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(io.BytesIO(content)) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise refused("network_zip_not_one_file", count=len(members))
                content = archive.read(members[0])
        except zipfile.BadZipFile:
            raise refused("network_zip_not_one_file", count=0) from None
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise refused("network_file_not_utf8") from None


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
    for number in range(2, last + 1):
        line = lines[number - 1].rstrip("\r")
        if not line.strip():
            continue
        report.read += 1
        parsed = _parse_row(line, prefixes=prefixes, home_mcc=home_mcc, latest=latest)
        if isinstance(parsed, str):
            if unterminated and number == last:
                raise refused("network_file_truncated", line=number)
            report.reject(parsed, number)
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
    """Upsert the aggregated sightings: min of first seen, max of last seen, OR of RATs.

    On PostgreSQL through a staging table filled by COPY, then one INSERT … ON CONFLICT."""
    if session.get_bind().dialect.name == "postgresql":
        _merge_by_copy(session, sightings, operator_id=operator_id)
        return
    table = NetworkSighting.__table__
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
        statement = sqlite.insert(NetworkSighting).values(values)
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
_SIGHTING_COLUMNS = (*_SIGHTING_KEY, "first_seen", "last_seen", "rats")


def _merge_by_copy(
    session: Session, sightings: dict[Triplet, _Aggregate], *, operator_id: int
) -> None:
    columns = ", ".join(_SIGHTING_COLUMNS)
    session.execute(
        text(
            "CREATE TEMP TABLE network_staging (LIKE network_sightings INCLUDING DEFAULTS) "
            "ON COMMIT DROP"
        )
    )
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY network_staging ({columns}) FROM STDIN") as copy:
        for (month, imei_norm, imsi, msisdn), seen in sightings.items():
            copy.write_row(
                (imei_norm, imsi, msisdn, month, operator_id, seen.first, seen.last, seen.rats)
            )
    session.execute(
        text(
            f"INSERT INTO network_sightings ({columns}) SELECT {columns} FROM network_staging "
            f"ON CONFLICT ({', '.join(_SIGHTING_KEY)}) DO UPDATE SET "
            "first_seen = LEAST(network_sightings.first_seen, EXCLUDED.first_seen), "
            "last_seen = GREATEST(network_sightings.last_seen, EXCLUDED.last_seen), "
            "rats = network_sightings.rats | EXCLUDED.rats"
        )
    )
    session.execute(text("DROP TABLE network_staging"))


def _first_sightings(
    session: Session,
    sightings: dict[Triplet, _Aggregate],
    *,
    settings: Settings,
    run_id: int,
    now: dt.datetime,
) -> int:
    """Mark every IMEI of the file seen, and start the grace period (with its SMS) of each
    unregistered one the networks see for the first time. Set-based: an IMEI already known
    costs no row of Python objects, only its share of a bulk UPDATE."""
    msisdns: dict[str, set[str]] = {}
    for _month, imei_norm, _imsi, msisdn in sightings:
        msisdns.setdefault(imei_norm, set()).add(msisdn)
    keys = sorted(msisdns)
    never_seen: list[str] = []  # known to the EIR, first time on a network
    unknown = set(keys)
    needs_grace: list[str] = []
    columns = (
        EirImei.imei_norm,
        EirImei.first_seen_at,
        EirImei.registered,
        EirImei.grace_until,
        EirImei.blacklist_reason,
    )
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        for imei_norm, first_seen_at, registered, grace_until, reason in session.execute(
            select(*columns).where(EirImei.imei_norm.in_(chunk))
        ):
            unknown.discard(imei_norm)
            if first_seen_at is None:
                never_seen.append(imei_norm)
                if not registered and grace_until is None and reason is None:
                    needs_grace.append(imei_norm)
    grace_until = now + dt.timedelta(days=settings.eir_grace_days)
    for start in range(0, len(never_seen), _BATCH):
        session.execute(
            update(EirImei)
            .where(EirImei.imei_norm.in_(never_seen[start : start + _BATCH]))
            .values(first_seen_at=now, updated_at=now)
        )
    for start in range(0, len(needs_grace), _BATCH):
        session.execute(
            update(EirImei)
            .where(EirImei.imei_norm.in_(needs_grace[start : start + _BATCH]))
            .values(grace_until=grace_until)
        )
    new = sorted(unknown)
    for start in range(0, len(new), _BATCH):
        # Insert-or-ignore: a registration may make the row at this moment (it wins).
        session.execute(
            dialect_insert(session)(EirImei).on_conflict_do_nothing(index_elements=["imei_norm"]),
            [
                {
                    "imei_norm": imei_norm,
                    "registered": False,
                    "clone": False,
                    "first_seen_at": now,
                    "grace_until": grace_until,
                    "updated_at": now,
                }
                for imei_norm in new[start : start + _BATCH]
            ],
        )
    register_url = f"{settings.public_url}/register"
    for imei_norm in sorted([*new, *needs_grace]):
        tell_grace_started(
            session,
            imei_norm=imei_norm,
            msisdns=msisdns[imei_norm],
            grace_until=grace_until,
            register_url=register_url,
        )
    session.flush()
    return len(new) + len(needs_grace)


# ---- PostgreSQL: the file checked and merged in the database -------------------------------
#
# The same rules as _parse_row and _read_rows, set-based: the lines are copied into a
# temporary table as they are, and ONE statement checks each (the first reason that applies,
# in _parse_row's order) and aggregates them per reason, triplet and month (the groups of
# rejected rows are only counted). Each level of the check is its own subquery (OFFSET 0):
# flattened, PostgreSQL would compute a cell again wherever a rule names it. The sightings
# are merged from the accepted groups with INSERT … ON CONFLICT. No Python object per row,
# and a good file's lines are read once: the line numbers of rejected rows (the report's
# examples) and the last line of a file that does not end with a newline are asked again
# only when there are any.
# One difference: a date must be YYYY-MM-DD (Python's fromisoformat also takes YYYYMMDD and
# week dates).

# Python's str.strip() for the whitespace a file holds (ASCII; the rest is rejected anyway).
_BLANKS = "E' \\t\\n\\r\\x0b\\x0c\\x1c\\x1d\\x1e\\x1f'"
_CELLS = ",\n".join(f"            btrim(cell[{n}], {_BLANKS}) AS c{n}" for n in range(1, 6))
# A valid date is looked up (a hash join) in a calendar of the dates a network can send,
# instead of being taken apart on every row; a date outside it is checked the long way.
_CALENDAR_FIRST = dt.date(2000, 1, 1)
_CHECKED = f"""
    SELECT
        line_no,
        CASE
            WHEN cells <> 5 THEN 'field_count'
            WHEN day IS NULL THEN 'date_invalid'
            WHEN day > %(latest)s THEN 'date_in_future'
            WHEN c2 = '' THEN 'imei_empty'
            WHEN c2 !~ '^[0-9]+$' THEN 'imei_not_digits'
            WHEN length(c2) < 14 THEN 'imei_too_short'
            WHEN length(c2) > 16 THEN 'imei_too_long'
            WHEN length(c3) NOT BETWEEN 6 AND 15 OR c3 !~ '^[0-9]+$' THEN 'imsi_invalid'
            WHEN NOT starts_with(c3, %(home_mcc)s) THEN 'imsi_other_country'
            WHEN NOT c3 LIKE ANY(%(prefixes)s) THEN 'imsi_other_operator'
            WHEN length(msisdn) NOT BETWEEN 8 AND 15 OR msisdn !~ '^[0-9]+$'
                THEN 'msisdn_invalid'
            WHEN rat IS NULL THEN 'rat_unknown'
        END AS reason,
        day, date_trunc('month', day::timestamp)::date AS month,
        left(c2, 14) AS imei_norm, c3 AS imsi, msisdn, rat
    FROM (
        SELECT line_no, cells, c2, c3,
            CASE WHEN left(c4, 1) = '+' THEN substr(c4, 2) ELSE c4 END AS msisdn,
            CASE upper(c5) {" ".join(f"WHEN '{rat}' THEN {bit}" for rat, bit in RAT_BITS.items())}
            END AS rat,
            coalesce(calendar.day, CASE WHEN c1 ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'
                AND substr(c1, 1, 4)::int >= 1 AND substr(c1, 6, 2)::int BETWEEN 1 AND 12
                AND substr(c1, 9, 2)::int BETWEEN 1 AND extract(DAY FROM make_date(
                    substr(c1, 1, 4)::int, substr(c1, 6, 2)::int, 1)
                    + interval '1 month - 1 day')
                THEN c1::date END) AS day
        FROM (
            SELECT n + 1 AS line_no, cardinality(cell) AS cells,
{_CELLS}
            FROM (
                SELECT n, string_to_array(rtrim(line, E'\\r'), ',') AS cell
                FROM network_lines WHERE btrim(line, {_BLANKS}) <> '' {{lines}}
                OFFSET 0
            ) AS split
            OFFSET 0
        ) AS cells
        LEFT JOIN (
            SELECT to_char(d, 'YYYY-MM-DD') AS text, d::date AS day
            FROM generate_series(
                %(first_day)s::timestamp, %(latest)s::timestamp, interval '1 day'
            ) AS d
        ) AS calendar ON calendar.text = cells.c1
        OFFSET 0
    ) AS typed
    OFFSET 0
"""
_CHECK_AND_GROUP = f"""
CREATE TEMP TABLE network_groups ON COMMIT DROP AS
SELECT reason, imei_norm, imsi, msisdn, month,
    min(day) AS first_seen, max(day) AS last_seen, bit_or(rat) AS rats, count(*) AS rows
FROM ({_CHECKED.replace("{lines}", "")}) AS checked
GROUP BY reason, imei_norm, imsi, msisdn, month
"""
_REJECTED_EXAMPLES = f"""
SELECT reason, (array_agg(line_no ORDER BY line_no))[1:%(examples)s]
FROM ({_CHECKED.replace("{lines}", "")}) AS checked WHERE reason IS NOT NULL GROUP BY reason
"""
_LAST_LINE = f"SELECT reason FROM ({_CHECKED.replace('{lines}', 'AND n = %(n)s')}) AS c"
# The merge, under the lock that makes imports take turns (nothing else writes sightings):
# the triplet-months known already are widened (first and last seen, RATs; a row only when
# it changes), the new ones inserted. Two plain statements instead of one INSERT … ON
# CONFLICT, whose speculative insertion of each row cost ~40 % more on a day's file.
_WIDEN_SIGHTINGS = """
UPDATE network_sightings AS s SET
    first_seen = LEAST(s.first_seen, g.first_seen),
    last_seen = GREATEST(s.last_seen, g.last_seen),
    rats = s.rats | g.rats
FROM network_groups AS g
WHERE g.reason IS NULL AND s.operator_id = %(operator)s AND s.imei_norm = g.imei_norm
    AND s.imsi = g.imsi AND s.msisdn = g.msisdn AND s.month = g.month
    AND (g.first_seen < s.first_seen OR g.last_seen > s.last_seen OR s.rats | g.rats <> s.rats)
"""
# Inserted in the primary key's order (bytewise is its order for these digits, and the
# cheaper sort), so the index is written page after page.
_ADD_SIGHTINGS = """
INSERT INTO network_sightings
    (imei_norm, imsi, msisdn, month, operator_id, first_seen, last_seen, rats)
SELECT imei_norm, imsi, msisdn, month, %(operator)s, first_seen, last_seen, rats
FROM network_groups AS g
WHERE reason IS NULL AND NOT EXISTS (
    SELECT 1 FROM network_sightings AS s
    WHERE s.imei_norm = g.imei_norm AND s.imsi = g.imsi AND s.msisdn = g.msisdn
        AND s.month = g.month AND s.operator_id = %(operator)s
)
ORDER BY imei_norm COLLATE "C", imsi COLLATE "C", msisdn COLLATE "C", month
"""
_FILE_IMEIS = (
    "CREATE TEMP TABLE network_imeis ON COMMIT DROP AS "
    "SELECT DISTINCT imei_norm FROM network_groups WHERE reason IS NULL"
)


def _import_in_postgresql(
    db: Database,
    csv_text: str,
    report: NetworkImportReport,
    *,
    operator_id: int,
    prefixes: tuple[str, ...],
    settings: Settings,
    run_id: int,
    now: dt.datetime,
) -> None:
    """Check and merge a file on PostgreSQL (see the section's comment); all or nothing."""
    if not csv_text.strip():
        raise refused("network_file_empty")
    end_of_header = csv_text.find("\n")
    _check_header(csv_text if end_of_header < 0 else csv_text[:end_of_header])
    body = "" if end_of_header < 0 else csv_text[end_of_header + 1 :]
    unterminated = not csv_text.endswith("\n")
    started = time.perf_counter()
    latest = baku_day(now) + dt.timedelta(days=1)  # a network's clock may be a day ahead
    rules = {
        "latest": latest,
        "first_day": min(_CALENDAR_FIRST, latest),
        "home_mcc": settings.network_home_mcc,
        "prefixes": [f"{prefix}%" for prefix in prefixes],
    }
    with db.transaction() as session:
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        # Compiling the check to machine code costs more than it saves on a day's file; the
        # groups of a day (a million triplets) are hashed and sorted in memory, not on disk.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            "CREATE TEMP TABLE network_lines (n bigint GENERATED ALWAYS AS IDENTITY, line text) "
            "ON COMMIT DROP"
        )
        # COPY's text format, each line one value: its escapes escaped; NUL, which no text
        # may hold, made a character that no check accepts.
        escaped = (
            body.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\r", "\\r")
            .replace("\x00", "\ufffd")
        )
        with cursor.copy("COPY network_lines (line) FROM STDIN") as copy:
            copy.write(escaped.encode())
        del escaped
        lines = cursor.rowcount
        step = _timer(report, "stage", started)
        cursor.execute(_CHECK_AND_GROUP, rules)
        if unterminated:
            last = cursor.execute(_LAST_LINE, {**rules, "n": lines}).fetchone()
            if last is not None and last[0] is not None:
                raise refused("network_file_truncated", line=lines + 1)
        triplets = 0
        for reason, count, groups in cursor.execute(
            "SELECT coalesce(reason, ''), sum(rows)::int8, count(*) FROM network_groups "
            "GROUP BY reason"
        ).fetchall():
            report.read += count
            if reason:
                report.rejected[reason] = count
            else:
                report.accepted, triplets = count, groups
        if report.read == 0:
            raise refused("network_file_empty")
        if report.rejected:
            for reason, examples in cursor.execute(
                _REJECTED_EXAMPLES, {**rules, "examples": _EXAMPLES_PER_REASON}
            ).fetchall():
                report.examples[reason] = list(examples)
        _check_thresholds(report, settings)
        step = _timer(report, "check", step)
        serialise_network_writes(session)
        # Asked again under the lock: the same file uploaded twice at once.
        operator_code, sha256 = report.operator, report.sha256
        if _imported_before(session, operator_code=operator_code, sha256=sha256):
            report.outcome = "unchanged"
            return
        _look_up_by_key(cursor, True)
        cursor.execute(_WIDEN_SIGHTINGS, {"operator": operator_id})
        cursor.execute(_ADD_SIGHTINGS, {"operator": operator_id})
        _look_up_by_key(cursor, False)
        report.triplets = triplets
        # A day's file can be a large share of the table: the lists' join plans on fresh
        # figures (a sample of it, not a scan) rather than on autovacuum's of yesterday.
        cursor.execute("ANALYZE network_sightings")
        step = _timer(report, "merge", step)
        cursor.execute(_FILE_IMEIS)
        report.imeis = cursor.rowcount
        cursor.execute("ANALYZE network_imeis")  # autovacuum never analyses a temporary table
        report.grace_started = _first_sightings_in_postgresql(
            session, cursor, settings=settings, now=now
        )
        _mark_merged(session, run_id)
        _timer(report, "detect", step)


def _look_up_by_key(cursor: Any, by_key: bool) -> None:
    """While ``by_key``, joins against the big tables (sightings, eir_imeis) look each of the
    file's keys up in their primary key: a cost that grows with the file, not with the
    registry or the history. Left to itself the planner hashed all of eir_imeis for each of
    the first sightings' three statements (ten million rows: 25 s of the bench's import)."""
    value = "off" if by_key else "on"
    cursor.execute(f"SET LOCAL enable_hashjoin = {value}")
    cursor.execute(f"SET LOCAL enable_mergejoin = {value}")


def _timer(report: NetworkImportReport, step: str, since: float) -> float:
    """Note in the report how long ``step`` took since ``since``; returns now."""
    moment = time.perf_counter()
    report.seconds[step] = round(moment - since, 3)
    return moment


def _first_sightings_in_postgresql(
    session: Session, cursor: Any, *, settings: Settings, now: dt.datetime
) -> int:
    """:func:`_first_sightings`, set-based: the file's IMEIs never seen on a network are
    marked seen; the unregistered ones among them, and those the EIR did not know, start
    their grace period, with an SMS to the numbers using them."""
    grace_until = now + dt.timedelta(days=settings.eir_grace_days)
    moments = {"now": now, "grace": grace_until}
    _look_up_by_key(cursor, True)
    needs_grace = [
        row[0]
        for row in cursor.execute(
            "SELECT e.imei_norm FROM eir_imeis e JOIN network_imeis f USING (imei_norm) "
            "WHERE e.first_seen_at IS NULL AND NOT e.registered AND e.grace_until IS NULL "
            "AND e.blacklist_reason IS NULL"
        )
    ]
    cursor.execute(
        "UPDATE eir_imeis e SET first_seen_at = %(now)s, updated_at = %(now)s, "
        "grace_until = CASE WHEN e.imei_norm = ANY(%(needs)s) THEN %(grace)s "
        "ELSE e.grace_until END "
        "FROM network_imeis f WHERE e.imei_norm = f.imei_norm AND e.first_seen_at IS NULL",
        {**moments, "needs": needs_grace},
    )
    # Insert-or-ignore: a registration may make the row at this moment (it wins).
    new = [
        row[0]
        for row in cursor.execute(
            "INSERT INTO eir_imeis (imei_norm, registered, clone, first_seen_at, grace_until, "
            "updated_at) SELECT imei_norm, false, false, %(now)s, %(grace)s, %(now)s "
            "FROM network_imeis f WHERE NOT EXISTS "
            "(SELECT 1 FROM eir_imeis e WHERE e.imei_norm = f.imei_norm) "
            "ON CONFLICT (imei_norm) DO NOTHING RETURNING imei_norm",
            moments,
        )
    ]
    _look_up_by_key(cursor, False)
    started = sorted([*new, *needs_grace])
    register_url = f"{settings.public_url}/register"
    for imei_norm, msisdns in cursor.execute(
        "SELECT imei_norm, array_agg(DISTINCT msisdn) FROM network_groups "
        "WHERE reason IS NULL AND imei_norm = ANY(%s) GROUP BY imei_norm ORDER BY imei_norm",
        (started,),
    ).fetchall():
        tell_grace_started(
            session,
            imei_norm=imei_norm,
            msisdns=set(msisdns),
            grace_until=grace_until,
            register_url=register_url,
        )
    session.flush()
    return len(started)


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
