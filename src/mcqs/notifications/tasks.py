from __future__ import annotations

from typing import Any

from mcqs.jobs.queue import JobContext, task
from mcqs.notifications.models import SmsMessage


@task("notifications.send_sms")
def send_sms(ctx: JobContext, payload: dict[str, Any]) -> None:
    message = ctx.session.get(SmsMessage, payload["sms_id"], with_for_update=True)
    if message is None or message.status == "sent":
        return
    message.provider_message_id = ctx.services.sms.send(to=message.phone, text=message.text)
    message.status = "sent"
    message.sent_at = ctx.now
