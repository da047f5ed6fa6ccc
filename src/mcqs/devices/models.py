from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Integer, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, utcnow


class TacModel(Base):
    """One Type Allocation Code (first 8 IMEI digits) and the device model it names."""

    __tablename__ = "tac_models"

    # Compared byte by byte on PostgreSQL (migration 0017): digits need no language rules,
    # and the import compares every row it writes in this key's index.
    tac: Mapped[str] = mapped_column(
        String(8).with_variant(String(8, collation="C"), "postgresql"), primary_key=True
    )
    brand: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    # The time of the import that wrote the row. The server's default (the transaction's
    # time) lets the PostgreSQL import's COPY leave it out: parsing a timestamp per row was
    # a third more of PostgreSQL's work on a million new TACs (docs/benchmarks.md).
    imported_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, server_default=func.now()
    )


class ModelPrice(Base):
    """Market value of a model in whole US dollars: it decides the fee band."""

    __tablename__ = "model_prices"
    __table_args__ = (UniqueConstraint("brand_key", "model_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_key: Mapped[str] = mapped_column(String(100))
    model_key: Mapped[str] = mapped_column(String(200))
    market_value_usd: Mapped[int] = mapped_column(Integer)
    # A basic phone: no internet, no camera (it has a band of its own).
    is_basic: Mapped[bool] = mapped_column(Boolean, default=False)


class BlacklistedImei(Base):
    __tablename__ = "blacklisted_imeis"

    imei_norm: Mapped[str] = mapped_column(String(14), primary_key=True)
    reason: Mapped[str] = mapped_column(String(40))
    listed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
