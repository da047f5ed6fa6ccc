"""SMS notices to citizens: queued in the transaction of the event they tell about, sent
by the worker with no transaction open while the SMS centre answers."""

from __future__ import annotations

from typing import NamedTuple, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from mcqs.db import Database, insert_rows, utcnow
from mcqs.jobs.queue import enqueue_all
from mcqs.notifications.models import SmsMessage, SmsStatus, new_idempotency_key
from mcqs.notifications.sms import SmsClient


class SmsToQueue(NamedTuple):
    phone: str
    text: str
    application_id: int | None


def queue_sms(session: Session, *, phone: str, text: str, application_id: int | None) -> int:
    """Queue one message and its sending job; returns the message's id."""
    return queue_sms_all(session, [SmsToQueue(phone, text, application_id)])[0]


def queue_sms_all(session: Session, messages: list[SmsToQueue]) -> list[int]:
    """Queue each message and its sending job: two statements whatever their number (the
    worker's batch of decisions tells every citizen at once). Returns the messages' ids,
    in the order given."""
    if not messages:
        return []
    now = utcnow()
    keys = [new_idempotency_key() for _ in messages]
    id_of: dict[str, int] = dict(
        insert_rows(
            session,
            cast(Table, SmsMessage.__table__),
            [
                {
                    "application_id": m.application_id,
                    "phone": m.phone,
                    "text": m.text,
                    "status": SmsStatus.QUEUED,
                    "idempotency_key": key,
                    "created_at": now,
                }
                for m, key in zip(messages, keys, strict=True)
            ],
            returning=("idempotency_key", "id"),
        )
    )
    ids = [id_of[key] for key in keys]
    enqueue_all(session, "notifications.send_sms", [{"sms_id": sms_id} for sms_id in ids])
    return ids


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
