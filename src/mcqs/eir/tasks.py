"""The EIR's background jobs."""

from __future__ import annotations

from typing import Any

from mcqs.eir.network_import import fold_sightings
from mcqs.jobs.queue import JobContext, task


@task("eir.fold_sightings")
def fold_imported_sightings(context: JobContext, payload: dict[str, Any]) -> None:
    """Fold what an import appended (``payload``: its run, for the record) into the
    sightings; a later import's job finds nothing left if an earlier one folded it all."""
    with context.db.transaction() as session:
        fold_sightings(session)
