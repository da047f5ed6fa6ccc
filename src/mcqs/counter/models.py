from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, utcnow


class DayClose(Base):
    """A registration point's day, closed: the cash report as it stood at closing.

    One per point and Baku calendar day (the unique constraint keeps it so, a second
    close is refused). The report's lines are kept as CSV, so that the report (CSV and
    the PDF made from it) is the same bytes whenever it is downloaded; no payment is taken
    at the point that day afterwards."""

    __tablename__ = "day_closes"
    __table_args__ = (UniqueConstraint("point_id", "business_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("registration_points.id"), index=True)
    business_day: Mapped[dt.date] = mapped_column(Date)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    closed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    payments_count: Mapped[int] = mapped_column(Integer)
    cash_qepik: Mapped[int] = mapped_column(Integer)
    card_terminal_qepik: Mapped[int] = mapped_column(Integer)
    report_csv: Mapped[str] = mapped_column(Text)
