from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mcqs.db import Base, UTCDateTime, enum_column, utcnow
from mcqs.devices.naming import device_name
from mcqs.i18n import Language

if TYPE_CHECKING:
    from mcqs.payments.models import Payment


class ApplicationStatus(StrEnum):
    """Where an application is in its lifecycle; ``lifecycle.TRANSITIONS`` says how it moves."""

    CREATED = "created"  # checked and filled in from the registry; no payment yet
    AWAITING_PAYMENT = "awaiting_payment"  # a GoldenPay session was opened for it
    PAID = "paid"
    SUBMITTED = "submitted"  # handed to the registry
    REGISTERED = "registered"
    REJECTED = "rejected"  # after payment: a refund is owed
    EXPIRED = "expired"  # never paid
    CANCELLED = "cancelled"  # paid, then cancelled by a point's supervisor: a refund is owed


class Channel(StrEnum):
    """Where an application was made: online (without login, or signed in through e-gov),
    or at a registration point's counter by an agent for the citizen in front of them."""

    ONLINE_ANONYMOUS = "online_anonymous"
    EGOV = "egov"
    COUNTER = "counter"


class Application(Base):
    """An application (ərizə) to register one device, with the fee fixed when it was made."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_code: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_column(ApplicationStatus, "application_status"), index=True
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "application_channel"))
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
    # The last moment a payment may be started for it; a session opened before then runs on.
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    # The language of the page the application was made on: its SMS are written in it.
    language: Mapped[Language] = mapped_column(
        enum_column(Language, "application_language", length=2),
        default=Language.AZ,
        server_default=Language.AZ.value,
    )

    # Made at a counter: the registration point and the agent who made it (NULL online).
    point_id: Mapped[int | None] = mapped_column(ForeignKey("registration_points.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    # The counter form's one-time key: the same form submitted twice is one application.
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # A supervisor's written reason for cancelling it after payment.
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))

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
    def device_name(self) -> str:
        """Brand and model as people say it (the one rule: ``devices.naming``)."""
        return device_name(self.brand, self.model)

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


class ImeiHold(Base):
    """An IMEI spoken for by one application while its fee is being paid, and once paid,
    until the registry decides. The partial unique index is the rule 'an IMEI is held by
    at most one application at a time', kept by the database.

    ``held_until`` is the end of the payment session (plus GoldenPay's margin), or NULL
    once paid: held until decided. A lapsed hold stays unreleased until someone needs the
    IMEI; taking a hold releases lapsed ones first (see ``holds.hold_imeis``)."""

    __tablename__ = "imei_holds"
    __table_args__ = (
        Index(
            "uq_imei_holds_unreleased_imei",
            "imei_norm",
            unique=True,
            postgresql_where=text("released_at IS NULL"),
            sqlite_where=text("released_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    imei_norm: Mapped[str] = mapped_column(String(14))
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    fin: Mapped[str] = mapped_column(String(7))
    held_from: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    held_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
