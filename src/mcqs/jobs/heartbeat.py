"""Worker heartbeats: each worker process says, every few seconds, that it is alive.

A queue that is merely empty and a worker that is dead look the same from the jobs table;
the heartbeat tells them apart for /healthz (see :mod:`mcqs.health`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import delete

from mcqs.db import Database
from mcqs.jobs.models import WorkerHeartbeat

log = logging.getLogger(__name__)

# Rows of workers gone longer than this are removed when a new worker starts, so that the
# table holds the workers of recent days and not every process that ever ran.
FORGET_AFTER = dt.timedelta(days=7)


def this_worker_id() -> str:
    """``hostname:pid``: unique among the processes running now, readable in the table."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def record_heartbeat(
    db: Database, worker_id: str, *, started_at: dt.datetime, now: dt.datetime
) -> bool:
    """Record that ``worker_id`` (started at ``started_at``) is alive at ``now``.

    Its own short transaction, apart from any job's. Never raises: a database that is
    briefly away must not stop the worker, which will beat again on its next turn. Returns
    whether the beat was recorded."""
    try:
        with db.transaction() as session:
            beat = session.get(WorkerHeartbeat, worker_id)
            if beat is None:
                session.execute(
                    delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER)
                )
                beat = WorkerHeartbeat(worker_id=worker_id)
                session.add(beat)
            # started_at is written every time: a reused pid (a restarted container is
            # often pid 1 again) must not keep the previous process's start.
            beat.started_at = started_at
            beat.beat_at = now
        return True
    except Exception:
        log.warning("worker %s: could not record its heartbeat", worker_id, exc_info=True)
        return False
