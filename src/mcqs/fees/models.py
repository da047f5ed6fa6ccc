from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base


class TariffBand(Base):
    """One band of the state duty, valid between two dates (the law changes the bands)."""

    __tablename__ = "tariff_bands"

    id: Mapped[int] = mapped_column(primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)  # inclusive; None = still in force
    code: Mapped[str] = mapped_column(String(20))
    # Market value range in USD, inclusive; max None = no upper bound.
    min_value_usd: Mapped[int] = mapped_column(Integer)
    max_value_usd: Mapped[int | None] = mapped_column(Integer)
    basic_only: Mapped[bool] = mapped_column(Boolean, default=False)
    for_unknown_model: Mapped[bool] = mapped_column(Boolean, default=False)
    amount_qepik: Mapped[int] = mapped_column(Integer)
