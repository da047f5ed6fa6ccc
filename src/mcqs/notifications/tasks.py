from __future__ import annotations

from typing import Any

from mcqs.jobs.queue import JobContext, batch_task, task
from mcqs.notifications.service import send_queued_sms, send_queued_sms_all


@task("notifications.send_sms")
def send_sms(ctx: JobContext, payload: dict[str, Any]) -> None:
    send_queued_sms(ctx.db, ctx.services.sms, sms_id=payload["sms_id"])


@batch_task("notifications.send_sms")
def send_sms_batch(ctx: JobContext, payloads: list[dict[str, Any]]) -> None:
    """A claimed batch's SMS, several at once. Should the SMS centre refuse some, the batch
    raises and its jobs run alone: those recorded as sent return at once, the others are
    tried again and back off as a single job does."""
    send_queued_sms_all(
        ctx.db,
        ctx.services.sms,
        sms_ids=[payload["sms_id"] for payload in payloads],
        at_once=ctx.services.settings.sms_sends_at_once,
        alive=ctx.alive,
    )
