from __future__ import annotations

from typing import Any

from mcqs.jobs.queue import JobContext, batch_task, task
from mcqs.registrations.service import register_application, register_applications


@task("registrations.register_application")
def register_application_task(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.transaction() as session:
        register_application(session, application_id=payload["application_id"], now=ctx.now)


@batch_task("registrations.register_application")
def register_applications_task(ctx: JobContext, payloads: list[dict[str, Any]]) -> None:
    """A claimed batch's registrations in one transaction (see ``register_applications``;
    rarely a second one), the jobs marked done in it. Should a later transaction fail,
    the jobs are run alone again: those already decided change nothing.

    Why all or nothing, with no savepoint per application: the race a registration can
    lose (its IMEI registered elsewhere first) is not an error here but a row the insert
    did not return, so it needs none; anything else that goes wrong (the database away, a
    deadlock, a bug) rolls the batch back and the worker runs each job alone, where it
    fails or succeeds on its own. A savepoint per application would cost two round trips
    each on every batch to save work only on that rare path."""
    left = [p["application_id"] for p in payloads]
    while left:  # a second turn only for an IMEI twice in the batch whose first try lost
        with ctx.db.transaction() as session:
            left = register_applications(session, application_ids=left, now=ctx.now)
            if not left:
                ctx.mark_batch_done(session)
