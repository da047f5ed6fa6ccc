from __future__ import annotations

from typing import Any

from mcqs.jobs.queue import JobContext, task
from mcqs.notifications.service import send_queued_sms


@task("notifications.send_sms")
def send_sms(ctx: JobContext, payload: dict[str, Any]) -> None:
    send_queued_sms(ctx.db, ctx.services.sms, sms_id=payload["sms_id"])
