"""Each serving process's copy of the status columns, kept fresh from PostgreSQL.

The decision record (docs/decisions/0006-eir-representation.md) says why: a check answered
from memory instead of a query per request. Per IMEI, sorted ``int64`` keys (the 14 digits
of ``imei_norm``) and a status byte (:data:`REGISTERED`, :data:`CLONE`, :data:`STOLEN`,
:data:`GRACE`); the grace ends, in microseconds, only for the IMEIs that have one (a tenth
or so), in a second pair of sorted arrays. About 90 MB for 10 million IMEIs.

Fresh within the 2 seconds of the issue: migration 0009 makes every statement that writes
``eir_imeis`` send the keys it changed (``NOTIFY mcqs_eir``) when its transaction commits,
in commit order. A thread listens (it starts listening *before* it reads the arrays, in one
repeatable-read snapshot, so no change falls between), reads each notified row again from
the table and keeps it in an overlay that beats the arrays. Grace expiry needs nothing:
the status is derived from ``grace_until`` when asked (:func:`mcqs.eir.status.decide`).
While the arrays are loading, or the listening connection is lost (until it is back and
the arrays are read again), :attr:`StatusSnapshot.ready` is False and callers ask
PostgreSQL, the source of truth. SQLite (the demo) has no snapshot.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

import numpy as np
import psycopg

from mcqs.eir.models import EquipmentStatus

log = logging.getLogger(__name__)

CHANNEL = "mcqs_eir"
REGISTERED, CLONE, STOLEN, GRACE = 1, 2, 4, 8
# Status codes of the vectorised rule (index into STATUS_NAMES).
UNKNOWN_CODE, WHITE_CODE, GREY_CODE, BLACK_CODE = 0, 1, 2, 3
STATUS_NAMES = ("UNKNOWN", "WHITELISTED", "GREYLISTED", "BLACKLISTED")
STATUS_OF_CODE = (
    None,
    EquipmentStatus.WHITELISTED,
    EquipmentStatus.GREYLISTED,
    EquipmentStatus.BLACKLISTED,
)

_FLAGS_SQL = (
    "SELECT imei_norm::int8, (registered::int + 2 * clone::int"
    " + 4 * (blacklist_reason IS NOT DISTINCT FROM 'stolen')::int"
    " + 8 * (grace_until IS NOT NULL)::int)::int2 FROM eir_imeis"
)
_GRACE_SQL = (
    "SELECT imei_norm::int8, (extract(epoch FROM grace_until) * 1000000)::int8"
    " FROM eir_imeis WHERE grace_until IS NOT NULL"
)
_ROWS_SQL = (
    "SELECT imei_norm::int8, (registered::int + 2 * clone::int"
    " + 4 * (blacklist_reason IS NOT DISTINCT FROM 'stolen')::int"
    " + 8 * (grace_until IS NOT NULL)::int)::int2,"
    " coalesce((extract(epoch FROM grace_until) * 1000000)::int8, 0)"
    " FROM eir_imeis WHERE imei_norm = ANY(%s)"
)
# COPY's binary rows: a 2-byte field count, then each field's 4-byte length and value.
_FLAGS_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("key", ">i8"), ("l2", ">i4"), ("f", ">i2")])
_GRACE_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("key", ">i8"), ("l2", ">i4"), ("g", ">i8")])
_HEADER = 19  # PGCOPY signature, flags, extension length
_OVERLAY_LIMIT = 200_000  # changes kept beside the arrays before they are read again


def micros(moment: dt.datetime) -> int:
    """A moment as whole microseconds since the epoch (exact, as PostgreSQL's extract)."""
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def decide_code(flags: int, grace_us: int, now_us: int) -> int:
    """:func:`mcqs.eir.status.decide` on a status byte, without a SIM (a clone is black;
    the single check asks PostgreSQL about a clone's pairing instead)."""
    if flags & (STOLEN | CLONE):
        return BLACK_CODE
    if flags & REGISTERED:
        return WHITE_CODE
    if flags & GRACE:
        return GREY_CODE if now_us < grace_us else BLACK_CODE
    return UNKNOWN_CODE


class StatusSnapshot:
    """The arrays, the overlay, and the thread that keeps them (see the module)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.ready = False
        self.keys = np.empty(0, dtype=np.int64)
        self.flags = np.empty(0, dtype=np.uint8)
        self.grace_keys = np.empty(0, dtype=np.int64)
        self.grace_us = np.empty(0, dtype=np.int64)
        # imei key → (flags, grace end µs), or None: the row is gone.
        self.overlay: dict[int, tuple[int, int] | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    # ---- reading ---------------------------------------------------------------------

    def lookup(self, key: int) -> tuple[int, int] | None:
        """(flags, grace end µs) of one IMEI, None when unknown. Only when :attr:`ready`."""
        if key in self.overlay:
            return self.overlay[key]
        keys = self.keys
        at = int(keys.searchsorted(key))
        if at == len(keys) or keys[at] != key:
            return None
        flags = int(self.flags[at])
        grace = 0
        if flags & GRACE:
            grace_keys = self.grace_keys
            g = int(grace_keys.searchsorted(key))
            grace = int(self.grace_us[g]) if g < len(grace_keys) and grace_keys[g] == key else 0
        return flags, grace

    def codes(self, wanted: np.ndarray[Any, np.dtype[np.int64]], now_us: int) -> Any:
        """Status codes (``UNKNOWN_CODE``…) of many IMEIs at once, no SIM given."""
        keys, flags = self.keys, self.flags
        at = keys.searchsorted(wanted)
        at[at == len(keys)] = 0
        found = keys[at] == wanted if len(keys) else np.zeros(len(wanted), dtype=bool)
        row_flags = np.where(found, flags[at] if len(keys) else 0, 0).astype(np.uint8)
        grace = np.zeros(len(wanted), dtype=np.int64)
        with_grace = np.nonzero(row_flags & GRACE)[0]
        if len(with_grace) and len(self.grace_keys):
            g = self.grace_keys.searchsorted(wanted[with_grace])
            g[g == len(self.grace_keys)] = 0
            grace[with_grace] = np.where(
                self.grace_keys[g] == wanted[with_grace], self.grace_us[g], 0
            )
        for index in np.nonzero(np.isin(wanted, list(self.overlay)))[0] if self.overlay else ():
            entry = self.overlay[int(wanted[index])]
            row_flags[index], grace[index] = entry if entry is not None else (0, 0)
        code = np.zeros(len(wanted), dtype=np.uint8)
        in_grace = (row_flags & GRACE) != 0
        code[in_grace] = np.where(grace[in_grace] > now_us, GREY_CODE, BLACK_CODE)
        code[(row_flags & REGISTERED) != 0] = WHITE_CODE
        code[(row_flags & (STOLEN | CLONE)) != 0] = BLACK_CODE
        return code

    # ---- keeping it -------------------------------------------------------------------

    def start_once(self) -> None:
        """Start keeping it (in a thread), unless started already or stopped."""
        with self._starting:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._keep, name="eir-snapshot", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.ready = False

    def wait_ready(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.ready

    def _keep(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen_and_follow()
            except Exception:  # the connection is lost: PostgreSQL answers meanwhile
                log.exception("EIR snapshot: listening failed; answering from PostgreSQL")
            self.ready = False
            self._stop.wait(2)

    def _listen_and_follow(self) -> None:
        with (
            psycopg.connect(self.conninfo, autocommit=True) as listening,
            psycopg.connect(self.conninfo, autocommit=True) as reading,
        ):
            listening.execute(f"LISTEN {CHANNEL}")
            self._load(reading)
            self.ready = True
            log.info("EIR snapshot: %d IMEIs", len(self.keys))
            while not self._stop.is_set():
                changed: set[int] = set()
                reload = False
                for note in listening.notifies(timeout=0.5, stop_after=1000):
                    if note.payload == "*":  # the table was emptied
                        reload = True
                    else:
                        changed.update(int(k) for k in note.payload.split(",") if k)
                if reload:
                    self.ready = False
                    self._load(reading)
                    self.ready = True
                elif changed:
                    self._refresh(reading, changed)
                if len(self.overlay) > _OVERLAY_LIMIT:
                    self._load(reading)

    def _load(self, conn: psycopg.Connection[Any]) -> None:
        started = time.perf_counter()
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            keys, flags = _copy_columns(conn, _FLAGS_SQL, _FLAGS_ROW, "f", np.uint8)
            grace_keys, grace_us = _copy_columns(conn, _GRACE_SQL, _GRACE_ROW, "g", np.int64)
        overlay = self.overlay
        self.keys, self.flags, self.grace_keys, self.grace_us = keys, flags, grace_keys, grace_us
        # Changes notified while loading are in the arrays or come again; keep them anyway.
        self.overlay = {}
        if overlay:
            self._refresh(conn, set(overlay))
        log.info("EIR snapshot loaded in %.1f s", time.perf_counter() - started)

    def _refresh(self, conn: psycopg.Connection[Any], changed: set[int]) -> None:
        """Read the notified rows again: their committed state goes in the overlay."""
        found: dict[int, tuple[int, int] | None] = dict.fromkeys(changed)
        names = [f"{key:014d}" for key in changed]
        for key, flags, grace in conn.execute(_ROWS_SQL, (names,)):
            found[int(key)] = (int(flags), int(grace))
        self.overlay.update(found)


def _copy_columns(
    conn: psycopg.Connection[Any], select: str, row: np.dtype[Any], value: str, kind: type
) -> tuple[Any, Any]:
    """Two columns of a query (ordered by key) through binary COPY, into arrays allocated
    once: the rows stream through a small buffer, so loading costs no more than keeping."""
    count = conn.execute(f"SELECT count(*) FROM ({select}) AS counted").fetchone()
    total = int(count[0]) if count else 0
    keys = np.empty(total, dtype=np.int64)
    values: Any = np.empty(total, dtype=kind)
    filled = 0
    pending = bytearray()
    skip = _HEADER
    with conn.cursor().copy(
        f"COPY ({select} ORDER BY imei_norm) TO STDOUT (FORMAT binary)"
    ) as copy:
        for block in copy:
            pending += block
            if skip:
                if len(pending) < skip:
                    continue
                del pending[:skip]
                skip = 0
            whole = min(len(pending) // row.itemsize, total - filled)
            if whole:
                rows = np.frombuffer(pending, dtype=row, count=whole)
                keys[filled : filled + whole] = rows["key"]
                values[filled : filled + whole] = rows[value]
                del rows
                filled += whole
                del pending[: whole * row.itemsize]
    if filled != total:
        raise RuntimeError(f"EIR snapshot: {filled} rows read of {total}")
    if total > 1 and not bool(np.all(keys[1:] > keys[:-1])):
        order = np.argsort(keys)
        keys, values = keys[order], values[order]
    return keys, values
