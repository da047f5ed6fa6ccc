from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcqs.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from mcqs.applications.models import Application


# GoldenPay's cardType codes and the names people know them by.
CARD_TYPES: dict[str, str] = {"v": "Visa", "m": "MasterCard"}


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    EXPIRED = "expired"


class Payment(Base):
    """One GoldenPay payment session for an application. Never holds card data."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20), default="goldenpay")
    payment_key: Mapped[str] = mapped_column(String(64), unique=True)
    card_type: Mapped[str] = mapped_column(String(1))  # v | m
    amount_qepik: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)
    result_code: Mapped[int | None] = mapped_column(Integer)
    masked_card: Mapped[str | None] = mapped_column(String(20))
    rrn: Mapped[str | None] = mapped_column(String(32))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    application: Mapped[Application] = relationship(back_populates="payments", lazy="raise")


class PaymentEvent(Base):
    """What GoldenPay told us (a browser return or a result call), stored before we act on it."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_key: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # return_success | return_failure | result
    code: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
