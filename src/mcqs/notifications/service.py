"""SMS notices to citizens: queued in the transaction of the event they tell about, sent
by the worker with no transaction open while the SMS centre answers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, cast

from sqlalchemy import Row, Table, update
from sqlalchemy.orm import Session

from mcqs.db import Database, insert_rows, utcnow
from mcqs.errors import ExternalServiceError
from mcqs.jobs.queue import enqueue_all
from mcqs.notifications.models import SmsMessage, SmsStatus, new_idempotency_key
from mcqs.notifications.sms import UNAVAILABLE, SmsClient


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
    """Claim (commit), hand to the SMS centre, record (commit): one message."""
    send_queued_sms_all(db, sms, sms_ids=[sms_id], at_once=1)


def send_queued_sms_all(
    db: Database,
    sms: SmsClient,
    *,
    sms_ids: list[int],
    at_once: int,
    alive: Callable[[], object] = lambda: None,
) -> None:
    """Claim the messages not yet sent (one commit), hand them to the SMS centre with no
    transaction open, ``at_once`` at a time (``alive()`` after each wave: the worker's
    heartbeat), and record those it accepted (one commit);
    then, if it refused any, raise ``ExternalServiceError``: their jobs retry, and those
    recorded as sent are not sent again. After a wave with a refusal the rest are not
    tried: a centre that is down costs one wave's timeout, not one per message.

    A crash after the SMS centre accepted a message and before the record leaves it
    'sending'; the retried job sends it again with the same idempotency key, and the SMS
    centre keeps one message."""
    with db.transaction() as session:
        claimed = list(
            session.execute(
                update(SmsMessage)
                .where(SmsMessage.id.in_(sms_ids), SmsMessage.status != SmsStatus.SENT)
                .values(status=SmsStatus.SENDING)
                .returning(
                    SmsMessage.id, SmsMessage.phone, SmsMessage.text, SmsMessage.idempotency_key
                )
                .execution_options(synchronize_session=False)
            )
        )
    if not claimed:
        return
    claimed.sort(key=lambda message: message.id)

    def send(message: Row[int, str, str, str]) -> tuple[int, str | None]:
        sms_id, to, text, key = message
        try:
            return sms_id, sms.send(to=to, text=text, idempotency_key=key)
        except ExternalServiceError:
            return sms_id, None

    answers: list[tuple[int, str | None]] = []
    at_once = min(at_once, len(claimed))
    senders = ThreadPoolExecutor(max_workers=at_once) if at_once > 1 else None
    try:
        for start in range(0, len(claimed), at_once):
            some = claimed[start : start + at_once]
            wave = list(senders.map(send, some) if senders else map(send, some))
            answers.extend(wave)
            alive()
            if any(answer is None for _, answer in wave):
                break
    finally:
        if senders:
            senders.shutdown()
    accepted = [(sms_id, answer) for sms_id, answer in answers if answer is not None]
    if accepted:
        now = utcnow()
        with db.transaction() as session:
            session.execute(
                update(SmsMessage),
                [
                    {
                        "id": sms_id,
                        "status": SmsStatus.SENT,
                        "provider_message_id": provider_message_id,
                        "sent_at": now,
                    }
                    for sms_id, provider_message_id in accepted
                ],
            )
    if len(accepted) < len(claimed):
        raise ExternalServiceError(UNAVAILABLE)
