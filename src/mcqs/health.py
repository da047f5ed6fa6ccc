"""What /healthz says: is the database there, is a worker alive, is the queue moving.

A web node that answers while no worker runs would leave paid applications waiting in
"paid" unnoticed, so the worker's heartbeat and the queue's oldest due job are part of
health, not only the database. Two reads on indexed columns, no lock: a load balancer may
ask every few seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.jobs.models import Job, WorkerHeartbeat

log = logging.getLogger(__name__)


@dataclass
class HealthReport:
    database_ok: bool
    last_beat_seconds_ago: float | None = None
    oldest_due_job_seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def status_code(self) -> int:
        return 200 if self.healthy else 503

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.healthy else "unhealthy",
            "database": "ok" if self.database_ok else "unavailable",
            "worker": {"last_beat_seconds_ago": self.last_beat_seconds_ago},
            "queue": {"oldest_due_job_seconds": self.oldest_due_job_seconds},
            "problems": self.problems,
        }


def _seconds_since(moment: dt.datetime | None, now: dt.datetime) -> float | None:
    if moment is None:
        return None
    # Never negative: a worker's clock a little ahead of this node's is not "in the future".
    return max(0.0, round((now - moment).total_seconds(), 1))


def check_health(session: Session, *, settings: Settings, now: dt.datetime) -> HealthReport:
    """Read the newest heartbeat of any worker and the oldest due job, and judge them against
    MCQS_HEALTH_WORKER_SILENT_SECONDS and MCQS_HEALTH_QUEUE_STALE_SECONDS.

    A job's age counts from when it became due (``run_after``), so a job waiting for its
    back-off is not "stale"; one that is due and not taken is."""
    try:
        last_beat = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
        oldest_due = session.scalar(
            select(func.min(Job.run_after)).where(Job.status == "queued", Job.run_after <= now)
        )
    except SQLAlchemyError:
        log.warning("health: the database cannot be read", exc_info=True)
        return HealthReport(database_ok=False, problems=["database unavailable"])

    report = HealthReport(
        database_ok=True,
        last_beat_seconds_ago=_seconds_since(last_beat, now),
        oldest_due_job_seconds=_seconds_since(oldest_due, now),
    )
    silent_limit = settings.health_worker_silent_seconds
    if report.last_beat_seconds_ago is None:
        report.problems.append("no worker has ever reported")
    elif report.last_beat_seconds_ago > silent_limit:
        report.problems.append(f"no worker heartbeat for more than {silent_limit} s")
    stale_limit = settings.health_queue_stale_seconds
    if report.oldest_due_job_seconds is not None and report.oldest_due_job_seconds > stale_limit:
        report.problems.append(f"a job has been due for more than {stale_limit} s")
    return report
