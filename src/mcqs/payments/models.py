from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcqs.db import Base, UTCDateTime, enum_column, utcnow

if TYPE_CHECKING:
    from mcqs.applications.models import Application


# GoldenPay's cardType codes and the names people know them by.
CARD_TYPES: dict[str, str] = {"v": "Visa", "m": "MasterCard"}


def card_type_of(masked_card: str | None) -> str | None:
    """The card type of a card number as GoldenPay masks it (``422865******8101``), from
    its first digit: 4 Visa, 5 or 2 (the 2221–2720 range) MasterCard; None if neither.

    The citizen chooses a type before paying but may pay with another card; the receipt
    names the card that paid."""
    first = (masked_card or "").strip()[:1]
    if first == "4":
        return "v"
    if first in ("5", "2"):
        return "m"
    return None


class FailureReason(StrEnum):
    """Why GoldenPay did not take a payment, as the citizen is told (``payment_<reason>``)."""

    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CANCELLED = "cancelled"  # the citizen's own "Ləğv et" on GoldenPay's page
    EXPIRED = "expired"  # GoldenPay's session ran out before the card was given
    FAILED = "failed"  # any other reason, or one GoldenPay words in a way we do not know


class PaymentMethod(StrEnum):
    """How the fee was paid: online through GoldenPay, or at a registration point's counter
    in cash or on the point's card terminal (its slip's reference is kept)."""

    GOLDENPAY = "goldenpay"
    CASH = "cash"
    CARD_TERMINAL = "card_terminal"


# Taken at a counter: paid the moment it is recorded, no outside party to ask.
COUNTER_METHODS = frozenset({PaymentMethod.CASH, PaymentMethod.CARD_TERMINAL})


class PaymentStatus(StrEnum):
    PENDING = "pending"  # being opened (no key yet) or open at GoldenPay
    PAID = "paid"
    FAILED = "failed"  # declined, cancelled, or GoldenPay could not open it
    EXPIRED = "expired"  # GoldenPay's session is certainly over and nothing was paid


class RefundStatus(StrEnum):
    OWED = "owed"
    PAID_OUT = "paid_out"


# Why a refund is owed besides a rejection's reason (``messages.REJECT_REASONS_AZ``).
REFUND_CANCELLED_AT_POINT = "cancelled_at_point"


class Payment(Base):
    """One payment for an application: a GoldenPay session, or money taken at a counter.
    Never holds card data."""

    __tablename__ = "payments"
    __table_args__ = (
        # The pending ones alone, which the worker's sweep looks for (nearly every payment
        # is paid: an index of every status only misleads the planner; migration 0019).
        Index(
            "ix_payments_pending",
            "created_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    method: Mapped[PaymentMethod] = mapped_column(
        enum_column(PaymentMethod, "payment_method", length=20), default=PaymentMethod.GOLDENPAY
    )
    # GoldenPay's key; None while the session is being opened (we reserve, then call).
    payment_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The card type chosen for GoldenPay (v | m); None at a counter.
    card_type: Mapped[str | None] = mapped_column(String(1))
    amount_qepik: Mapped[int] = mapped_column(Integer)
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column(PaymentStatus, "payment_status", length=12)
    )
    result_code: Mapped[int | None] = mapped_column(Integer)
    # Set when GoldenPay said why it was not paid; a FailureReason value.
    failure_reason: Mapped[FailureReason | None] = mapped_column(
        enum_column(FailureReason, "payment_failure_reason", length=24)
    )
    masked_card: Mapped[str | None] = mapped_column(String(20))
    rrn: Mapped[str | None] = mapped_column(String(32))
    # The card terminal's slip reference, typed by the agent (the terminal is not connected).
    slip_reference: Mapped[str | None] = mapped_column(String(40))
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # While set and in the future, one process is asking GoldenPay about this payment:
    # others do not ask too (returns for one key are coalesced).
    asking_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

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


class Refund(Base):
    """Money owed back for one payment: its application was rejected or cancelled at a
    point, or it was already paid.

    GoldenPay has no refund call: the back office pays these out (a bank transfer or the
    point's cashier) and marks them paid with that reference."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    amount_qepik: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[RefundStatus] = mapped_column(
        enum_column(RefundStatus, "refund_status", length=12), default=RefundStatus.OWED
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # The bank's transfer reference or the cashier's receipt number.
    paid_reference: Mapped[str | None] = mapped_column(String(64))
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
