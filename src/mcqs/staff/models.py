from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, enum_column


class PointKind(StrEnum):
    POST_OFFICE = "post_office"
    OPERATOR_SHOP = "operator_shop"


class StaffRole(StrEnum):
    COUNTER_AGENT = "counter_agent"
    POINT_SUPERVISOR = "point_supervisor"
    BACK_OFFICE = "back_office"
    ADMIN = "admin"


#: Roles that work at one registration point, and see only that point's data.
POINT_ROLES = frozenset({StaffRole.COUNTER_AGENT, StaffRole.POINT_SUPERVISOR})


class RegistrationPoint(Base):
    """A place where staff register devices for the citizen in front of them: a post
    office branch or a mobile operator's shop (qeydiyyat məntəqəsi)."""

    __tablename__ = "registration_points"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short, stable, printed on receipts and named in the CLI (e.g. AZPOST-BAKU-01).
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    kind: Mapped[PointKind] = mapped_column(enum_column(PointKind, "point_kind"))
    # The mobile operator whose shop it is (None for a post office).
    operator_name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StaffAccount(Base):
    """A person who signs in to the staff pages: a password (an argon2 hash) and a TOTP
    second factor, a role, and for counter agents and supervisors their point.

    The database keeps "a point role has a point" (a CHECK), so no agent can ever be
    scoped to no point, which would read as "every point"."""

    __tablename__ = "staff_accounts"
    __table_args__ = (
        CheckConstraint(
            "role NOT IN ('counter_agent', 'point_supervisor') OR point_id IS NOT NULL",
            name="point_role_has_point",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # Base32 TOTP secret; made at the first sign-in, confirmed by a code (enrolled).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last TOTP time step accepted: a code is good once (no replay within its window).
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[StaffRole] = mapped_column(enum_column(StaffRole, "staff_role"))
    point_id: Mapped[int | None] = mapped_column(ForeignKey("registration_points.id"), index=True)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    # A password an administrator was handed (``mcqs staff add``): to be replaced by the
    # owner's own before any other staff page opens.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StaffSession(Base):
    """A staff sign-in, kept on the server like a citizen's (``citizen_sessions``): the
    cookie holds only a random id, this row its hash. It is a half sign-in (password
    accepted, one-time code awaited) until ``verified_at`` is set; only a verified one is a
    principal."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_last_seen_at", "last_seen_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Wrong one-time codes typed in this session: five end it (back to the password).
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
