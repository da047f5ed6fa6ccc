from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, enum_column, utcnow


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # handed to the SMS centre, its answer not yet recorded
    SENT = "sent"


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class SmsMessage(Base):
    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"), index=True)
    phone: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[SmsStatus] = mapped_column(
        enum_column(SmsStatus, "sms_status", length=12), default=SmsStatus.QUEUED
    )
    # Sent with every try: the SMS centre keeps one message per key, so a try repeated
    # after a crash (sent, but not yet recorded as sent) delivers nothing twice.
    idempotency_key: Mapped[str] = mapped_column(
        String(32), unique=True, default=new_idempotency_key
    )
    provider_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
