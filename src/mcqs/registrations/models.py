from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, utcnow


class Registration(Base):
    """A device registered to a person: the outcome of an application."""

    __tablename__ = "registrations"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), unique=True)
    fin: Mapped[str] = mapped_column(String(7), index=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegistrationImei(Base):
    """One IMEI of a registered device. The partial unique index is the rule
    'an IMEI is actively registered to at most one person', kept by the database."""

    __tablename__ = "registration_imeis"
    __table_args__ = (
        Index(
            "uq_registration_imeis_active_imei",
            "imei_norm",
            unique=True,
            postgresql_where=text("active"),
            sqlite_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    imei: Mapped[str] = mapped_column(String(15))
    imei_norm: Mapped[str] = mapped_column(String(14))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
