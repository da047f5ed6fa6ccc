from __future__ import annotations

from typing import Any

from mcqs.jobs.queue import JobContext, task
from mcqs.registrations.service import register_application


@task("registrations.register_application")
def register_application_task(ctx: JobContext, payload: dict[str, Any]) -> None:
    with ctx.db.transaction() as session:
        register_application(session, application_id=payload["application_id"], now=ctx.now)
