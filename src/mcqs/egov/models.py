from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime


class CitizenSession(Base):
    """A citizen's sign-in through e-gov, kept here rather than in the cookie: the cookie
    holds only a random id (this row keeps its hash), so signing out ends it for every copy
    of the cookie, and the FİN, the name and the ID token never leave the server."""

    __tablename__ = "citizen_sessions"
    __table_args__ = (Index("ix_citizen_sessions_signed_in_at", "signed_in_at"),)

    # SHA-256 of the cookie's random id, hex.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    fin: Mapped[str] = mapped_column(String(7))
    name: Mapped[str] = mapped_column(String(200))
    # The portal's ID token, sent back as the end-session endpoint's id_token_hint.
    id_token: Mapped[str] = mapped_column(Text)
    signed_in_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
