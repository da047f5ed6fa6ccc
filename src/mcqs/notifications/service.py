"""SMS notices to citizens: queued in the transaction of the event they tell about."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mcqs.jobs.queue import enqueue
from mcqs.notifications.models import SmsMessage


def queue_sms(session: Session, *, phone: str, text: str, application_id: int | None) -> SmsMessage:
    message = SmsMessage(application_id=application_id, phone=phone, text=text, status="queued")
    session.add(message)
    session.flush()
    enqueue(session, "notifications.send_sms", {"sms_id": message.id})
    return message
