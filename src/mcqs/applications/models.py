from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcqs.db import Base, UTCDateTime, utcnow

if TYPE_CHECKING:
    from mcqs.payments.models import Payment


class ApplicationStatus(StrEnum):
    CREATED = "created"  # checked and filled in from the registry; no phone, no payment yet
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SUBMITTED = "submitted"  # handed to the registry
    REGISTERED = "registered"
    REJECTED = "rejected"
    EXPIRED = "expired"  # never paid


# While an application is in one of these, its IMEIs are spoken for.
OPEN_STATUSES = (
    ApplicationStatus.CREATED,
    ApplicationStatus.AWAITING_PAYMENT,
    ApplicationStatus.PAID,
    ApplicationStatus.SUBMITTED,
)


class Application(Base):
    """An application (ərizə) to register one device, with the fee fixed when it was made."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    fin: Mapped[str] = mapped_column(String(7), index=True)
    id_card: Mapped[str] = mapped_column(String(12))
    surname: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(100))
    patronymic: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(16))
    tac: Mapped[str] = mapped_column(String(8))
    brand: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(200))
    market_value_usd: Mapped[int | None] = mapped_column(Integer)
    tariff_band_id: Mapped[int] = mapped_column(ForeignKey("tariff_bands.id"))
    fee_qepik: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(String(40))

    imeis: Mapped[list[ApplicationImei]] = relationship(
        back_populates="application", lazy="raise", order_by="ApplicationImei.position"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="application", lazy="raise", order_by="Payment.id"
    )

    @property
    def full_name(self) -> str:
        return f"{self.surname} {self.name} {self.patronymic}"

    @property
    def paid_payment(self) -> Payment | None:
        return next((p for p in self.payments if p.status == "paid"), None)


class ApplicationImei(Base):
    __tablename__ = "application_imeis"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    imei: Mapped[str] = mapped_column(String(15))
    imei_norm: Mapped[str] = mapped_column(String(14), index=True)

    application: Mapped[Application] = relationship(back_populates="imeis", lazy="raise")
