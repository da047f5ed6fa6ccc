from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, enum_column, utcnow


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"  # claimed by a worker until run_after (its lease)
    DONE = "done"
    FAILED = "failed"  # gave up after MCQS_JOB_MAX_ATTEMPTS


class Job(Base):
    """Background work, written in the same transaction as the state change that needs it."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_after"),
        # The worker purges finished jobs past MCQS_JOB_RETENTION_DAYS by this.
        Index("ix_jobs_finished_at", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[JobStatus] = mapped_column(
        enum_column(JobStatus, "job_status", length=12),
        default=JobStatus.QUEUED,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class OperatorRun(Base):
    """Ledger of operator runs (imports, exports): who, what, when, counts, outcome.

    Written outside the transaction of the run itself, so a failed run is still on record."""

    __tablename__ = "operator_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300))
    started_by: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(12), default="running")
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    detail: Mapped[str | None] = mapped_column(Text)


class WorkerHeartbeat(Base):
    """The last sign of life of each worker process, so that /healthz can tell a dead worker
    from an idle one. One row per worker id (``hostname:pid``), overwritten every few seconds."""

    __tablename__ = "worker_heartbeats"
    __table_args__ = (Index("ix_worker_heartbeats_beat_at", "beat_at"),)

    worker_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
