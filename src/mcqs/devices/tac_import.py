"""Import a TAC catalogue (Type Allocation Code -> brand and model) into ``tac_models``.

Two formats are read:

* ``osmocom``: the community Osmocom TAC database (CSV). Line 1 is the licence banner,
  line 2 the header ``tac,name,name,contributor,comment,gsmarena,gsmarena,aka`` (the first
  ``name`` is the brand, the second the model). Fields may be quoted and hold commas.
* ``gsma``: the GSMA TAC database a production registry licenses: pipe-separated, with a
  header line naming the columns (``TAC|Marketing Name|...|Brand Name|Model Name|...``).

Rows that cannot be used are skipped and counted by reason (see :data:`SKIP_REASONS`);
the first line numbers of each reason are kept as examples. Every run is recorded in the
``operator_runs`` ledger in transactions of its own, so a failed import is on record too
(an import stopped by SIGTERM or Ctrl-C is recorded ``interrupted``); the import itself is
one transaction: all rows or none.

On PostgreSQL the file is read once and never held in memory: under a lock that keeps
other writers of the catalogue out, the TACs it does not hold yet are streamed with ``COPY``
straight into ``tac_models`` as they are read, while brand spellings are counted (the most
frequent spelling of a brand is its name in the catalogue); the known ones are kept aside
and updated at the end where the file changes them, and the few new rows whose spelling lost
are spelt again. A file with more than twice as many lines as the catalogue has TACs (a
first load) is loaded with the catalogue's primary key dropped and built again at the end,
when the role running the import owns the table. On SQLite (the demo's small catalogue) the
rows are held and written a batch at a time.
"""

from __future__ import annotations

import csv
import re
import threading
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from tempfile import SpooledTemporaryFile
from typing import IO, Any, cast

import numpy as np
from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from mcqs.db import Database, utcnow
from mcqs.devices.models import TacModel
from mcqs.devices.tac_lines import (
    PlainBlock,
    bits_set,
    blocks_of_lines,
    plain_block,
    set_bits,
    tac_numbers,
)
from mcqs.errors import DomainError, InvalidInput
from mcqs.jobs.models import OperatorRun

FORMATS = ("osmocom", "gsma")
RUN_KIND = "import-tac"

# Why a row was skipped, in the order the checks run.
SKIP_REASONS = (
    "tac_not_8_digits",
    "missing_brand",
    "missing_model",
    "text_too_long",  # longer than the columns of tac_models hold
    "duplicate_tac_in_file",  # the first row with a TAC wins
)

_OSMOCOM_BANNER = "Osmocom TAC database"
_OSMOCOM_HEADER = ["tac", "name", "name"]
_GSMA_BRAND_COLUMNS = ("Brand Name", "Manufacturer")
_GSMA_MODEL_COLUMNS = ("Model Name", "Marketing Name")
_TAC = re.compile(r"[0-9]{8}")
_BRAND_MAX = 100  # TacModel.brand is String(100)
_MODEL_MAX = 200  # TacModel.model is String(200)
_EXAMPLES_PER_REASON = 5
_BATCH = 1000
_READ_BYTES = 1 << 20  # a block of an Osmocom file read at once (about 23,000 lines)
# What the ledger says of a run stopped by a signal (SIGTERM, Ctrl-C) rather than failed.
INTERRUPTED = "interrupted"


@dataclass
class ImportReport:
    fmt: str
    read: int = 0  # data rows read (banner, header and blank lines not counted)
    imported: int = 0  # TACs new to the catalogue
    updated: int = 0  # TACs already in the catalogue whose brand, model or source the file changed
    unchanged: int = 0  # TACs already in the catalogue as the file has them: left as they were
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    examples: dict[str, list[int]] = field(default_factory=dict)  # reason -> first line numbers

    def skip(self, reason: str, line: int) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        lines = self.examples.setdefault(reason, [])
        if len(lines) < _EXAMPLES_PER_REASON:
            lines.append(line)

    def summary(self) -> str:
        skipped = ", ".join(f"{reason} {count}" for reason, count in self.skipped.items())
        return (
            f"{self.fmt}: {self.read} read, {self.imported} imported, {self.updated} updated, "
            f"{self.unchanged} unchanged, {sum(self.skipped.values())} skipped"
            + (f" ({skipped})" if skipped else "")
        )


