from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, utcnow


class ReceiptDocument(Base):
    """A receipt's PDF as it was made the first time it was asked for, per language and
    layout.

    The receipt of record does not change once paid (the notification code, amount, card
    and payment time are fixed), so it is made once and served from here ever after:
    making it costs a hundred times a page."""

    __tablename__ = "receipt_documents"

    notification_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    language: Mapped[str] = mapped_column(String(5), primary_key=True, default="az")
    # "a4", or "thermal" (the 80 mm roll of a counter's receipt printer).
    layout: Mapped[str] = mapped_column(String(10), primary_key=True, default="a4")
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    made_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
