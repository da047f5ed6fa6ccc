"""SMS notices to citizens: queued in the transaction of the event they tell about, sent
by the worker with no transaction open while the SMS centre answers."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session

from mcqs.db import Database, utcnow
from mcqs.jobs.queue import enqueue_all
from mcqs.notifications.models import SmsMessage, SmsStatus, new_idempotency_key
from mcqs.notifications.sms import SmsClient


class SmsToQueue(NamedTuple):
    phone: str
    text: str
    application_id: int | None


def queue_sms(session: Session, *, phone: str, text: str, application_id: int | None) -> SmsMessage:
    return queue_sms_all(session, [SmsToQueue(phone, text, application_id)])[0]


def queue_sms_all(session: Session, messages: list[SmsToQueue]) -> list[SmsMessage]:
    """Queue each message and its sending job: two multi-row inserts whatever their number
    (the worker's batch of decisions tells every citizen at once)."""
    queued = [
        SmsMessage(
            application_id=m.application_id,
            phone=m.phone,
            text=m.text,
            status=SmsStatus.QUEUED,
            idempotency_key=new_idempotency_key(),
        )
        for m in messages
    ]
    session.add_all(queued)
    session.flush()
    enqueue_all(session, "notifications.send_sms", [{"sms_id": m.id} for m in queued])
    return queued


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