# One usable (or raw) row: (line, tac, brand, model). A plain tuple: a million are made per
# import, and a tuple costs a third of a named one to make.
_TacRow = tuple[int, str, str, str]


def detect_format(path: Path) -> str:
    """Tell the format from the first two lines: ``"osmocom"`` or ``"gsma"``.

    Raises :class:`InvalidInput` ``tac_file_unknown_format`` for anything else."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        first, second = file.readline(), file.readline()
    if "|" in first and first.split("|", 1)[0].strip().upper() == "TAC":
        return "gsma"
    if first.startswith(_OSMOCOM_BANNER) or second.lower().startswith("tac,name,name,"):
        return "osmocom"
    raise InvalidInput("tac_file_unknown_format", field="path", path=str(path))


def import_tac_file(
    db: Database,
    path: Path,
    *,
    fmt: str | None = None,
    started_by: str = "cli",
    stop: threading.Event | None = None,
) -> ImportReport:
    """Import a TAC file (format detected unless given) and record the run in the ledger.

    New TACs are inserted; TACs already known get the file's brand, model and source, and
    the import's time, unless they have them already (those are left alone). Any error
    rolls the whole import back, marks the run ``failed`` (``interrupted`` when stopped by
    a signal) and is raised again. ``stop``, set by the caller's SIGTERM handler, is looked
    at between rows and before the commit: raising there, never from inside a database
    call, leaves the connection able to roll back."""
    run_id = _start_run(db, path=path, started_by=started_by)
    report: ImportReport | None = None
    try:
        fmt = fmt or detect_format(path)
        if fmt not in FORMATS:
            raise InvalidInput("tac_file_unknown_format", field="fmt", fmt=fmt)
        report = ImportReport(fmt=fmt)
        with db.transaction() as session:
            postgresql = session.get_bind().dialect.name == "postgresql"
            batches = _usable_batches(path, report, stop, plain_blocks=postgresql)
            report.imported, report.updated, report.unchanged = _upsert(
                session, batches, source=fmt, path=path
            )
            _stop_if_asked(stop)
    except BaseException as exc:  # an interrupted run ended too: say so in the ledger
        interrupted = isinstance(exc, ImportInterrupted | KeyboardInterrupt)
        outcome = INTERRUPTED if interrupted else "failed"
        _finish_run(db, run_id, outcome=outcome, report=report, detail=_describe(exc))
        raise
    _finish_run(db, run_id, outcome="ok", report=report, detail=report.summary())
    return report


def _stop_if_asked(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise ImportInterrupted("SIGTERM")


class ImportInterrupted(BaseException):
    """Raised where a run is stopped by a signal (the CLI's SIGTERM handler): a
    ``BaseException``, like ``KeyboardInterrupt``, so nothing on the way swallows it."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}")


# ---- reading -----------------------------------------------------------------------------


