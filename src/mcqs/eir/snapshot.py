"""Each serving process's copy of the status columns, kept fresh from PostgreSQL.

The decision record (docs/decisions/0006-eir-representation.md) says why: a check answered
from memory instead of a query per request. Per IMEI, sorted ``int64`` keys (the 14 digits
of ``imei_norm``) and a status byte (:data:`REGISTERED`, :data:`CLONE`, :data:`STOLEN`,
:data:`GRACE`); the grace ends, in microseconds, only for the IMEIs that have one (a tenth
or so), in a second pair of sorted arrays. About 90 MB for 10 million IMEIs.

Fresh within the 2 seconds of the issue: migration 0010 makes every statement that writes
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

_FLAGS = (
    "(registered::int + 2 * clone::int"
    " + 4 * (blacklist_reason IS NOT DISTINCT FROM 'stolen')::int"
    " + 8 * (grace_until IS NOT NULL)::int)"
)
_GRACE_US = "(extract(epoch FROM grace_until) * 1000000)::int8"
# One int64 per IMEI: its 14 digits, shifted, and the status bits (10^14 < 2^47).
_SHIFT, _BITS = 4, 15
_ENTRY = f"int8send((imei_norm::int8 << {_SHIFT}) | {_FLAGS})"
_CHUNK_SQL = (
    f"SELECT string_agg({_ENTRY}, ''::bytea),"
    " string_agg(int8send(imei_norm::int8), ''::bytea) FILTER (WHERE grace_until IS NOT NULL),"
    f" string_agg(int8send({_GRACE_US}), ''::bytea) FILTER (WHERE grace_until IS NOT NULL)"
    " FROM eir_imeis WHERE ctid >= %(first)s::tid"
)
_BEFORE = " AND ctid < %(last)s::tid"
_CHUNK_PAGES = 8192  # of 8 kB: about 700,000 rows
_ROWS_SQL = (
    f"SELECT imei_norm::int8, {_FLAGS}, coalesce({_GRACE_US}, 0)"
    " FROM eir_imeis WHERE imei_norm = ANY(%s)"
)
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
        # Sorted: each IMEI's key << 4 | its status bits.
        self.entries = np.empty(0, dtype=np.int64)
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
        entries = self.entries
        at = int(entries.searchsorted(key << _SHIFT))
        if at == len(entries) or int(entries[at]) >> _SHIFT != key:
            return None
        flags = int(entries[at]) & _BITS
        grace = 0
        if flags & GRACE:
            grace_keys = self.grace_keys
            g = int(grace_keys.searchsorted(key))
            grace = int(self.grace_us[g]) if g < len(grace_keys) and grace_keys[g] == key else 0
        return flags, grace

    def codes(self, wanted: Any, now_us: int) -> Any:
        """Status codes (``UNKNOWN_CODE``…) of many IMEIs (an int64 array), no SIM given."""
        entries = self.entries
        count = len(wanted)
        row_flags = np.zeros(count, dtype=np.int64)
        if len(entries):
            # Sorted needles: each binary search starts where the last one ended (8x faster).
            needles = wanted << _SHIFT
            order = np.argsort(needles)
            at = np.empty(count, dtype=np.intp)
            at[order] = entries.searchsorted(needles[order])
            at[at == len(entries)] = 0
            found = entries[at]
            row_flags = np.where((found >> _SHIFT) == wanted, found & _BITS, 0)
        grace = np.zeros(count, dtype=np.int64)
        with_grace = np.nonzero(row_flags & GRACE)[0]
        if len(with_grace) and len(self.grace_keys):
            g = self.grace_keys.searchsorted(wanted[with_grace])
            g[g == len(self.grace_keys)] = 0
            grace[with_grace] = np.where(
                self.grace_keys[g] == wanted[with_grace], self.grace_us[g], 0
            )
        if self.overlay:
            for index in np.nonzero(np.isin(wanted, list(self.overlay)))[0]:
                entry = self.overlay[int(wanted[index])]
                row_flags[index], grace[index] = entry if entry is not None else (0, 0)
        code = np.zeros(count, dtype=np.uint8)
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
            log.info("EIR snapshot: %d IMEIs", len(self.entries))
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
            entries, grace_keys, grace_us = _read_columns(conn)
        overlay = self.overlay
        self.entries, self.grace_keys, self.grace_us = entries, grace_keys, grace_us
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


def _read_columns(conn: psycopg.Connection[Any]) -> tuple[Any, Any, Any]:
    """The arrays, read in chunks of the table's pages (sequential reads, no index), each
    chunk as three packed byte strings (one value per chunk, not a message per row), into
    an array allocated once and sorted in place: loading costs little more than keeping."""
    sizes = conn.execute(
        "SELECT count(*), count(grace_until),"
        " pg_relation_size('eir_imeis') / current_setting('block_size')::int FROM eir_imeis"
    ).fetchone()
    total, total_grace, pages = (int(size) for size in sizes) if sizes else (0, 0, 0)
    entries = np.empty(total, dtype=np.int64)
    grace_keys = np.empty(total_grace, dtype=np.int64)
    grace_us = np.empty(total_grace, dtype=np.int64)
    filled = filled_grace = 0
    for first in range(0, pages + 1, _CHUNK_PAGES):
        last = first + _CHUNK_PAGES
        bounds = {"first": f"({first},0)", "last": f"({last},0)"}
        row = conn.execute(
            _CHUNK_SQL + (_BEFORE if last <= pages else ""), bounds, binary=True
        ).fetchone()
        if row is None or row[0] is None:
            continue
        chunk = np.frombuffer(row[0], dtype=">i8")
        entries[filled : filled + len(chunk)] = chunk
        filled += len(chunk)
        if row[1]:
            chunk = np.frombuffer(row[1], dtype=">i8")
            grace_keys[filled_grace : filled_grace + len(chunk)] = chunk
            grace_us[filled_grace : filled_grace + len(chunk)] = np.frombuffer(row[2], dtype=">i8")
            filled_grace += len(chunk)
        del row, chunk
    if (filled, filled_grace) != (total, total_grace):
        raise RuntimeError(f"EIR snapshot: {filled} of {total} rows read")
    entries.sort()
    order = np.argsort(grace_keys)
    return entries, grace_keys[order], grace_us[order]
