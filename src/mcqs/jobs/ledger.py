"""The operator-run ledger (``operator_runs``): each run recorded in transactions of its
own, before it starts and when it ends, so a failed or refused run is on record too."""

from __future__ import annotations

from typing import Any

from mcqs.db import Database, utcnow
from mcqs.errors import DomainError
from mcqs.jobs.models import OperatorRun


def start_run(db: Database, *, kind: str, source: str, started_by: str) -> int:
    with db.transaction() as session:
        run = OperatorRun(
            kind=kind, source=source[:300], started_by=started_by[:60], outcome="running"
        )
        session.add(run)
        session.flush()
        return run.id


def finish_run(
    db: Database, run_id: int, *, outcome: str, counts: dict[str, Any] | None, detail: str
) -> None:
    with db.transaction() as session:
        run = session.get_one(OperatorRun, run_id)
        run.outcome = outcome
        run.finished_at = utcnow()
        run.counts = counts
        run.detail = detail


def describe(exc: BaseException) -> str:
    """One line for the ledger: a domain error's code and parameters, or the exception."""
    if isinstance(exc, DomainError):
        params = ", ".join(f"{key}={value}" for key, value in exc.params.items())
        return f"{exc.code}" + (f" ({params})" if params else "")
    return f"{type(exc).__name__}: {exc}"