def _usable_batches(
    path: Path, report: ImportReport, stop: threading.Event | None, *, plain_blocks: bool
) -> Iterator[PlainBlock | list[_TacRow]]:
    """The usable rows of the file, a batch at a time; counts the skipped ones in ``report``.

    With ``plain_blocks`` (PostgreSQL's import), an Osmocom file with one record a line is
    read a block of bytes at a time, and a block of plain lines none of whose TACs was met
    before comes as a :class:`PlainBlock` (see :mod:`mcqs.devices.tac_lines`); every other
    block's lines go through the rules (:func:`_keep_usable`) and come as rows."""
    # One bit per possible TAC (10**8 of them, 12.5 MB): a set of a million strings would
    # take seven times that.
    seen = bytearray(10**8 // 8)
    if plain_blocks and report.fmt == "osmocom" and _one_record_a_line(path):
        yield from _osmocom_blocks(path, report, stop, seen)
        return
    rows = _usable_rows(path, report, stop, seen)
    while batch := list(islice(rows, _COPY_BLOCK)):
        yield batch


def _usable_rows(
    path: Path, report: ImportReport, stop: threading.Event | None, seen: bytearray
) -> Iterator[_TacRow]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        raw = _read_osmocom(file, path) if report.fmt == "osmocom" else _read_gsma(file, path)
        yield from _keep_usable(raw, report, stop, seen)


# The readers give each non-blank record with the line it starts on (a quoted field may
# span lines: the csv reader's ``line_num`` counts the physical lines consumed so far).


def _read_osmocom(file: IO[str], path: Path) -> Iterator[_TacRow]:
    reader = csv.reader(file)
    next(reader, None)  # line 1: the licence banner (kept with any copy, not data)
    _check_osmocom_header(next(reader, None), path)
    start = reader.line_num + 1
    for record in reader:
        if (cells := _osmocom_cells(record)) is not None:
            yield start, *cells
        start = reader.line_num + 1


def _check_osmocom_header(header: list[str] | None, path: Path) -> None:
    if header is None or [cell.strip().lower() for cell in header[:3]] != _OSMOCOM_HEADER:
        raise InvalidInput("tac_file_bad_header", field="path", path=str(path))


def _osmocom_cells(record: list[str]) -> tuple[str, str, str] | None:
    """A record's TAC, brand and model (empty where the record is short), or ``None`` for a
    blank record."""
    if len(record) >= 3:
        tac, brand, model = record[0], record[1], record[2]
    else:
        tac, brand, model = [*record, "", "", ""][:3]
    if (tac and not tac.isspace()) or not _blank(record):
        return tac, brand, model
    return None


def _one_record_a_line(path: Path) -> bool:
    """No double quote, carriage return or NUL byte in the file: each line is one record,
    its fields split by commas as the csv module would split them."""
    with path.open("rb") as file:
        while data := file.read(_READ_BYTES):
            if b'"' in data or b"\r" in data or b"\0" in data:
                return False
    return True


def _osmocom_blocks(
    path: Path, report: ImportReport, stop: threading.Event | None, seen: bytearray
) -> Iterator[PlainBlock | list[_TacRow]]:
    """:func:`_usable_batches` of an Osmocom file with one record a line."""
    seen_bits = np.frombuffer(seen, dtype=np.uint8)  # the same bytes, seen by numpy
    with path.open("rb") as file:
        file.readline()  # line 1: the licence banner
        header = file.readline().decode("utf-8").removesuffix("\n")
        _check_osmocom_header(header.split(",") if header else None, path)
        line = 3
        for block in blocks_of_lines(iter(lambda: file.read(_READ_BYTES), b"")):
            _stop_if_asked(stop)
            plain = plain_block(block, brand_max=_BRAND_MAX, model_max=_MODEL_MAX)
            if (
                plain is not None
                and not bits_set(seen_bits, plain.tacs).any()
                and not _repeats(plain.tacs)
            ):
                set_bits(seen_bits, plain.tacs)
                report.read += len(plain)
                yield plain
            else:
                yield list(_keep_usable(_osmocom_lines(block, line), report, stop, seen))
            line += block.count(b"\n")


def _repeats(tacs: Any) -> bool:
    ordered = np.sort(tacs)
    return bool(np.any(ordered[1:] == ordered[:-1]))


def _osmocom_lines(block: bytes, first_line: int) -> Iterator[_TacRow]:
    for number, text_line in enumerate(block.decode("utf-8").split("\n")[:-1], first_line):
        if (cells := _osmocom_cells(text_line.split(","))) is not None:
            yield number, *cells


def _read_gsma(file: IO[str], path: Path) -> Iterator[_TacRow]:
    # No quoting in GSMA files: a model name may hold an inch mark (10.1").
    reader = csv.reader(file, delimiter="|", quoting=csv.QUOTE_NONE)
    header = [cell.strip().casefold() for cell in next(reader, [])]

    def columns(*names: str) -> list[int]:
        return [header.index(name.casefold()) for name in names if name.casefold() in header]

    tac_column = columns("TAC")
    brand_columns = columns(*_GSMA_BRAND_COLUMNS)
    model_columns = columns(*_GSMA_MODEL_COLUMNS)
    if not (tac_column and brand_columns and model_columns):
        raise InvalidInput("tac_file_bad_header", field="path", path=str(path))
    start = reader.line_num + 1
    for record in reader:
        if not _blank(record):
            brand = next((b for i in brand_columns if (b := _cell(record, i).strip())), "")
            model = next((m for i in model_columns if (m := _cell(record, i).strip())), "")
            yield start, _cell(record, tac_column[0]), brand, model
        start = reader.line_num + 1


def _blank(record: list[str]) -> bool:
    return not any(cell.strip() for cell in record)


def _cell(record: list[str], index: int) -> str:
    return record[index] if index < len(record) else ""


def _keep_usable(
    rows: Iterable[_TacRow],
    report: ImportReport,
    stop: threading.Event | None,
    seen: bytearray,
) -> Iterator[_TacRow]:
    """Tidy each row (strip, collapse spaces) and keep it, or count why it is skipped.

    The rules' one place, for both databases. ``seen`` has a bit set for each TAC kept
    so far. ``stop`` is looked at every few thousand rows (see :func:`import_tac_file`)."""
    fullmatch = _TAC.fullmatch
    read = report.read
    try:
        for line, raw_tac, raw_brand, raw_model in rows:
            read += 1
            if not read & 4095:
                _stop_if_asked(stop)
            tac, brand, model = (
                raw_tac.strip(),
                " ".join(raw_brand.split()),
                " ".join(raw_model.split()),
            )
            if not fullmatch(tac):
                reason = "tac_not_8_digits"
            elif not brand:
                reason = "missing_brand"
            elif not model:
                reason = "missing_model"
            elif len(brand) > _BRAND_MAX or len(model) > _MODEL_MAX:
                reason = "text_too_long"
            else:
                number = int(tac)
                bit = 1 << (number & 7)
                if seen[number >> 3] & bit:
                    reason = "duplicate_tac_in_file"
                else:
                    seen[number >> 3] |= bit
                    yield line, tac, brand, model
                    continue
            report.skip(reason, line)
    finally:
        report.read = read


def canonical_brands(brands: Iterable[str]) -> dict[str, str]:
    """One spelling per brand: casefolded brand -> its most frequent spelling.

    ``Samsung`` (2464 rows) beats ``SAMSUNG`` (2), ``BlackBerry`` beats ``Blackberry``;
    on a tie the spelling met first wins, so the result does not depend on luck."""
    return _canonical(Counter(brands))


def _canonical(spellings: Counter[str]) -> dict[str, str]:
    """:func:`canonical_brands` from spellings already counted (in the order first met)."""
    canonical: dict[str, str] = {}
    # most_common() sorts stably: equal counts keep the order they were first met in.
    for spelling, _count in spellings.most_common():
        canonical.setdefault(spelling.casefold(), spelling)
    return canonical


# ---- writing -----------------------------------------------------------------------------


def _upsert(
    session: Session, batches: Iterable[PlainBlock | list[_TacRow]], *, source: str, path: Path
) -> tuple[int, int, int]:
    """Insert new TACs, update known ones the file changes, brands spelt one way:
    (imported, updated, unchanged)."""
    if session.get_bind().dialect.name == "postgresql":
        return _copy_and_merge(session, batches, source=source, path=path)
    kept = [row for batch in batches for row in cast(list[_TacRow], batch)]
    spelling = canonical_brands(brand for _line, _tac, brand, _model in kept)
    now = utcnow()
    imported = updated = unchanged = 0
    for start in range(0, len(kept), _BATCH):
        batch = kept[start : start + _BATCH]
        known = {
            tac: (brand, model, source)
            for tac, brand, model, source in session.execute(
                select(TacModel.tac, TacModel.brand, TacModel.model, TacModel.source).where(
                    TacModel.tac.in_(r[1] for r in batch)
                )
            )
        }
        values = [
            {
                "tac": tac,
                "brand": spelling[brand.casefold()],
                "model": model,
                "source": source,
                "imported_at": now,
            }
            for _line, tac, brand, model in batch
        ]
        new = [v for v in values if v["tac"] not in known]
        old = [
            v
            for v in values
            if v["tac"] in known and known[v["tac"]] != (v["brand"], v["model"], v["source"])
        ]
        if new:
            session.execute(insert(TacModel), new)
        if old:
            session.execute(update(TacModel), old)  # bulk UPDATE by primary key
        imported += len(new)
        updated += len(old)
        unchanged += len(values) - len(new) - len(old)
    return imported, updated, unchanged


# PostgreSQL. The import holds a lock on the catalogue from its start (readers go on,
# another writer - another import - waits), so the TACs it reads as known stay the only
# known ones until it commits. New TACs are sent with ``COPY`` straight into
# ``tac_models`` as they are read; known ones are kept aside and, at the end, staged in a
# temporary table and updated from it where the file changes them (a file imported again
# rewrites nothing: a million rows rewritten cost 8-14 s and a gigabyte of WAL).
# ``INSERT … ON CONFLICT DO UPDATE`` from a staged copy of the whole file cost 5.8 s for a
# million new TACs and a plain ``INSERT … SELECT`` 2.4 s, after the staging; a ``COPY`` into
# the indexed table costs about as much as that ``INSERT`` alone, and is done while the
# file is read (docs/benchmarks.md, "TAC import").
_LOCK_CATALOGUE = "LOCK TABLE tac_models IN SHARE ROW EXCLUSIVE MODE"
# The TACs of 8 bytes (any other can match no usable row), one after another in one value:
# a ``COPY`` of them came a row a message, 2 s of Python for a million.
_KNOWN_TACS = """
SELECT convert_to(string_agg(tac, ''), 'UTF8') FROM tac_models WHERE octet_length(tac) = 8
"""
# ``imported_at`` is left to the column's default, ``now()``: the transaction's time, the
# same for every row of the import (a timestamp parsed per row was a third more of what
# PostgreSQL spent on a million new TACs).
_COPY_NEW = "COPY tac_models (tac, brand, model, source) FROM STDIN"
_STAGE = """
CREATE TEMPORARY TABLE tac_import_rows (tac varchar(8) COLLATE "C", brand varchar(100),
    model varchar(200)) ON COMMIT DROP;
CREATE TEMPORARY TABLE tac_import_brands (spelling varchar(100) PRIMARY KEY,
    canonical varchar(100)) ON COMMIT DROP
"""
_UPDATE_KNOWN = """
UPDATE tac_models t SET brand = b.canonical, model = r.model, source = %(source)s,
    imported_at = now()
FROM tac_import_rows r JOIN tac_import_brands b ON b.spelling = r.brand
WHERE t.tac = r.tac
    AND (t.brand, t.model, t.source) IS DISTINCT FROM (b.canonical, r.model, %(source)s)
"""
# New TACs went in with the spelling their row had; those whose spelling lost to another.
_RESPELL_NEW = """
UPDATE tac_models t SET brand = b.canonical
FROM tac_import_rows r JOIN tac_import_brands b ON b.spelling = r.brand
WHERE t.tac = r.tac
"""
# A file with more than twice as many lines as the catalogue has TACs (so it adds more than
# the catalogue holds: a first load; a full dump imported again, the usual case, has about
# as many lines as the catalogue has TACs) is loaded as pg_restore loads a table:
# the primary key dropped, the rows copied, the key built again by one sort, which costs a
# fraction of finding each new TAC's place in the index (docs/benchmarks.md, "TAC import,
# fourth round"). Dropping the key takes the catalogue's ACCESS EXCLUSIVE lock from before
# the file is read until the commit: the check's TAC lookups wait for the whole import (0.7 s
# for a million Osmocom rows here; a GSMA file, read by the csv module, takes longer), which
# is why any other file goes into the index row by row.
# Only the table's owner may drop its key: the role that runs the migrations
# (docs/operations.md); run by another role, the import goes row by row. Nor is the key
# dropped when the lock is not granted within a second (a transaction reading the
# catalogue for longer): while a lock request waits, every reader that comes after it
# waits behind it, and the site's checks would wait with them.
_OWNS_CATALOGUE = """
SELECT pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'tac_models'::regclass
"""
_DROP_KEY = "ALTER TABLE tac_models DROP CONSTRAINT pk_tac_models"
_SET_LOCK_TIMEOUT = "SELECT set_config('lock_timeout', %s, true)"  # until the commit
# PostgreSQL's SQLSTATEs for a lock_timeout that ran out and for a deadlock: either way the
# key stays and the rows go in one at a time.
_LOCK_REFUSED = ("55P03", "40P01")
_ADD_KEY = "ALTER TABLE tac_models ADD CONSTRAINT pk_tac_models PRIMARY KEY (tac)"
# Rows read through the rules, taken a batch at a time: a COPY write per row costs more
# than the row.
_COPY_BLOCK = 8192
# Known rows kept aside in memory up to this many characters, then in a temporary file.
_ASIDE_IN_MEMORY = 8 << 20


def _copy_and_merge(
    session: Session, batches: Iterable[PlainBlock | list[_TacRow]], *, source: str, path: Path
) -> tuple[int, int, int]:
    """PostgreSQL: new TACs copied into the catalogue as they are read, known ones updated at
    the end where the file changes them, each brand spelt its one way (see the section's
    comments; how many lines ``path`` has decides whether the key is built again in bulk):
    (imported, updated, unchanged)."""
    session.execute(text(_LOCK_CATALOGUE))
    driver = session.connection().connection.dbapi_connection
    assert driver is not None
    cursor: Any = driver.cursor()  # psycopg's, which speaks COPY
    with cursor, SpooledTemporaryFile(_ASIDE_IN_MEMORY, mode="w+", encoding="utf-8") as aside:
        known, catalogue = _known_tacs(cursor)  # before the COPY: one at a time on a connection
        in_bulk = (
            _has_more_lines(path, than=2 * catalogue)
            and cursor.execute(_OWNS_CATALOGUE).fetchone()[0]
            and _dropped_key(cursor)
        )
        with cursor.copy(_COPY_NEW) as copy:
            written = _Written(copy, aside, known, f"\t{source}\n")
            for batch in batches:
                if isinstance(batch, PlainBlock):
                    written.add_plain(batch)
                else:
                    written.add_rows(batch)
        if in_bulk:
            cursor.execute(_ADD_KEY)
        canonical = _canonical(written.spellings)
        respelt = {
            spelling: tacs
            for spelling, tacs in written.new_of.items()
            if canonical[spelling.casefold()] != spelling
        }
        updated = 0
        if written.known_rows or respelt:
            cursor.execute(_STAGE)
            with cursor.copy("COPY tac_import_brands (spelling, canonical) FROM STDIN") as copy:
                for spelling in written.spellings:
                    copy.write_row((spelling, canonical[spelling.casefold()]))
        if written.known_rows:
            aside.seek(0)
            with cursor.copy("COPY tac_import_rows (tac, brand, model) FROM STDIN") as copy:
                while chunk := aside.read(1 << 20):
                    copy.write(chunk)
            updated = cursor.execute(_UPDATE_KNOWN, {"source": source}).rowcount
        if respelt:
            cursor.execute("TRUNCATE tac_import_rows")
            with cursor.copy("COPY tac_import_rows (tac, brand) FROM STDIN") as copy:
                for spelling, tacs in respelt.items():
                    for number in tacs:
                        copy.write_row((f"{number:08d}", spelling))
            cursor.execute(_RESPELL_NEW)
    return written.imported, updated, written.known_rows - updated


class _Written:
    """Where a PostgreSQL import's usable rows go as they are read: new TACs to ``COPY``
    (rows of its text format ending with ``tail``), known ones ``aside``; every spelling
    counted (in the order first met) and the new TACs written with each kept."""

    def __init__(self, copy: Any, aside: IO[str], known: bytearray, tail: str) -> None:
        self.copy, self.aside, self.tail = copy, aside, tail
        self.known = known
        self.known_bits = np.frombuffer(known, dtype=np.uint8)
        self.spellings: Counter[str] = Counter()
        self.new_of: dict[str, array[int]] = {}
        self.imported = 0
        self.known_rows = 0  # rows of TACs already in the catalogue, kept aside

    def add_rows(self, rows: list[_TacRow]) -> None:
        known, new_of, spellings = self.known, self.new_of, self.spellings
        new: list[str] = []
        kept: list[str] = []
        for _line, tac, brand, model in rows:
            spellings[brand] += 1
            number = int(tac)
            if known[number >> 3] & (1 << (number & 7)):
                kept.append(f"{tac}\t{brand}\t{model}\n")
                continue
            new.append(f"{tac}\t{brand}\t{model}{self.tail}")
            if (tacs := new_of.get(brand)) is None:
                tacs = new_of[brand] = array("i")
            tacs.append(number)
        # Tidied text holds no tab, newline or carriage return (whitespace is collapsed to
        # single spaces): only a backslash needs escaping.
        self.copy.write("".join(new).replace("\\", "\\\\"))
        self.aside.write("".join(kept).replace("\\", "\\\\"))
        self.imported += len(new)
        self.known_rows += len(kept)

    def add_plain(self, batch: PlainBlock) -> None:
        names, spelt = batch.spellings()
        counts = np.bincount(spelt, minlength=len(names))
        self.spellings.update(dict(zip(names, counts.tolist(), strict=True)))
        is_known = bits_set(self.known_bits, batch.tacs)
        if is_known.any():
            self.aside.write(batch.copy_text(is_known, b"\n").decode("ascii"))
            self.known_rows += int(is_known.sum())
        is_new = ~is_known
        self.copy.write(batch.copy_text(is_new, self.tail.encode()))
        self.imported += int(is_new.sum())
        # The new TACs grouped by spelling: sorted by it, then cut where each ends.
        new_spelt = spelt[is_new]
        by_spelling = batch.tacs[is_new][np.argsort(new_spelt, kind="stable")]
        cuts = np.cumsum(np.bincount(new_spelt, minlength=len(names)))[:-1]
        for name, tacs in zip(names, np.split(by_spelling, cuts), strict=True):
            if len(tacs):
                self.new_of.setdefault(name, array("i")).frombytes(tacs.astype("=i4").tobytes())


def _dropped_key(cursor: Any) -> bool:
    """Drop the catalogue's key if its lock is granted within a second (see the section's
    comments); whether it was."""
    cursor.execute("SAVEPOINT drop_key")
    lock_timeout = cursor.execute("SHOW lock_timeout").fetchone()[0]
    cursor.execute(_SET_LOCK_TIMEOUT, ("1s",))
    try:
        cursor.execute(_DROP_KEY)
    except Exception as error:  # psycopg's LockNotAvailable; the driver is not named here
        if getattr(error, "sqlstate", None) not in _LOCK_REFUSED:
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT drop_key")  # the setting rolled back with it
        return False
    cursor.execute(_SET_LOCK_TIMEOUT, (lock_timeout,))  # as it was, for the rest
    cursor.execute("RELEASE SAVEPOINT drop_key")
    return True


def _has_more_lines(path: Path, *, than: int) -> bool:
    """Whether the file has more than ``than`` lines (read only as far as it takes to tell:
    a first load into a small catalogue is told in its first block)."""
    lines = 0
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_READ_BYTES), b""):
            lines += block.count(b"\n")
            if lines > than:
                return True
    return False


