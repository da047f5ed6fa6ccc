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

On PostgreSQL the file is read once and never held in memory: its usable rows are streamed
with ``COPY`` into a temporary table as they are read, while brand spellings are counted
(the most frequent spelling of a brand is its name in the catalogue); then the catalogue
is merged from that table (known TACs updated, then new ones inserted, under a lock that
keeps other writers out), each brand spelt its one way. On SQLite (the
demo's small catalogue) the rows are held and written a batch at a time.
"""

from __future__ import annotations

import csv
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from mcqs.db import Database, utcnow
from mcqs.devices.models import TacModel
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
# What the ledger says of a run stopped by a signal (SIGTERM, Ctrl-C) rather than failed.
INTERRUPTED = "interrupted"


@dataclass
class ImportReport:
    fmt: str
    read: int = 0  # data rows read (banner, header and blank lines not counted)
    imported: int = 0  # TACs new to the catalogue
    updated: int = 0  # TACs already in the catalogue, rewritten from the file
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
            f"{sum(self.skipped.values())} skipped" + (f" ({skipped})" if skipped else "")
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

    New TACs are inserted; TACs already known get the file's brand and model. Any error
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
            rows = _usable_rows(path, report, stop)
            report.imported, report.updated = _upsert(session, rows, source=fmt)
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


def _usable_rows(
    path: Path, report: ImportReport, stop: threading.Event | None
) -> Iterator[_TacRow]:
    """The usable rows of the file, one at a time; counts the skipped ones in ``report``."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        raw = _read_osmocom(file, path) if report.fmt == "osmocom" else _read_gsma(file, path)
        yield from _keep_usable(raw, report, stop)


# The readers give each non-blank record with the line it starts on (a quoted field may
# span lines: the csv reader's ``line_num`` counts the physical lines consumed so far).


def _read_osmocom(file: IO[str], path: Path) -> Iterator[_TacRow]:
    reader = csv.reader(file)
    next(reader, None)  # line 1: the licence banner (kept with any copy, not data)
    header = next(reader, None)
    if header is None or [cell.strip().lower() for cell in header[:3]] != _OSMOCOM_HEADER:
        raise InvalidInput("tac_file_bad_header", field="path", path=str(path))
    start = reader.line_num + 1
    for record in reader:
        if len(record) >= 3:
            tac, brand, model = record[0], record[1], record[2]
        else:
            tac, brand, model = [*record, "", "", ""][:3]
        if (tac and not tac.isspace()) or not _blank(record):
            yield start, tac, brand, model
        start = reader.line_num + 1


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
    rows: Iterable[_TacRow], report: ImportReport, stop: threading.Event | None
) -> Iterator[_TacRow]:
    """Tidy each row (strip, collapse spaces) and keep it, or count why it is skipped.

    The rules' one place, for both databases. ``stop`` is looked at every few thousand
    rows (see :func:`import_tac_file`)."""
    # One bit per possible TAC (10**8 of them, 12.5 MB): a set of a million strings would
    # take seven times that.
    seen = bytearray(10**8 // 8)
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


def _upsert(session: Session, rows: Iterable[_TacRow], *, source: str) -> tuple[int, int]:
    """Insert new TACs, update known ones, brands spelt one way: (imported, updated)."""
    if session.get_bind().dialect.name == "postgresql":
        return _copy_and_merge(session, rows, source=source)
    kept = list(rows)
    spelling = canonical_brands(brand for _line, _tac, brand, _model in kept)
    now = utcnow()
    imported = updated = 0
    for start in range(0, len(kept), _BATCH):
        batch = kept[start : start + _BATCH]
        known = set(
            session.scalars(select(TacModel.tac).where(TacModel.tac.in_(r[1] for r in batch)))
        )
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
        old = [v for v in values if v["tac"] in known]
        if new:
            session.execute(insert(TacModel), new)
        if old:
            session.execute(update(TacModel), old)  # bulk UPDATE by primary key
        imported += len(new)
        updated += len(old)
    return imported, updated


# The catalogue merged from the file's rows (each brand spelt its one way), in two
# statements rather than one ``INSERT … ON CONFLICT DO UPDATE``: a speculative insertion
# per row made that 2.4 times the cost of a plain insert of a million new TACs
# (docs/benchmarks.md, "TAC import"). Nothing else writes the catalogue meanwhile: the
# import holds a lock that lets readers in and keeps other writers (another import) out.
_LOCK_CATALOGUE = text("LOCK TABLE tac_models IN SHARE ROW EXCLUSIVE MODE")
_UPDATE_KNOWN = text(
    """
    UPDATE tac_models t SET brand = b.canonical, model = r.model, source = :source,
        imported_at = :now
    FROM tac_import_rows r JOIN tac_import_brands b ON b.spelling = r.brand
    WHERE t.tac = r.tac
    """
)
_INSERT_NEW = text(
    """
    INSERT INTO tac_models (tac, brand, model, source, imported_at)
    SELECT r.tac, b.canonical, r.model, :source, :now
    FROM tac_import_rows r JOIN tac_import_brands b ON b.spelling = r.brand
    WHERE NOT EXISTS (SELECT FROM tac_models t WHERE t.tac = r.tac)
    """
)
# Rows of COPY's text format sent at once: a write per row costs more than the row.
_COPY_BLOCK = 8192


def _copy_and_merge(session: Session, rows: Iterable[_TacRow], *, source: str) -> tuple[int, int]:
    """PostgreSQL: ``COPY`` the rows into a temporary table as they are read, counting brand
    spellings; then the spellings with their one name into another, and the catalogue
    updated and inserted from both."""
    session.execute(
        text(
            "CREATE TEMPORARY TABLE tac_import_rows (tac varchar(8), brand varchar(100), "
            "model varchar(200)) ON COMMIT DROP"
        )
    )
    session.execute(
        text(
            "CREATE TEMPORARY TABLE tac_import_brands (spelling varchar(100) PRIMARY KEY, "
            "canonical varchar(100)) ON COMMIT DROP"
        )
    )
    spellings: Counter[str] = Counter()
    driver = session.connection().connection.dbapi_connection
    assert driver is not None
    cursor: Any = driver.cursor()  # psycopg's, which speaks COPY
    with cursor:
        with cursor.copy("COPY tac_import_rows (tac, brand, model) FROM STDIN") as copy:
            # Text format, a block of rows at a time. Tidied text holds no tab, newline or
            # carriage return (whitespace is collapsed to single spaces): only a backslash
            # needs escaping, once per block.
            block: list[str] = []
            add = block.append
            for _line, tac, brand, model in rows:
                spellings[brand] += 1
                add(f"{tac}\t{brand}\t{model}\n")
                if len(block) == _COPY_BLOCK:
                    copy.write("".join(block).replace("\\", "\\\\"))
                    block.clear()
            copy.write("".join(block).replace("\\", "\\\\"))
        canonical = _canonical(spellings)
        with cursor.copy("COPY tac_import_brands (spelling, canonical) FROM STDIN") as copy:
            for spelling in spellings:
                copy.write_row((spelling, canonical[spelling.casefold()]))
    session.execute(_LOCK_CATALOGUE)
    values = {"source": source, "now": utcnow()}
    updated = session.execute(_UPDATE_KNOWN, values).rowcount  # type: ignore[attr-defined]
    imported = session.execute(_INSERT_NEW, values).rowcount  # type: ignore[attr-defined]
    return int(imported), int(updated)


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
