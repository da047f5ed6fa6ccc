"""Where a simulator keeps its state: one small SQLite file per simulator (stdlib sqlite3).

The demo serves the web with several processes, and a payment key made in one must be
payable in another; it also restarts, and a citizen's pending payment must survive that.
A file per simulator under one directory (``MCQS_SIM_STATE_DIR``) gives both, and keeps
the simulators apart from MCQS's own database, as a real party's data would be. Without
a directory the state lives in memory, for unit tests of one simulator in one process.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SimulatorState:
    """One SQLite database with its schema; ``transaction()`` holds the write lock.

    Every transaction starts with ``BEGIN IMMEDIATE``: a read-modify-write (charging a
    card, de-duplicating a message) is then serialised across threads and processes.
    """

    def __init__(self, path: Path | None, *, schema: str) -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per process, shared by the request threads behind a lock;
        # other processes wait for SQLite's own lock (busy timeout).
        self._connection = sqlite3.connect(
            str(path) if path else ":memory:",
            timeout=30,
            isolation_level=None,
            check_same_thread=False,
        )
        self._connection.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        if path is not None:
            # WAL with synchronous=NORMAL: a commit survives the process (a restart keeps a
            # citizen's pending payment) without an fsync, which would stall the event loop
            # of the web process the simulator is served in, and every request on it.
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute("PRAGMA synchronous=NORMAL")
        # executescript runs each statement on its own (it commits any open transaction);
        # CREATE ... IF NOT EXISTS makes a race between processes starting together harmless.
        self._connection.executescript(schema)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def state_file(state_dir: Path | None, name: str) -> Path | None:
    """``<state_dir>/<name>.sqlite3``, or None (in memory) without a directory."""
    return state_dir / f"{name}.sqlite3" if state_dir is not None else None
