"""SMS notices to citizens: queued in the transaction of the event they tell about, sent
by the worker with no transaction open while the SMS centre answers."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mcqs.db import Database, utcnow
from mcqs.jobs.queue import enqueue
from mcqs.notifications.models import SmsMessage, SmsStatus, new_idempotency_key
from mcqs.notifications.sms import SmsClient


def queue_sms(session: Session, *, phone: str, text: str, application_id: int | None) -> SmsMessage:
    message = SmsMessage(
        application_id=application_id,
        phone=phone,
        text=text,
        status=SmsStatus.QUEUED,
        idempotency_key=new_idempotency_key(),
    )
    session.add(message)
    session.flush()
    enqueue(session, "notifications.send_sms", {"sms_id": message.id})
    return message


def send_queued_sms(db: Database, sms: SmsClient, *, sms_id: int) -> None:
    """Claim (commit), hand to the SMS centre, record (commit).

    A crash after the SMS centre accepted it and before the record leaves it 'sending';
    the retried job sends it again with the same idempotency key, and the SMS centre
    keeps one message."""
    with db.transaction() as session:
        message = session.get(SmsMessage, sms_id, with_for_update=True)
        if message is None or message.status == SmsStatus.SENT:
            return
        message.status = SmsStatus.SENDING
        to, text, key = message.phone, message.text, message.idempotency_key
    provider_message_id = sms.send(to=to, text=text, idempotency_key=key)
    with db.transaction() as session:
        message = session.get(SmsMessage, sms_id, with_for_update=True)
        assert message is not None
        message.status = SmsStatus.SENT
        message.provider_message_id = provider_message_id
        message.sent_at = utcnow()