def _known_tacs(cursor: Any) -> tuple[bytearray, int]:
    """One bit per TAC already in the catalogue (as ``_keep_usable``'s ``seen``), and how
    many TACs the catalogue holds."""
    known = bytearray(10**8 // 8)
    (tacs,) = cursor.execute(_KNOWN_TACS, binary=True).fetchone()
    if tacs:
        digits = np.frombuffer(tacs, dtype=np.uint8).reshape(-1, 8)
        usable = ((digits >= ord("0")) & (digits <= ord("9"))).all(axis=1)
        if not usable.all():
            digits = digits[usable]
        set_bits(np.frombuffer(known, dtype=np.uint8), tac_numbers(digits))
    return known, len(tacs or b"") // 8


# ---- the ledger --------------------------------------------------------------------------


def _start_run(db: Database, *, path: Path, started_by: str) -> int:
    with db.transaction() as session:
        run = OperatorRun(
            kind=RUN_KIND, source=str(path)[-300:], started_by=started_by, outcome="running"
        )
        session.add(run)
        session.flush()
        return run.id


def _finish_run(
    db: Database, run_id: int, *, outcome: str, report: ImportReport | None, detail: str
) -> None:
    with db.transaction() as session:
        run = session.get_one(OperatorRun, run_id)
        run.outcome = outcome
        run.finished_at = utcnow()
        run.counts = asdict(report) if report is not None else None
        run.detail = detail


def _describe(exc: BaseException) -> str:
    if isinstance(exc, DomainError):
        params = ", ".join(f"{key}={value}" for key, value in exc.params.items())
        return f"{exc.code}" + (f" ({params})" if params else "")
    return f"{type(exc).__name__}: {exc}"
