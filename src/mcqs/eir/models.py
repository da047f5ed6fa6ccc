"""The EIR's tables: operators and their clients, each IMEI's network status, the pairing
list of clones, what networks saw (per triplet and month: folded, appended, and the view of
both), and numbered list runs."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mcqs.db import Base, UTCDateTime, enum_column, utcnow


class EquipmentStatus(StrEnum):
    """What an operator's EIR is told (TS 29.511 ``EquipmentStatus``)."""

    WHITELISTED = "WHITELISTED"
    GREYLISTED = "GREYLISTED"
    BLACKLISTED = "BLACKLISTED"


class BlacklistReason(StrEnum):
    STOLEN = "stolen"
    GRACE_EXPIRED = "grace_expired"
    CLONE = "clone"


class Operator(Base):
    """A mobile operator and its OAuth2 client (client credentials, secret kept hashed)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # MCC+MNC prefixes of its subscribers' IMSIs, comma-separated (e.g. "40001").
    imsi_prefixes: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def prefixes(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.imsi_prefixes.split(",") if p.strip())


# The rows that are or may become blacklisted without a write (stolen, clones, grace periods
# running or ended): a partial index that covers what the lists read (migration 0013), so a
# list run reads a tenth of the table instead of all of it. The list queries repeat this text
# (PostgreSQL proves a query may use a partial index by comparing its conditions).
BLACKLISTABLE = (
    "blacklist_reason = 'stolen' OR clone OR (NOT registered AND grace_until IS NOT NULL)"
)
# Unregistered and never seen: no first sighting, grace period or listing yet (a
# registration withdrawn, say). An import starts the grace period of the file's IMEIs that
# are so or unknown; this partial index holds the few rows that are so (migration 0015), so
# that the import asks the big primary key only whether each IMEI exists, from the index
# alone (network_import._FIRST_SIGHTINGS repeats this text, for PostgreSQL's proof).
NEVER_SEEN_UNREGISTERED = (
    "NOT registered AND first_seen_at IS NULL AND grace_until IS NULL AND blacklist_reason IS NULL"
)


class EirImei(Base):
    """One IMEI as the networks must treat it. The status is derived when asked
    (:func:`mcqs.eir.status.decide`), so a grace period ends on time without a run."""

    __tablename__ = "eir_imeis"
    __table_args__ = (
        Index(
            "ix_eir_imeis_blacklistable",
            "imei_norm",
            postgresql_include=["blacklist_reason", "clone", "grace_until", "registered"],
            postgresql_where=text(BLACKLISTABLE),
            sqlite_where=text(BLACKLISTABLE),
        ),
        Index(
            "ix_eir_imeis_never_seen_unregistered",
            "imei_norm",
            postgresql_where=text(NEVER_SEEN_UNREGISTERED),
            sqlite_where=text(NEVER_SEEN_UNREGISTERED),
        ),
    )

    imei_norm: Mapped[str] = mapped_column(String(14), primary_key=True)
    registered: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    grace_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A clone: blacklisted except with the pairs in eir_pairings.
    clone: Mapped[bool] = mapped_column(Boolean, default=False)
    blacklist_reason: Mapped[BlacklistReason | None] = mapped_column(
        enum_column(BlacklistReason, "eir_blacklist_reason", length=16)
    )
    blacklisted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Who put it there: "cli", "back_office", "detection"; the operator and run, if any.
    blacklist_source: Mapped[str | None] = mapped_column(String(20))
    blacklist_operator_id: Mapped[int | None] = mapped_column(ForeignKey("operators.id"))
    blacklist_run_id: Mapped[int | None] = mapped_column(ForeignKey("operator_runs.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EirPairing(Base):
    """A SIM (IMSI and its MSISDN) a clone IMEI was already used with: still let in."""

    __tablename__ = "eir_pairings"
    __table_args__ = (PrimaryKeyConstraint("imei_norm", "imsi"),)

    imei_norm: Mapped[str] = mapped_column(String(14))
    imsi: Mapped[str] = mapped_column(String(15))
    msisdn: Mapped[str] = mapped_column(String(15))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("operator_runs.id"))


class FoldedSighting(Base):
    """What one operator's network saw of one triplet (IMEI, IMSI, MSISDN) in one month, as
    folded from the imports' appended rows (``network_activity``). Read sightings through
    :class:`NetworkSighting`, which adds the rows not folded yet.

    No foreign key to ``operators``: the import names its operator once and checks it, and a
    per-row check cost as much as the rest of the merge (decision record 0006)."""

    __tablename__ = "network_sightings_folded"
    __table_args__ = (PrimaryKeyConstraint("imei_norm", "imsi", "msisdn", "month", "operator_id"),)

    imei_norm: Mapped[str] = mapped_column(String(14))
    imsi: Mapped[str] = mapped_column(String(15))
    msisdn: Mapped[str] = mapped_column(String(15))
    month: Mapped[dt.date] = mapped_column(Date)  # the month's first day
    operator_id: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[dt.date] = mapped_column(Date)
    last_seen: Mapped[dt.date] = mapped_column(Date)
    rats: Mapped[int] = mapped_column(Integer)  # bit per radio technology (RAT_BITS)


# The accepted rows of PostgreSQL's imports, appended with binary COPY as they were read (no
# key, no index: decision record 0006) and folded into network_sightings_folded by the job
# eir.fold_sightings. Numbers, not text (fewer bytes to write and to read): the IMEI's 14
# digits; the IMSI and the MSISDN each with a 1 written before its digits, so that a leading 0
# (a national MSISDN) is kept: 10501234567 is "0501234567". SQLite's import merges straight
# into the folded table and leaves this one empty.
network_activity = Table(
    "network_activity",
    Base.metadata,
    Column("imei", BigInteger, nullable=False),
    Column("imsi", BigInteger, nullable=False),
    Column("msisdn", BigInteger, nullable=False),
    Column("operator_id", Integer, nullable=False),
    Column("day", Date, nullable=False),
    Column("rats", SmallInteger, nullable=False),
)

# The view ``network_sightings`` (migration 0014): the folded sightings and the appended rows
# not folded yet, one row per operator, triplet and month. What lists, detection and
# anything else read. Kept out of Base.metadata: it is not a table to create.
_views = MetaData()


# The view ``network_triplets`` (migration 0014): each operator's (IMEI, IMSI, MSISDN) seen,
# folded or appended, not aggregated (a triplet may repeat: read it with DISTINCT). For the
# questions that need no month, first or last day, at the cost of a scan when rows are
# appended (the per-month view aggregates them first).
network_triplets = Table(
    "network_triplets",
    _views,
    Column("imei_norm", String(14)),
    Column("imsi", String(15)),
    Column("msisdn", String(15)),
    Column("operator_id", Integer),
)


class NetworkSighting(Base):
    """One operator's sightings of one triplet (IMEI, IMSI, MSISDN) in one month: first and
    last seen, radio technologies. Read-only (the view ``network_sightings``)."""

    __table__ = Table(
        "network_sightings",
        _views,
        Column("imei_norm", String(14), primary_key=True),
        Column("imsi", String(15), primary_key=True),
        Column("msisdn", String(15), primary_key=True),
        Column("month", Date, primary_key=True),
        Column("operator_id", Integer, primary_key=True),
        Column("first_seen", Date),
        Column("last_seen", Date),
        Column("rats", Integer),
    )

    imei_norm: Mapped[str]
    imsi: Mapped[str]
    msisdn: Mapped[str]
    month: Mapped[dt.date]
    operator_id: Mapped[int]
    first_seen: Mapped[dt.date]
    last_seen: Mapped[dt.date]
    rats: Mapped[int]


class ListRun(Base):
    """One numbered generation of an operator's lists; its entries are kept, so the delta
    between any two runs can be computed again."""

    __tablename__ = "eir_list_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("operators.id"), index=True)
    generated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    as_of: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ListKind(StrEnum):
    BLACKLIST = "blacklist"
    NOTIFICATION = "notification"
    EXCEPTIONS = "exceptions"


class ListFile(Base):
    """One list of one run: its lines, sorted, joined by newlines, in one value (which
    PostgreSQL stores compressed): a million-line list is one row, not a million."""

    __tablename__ = "eir_list_files"
    __table_args__ = (PrimaryKeyConstraint("run_id", "kind"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("eir_list_runs.id"))
    kind: Mapped[ListKind] = mapped_column(enum_column(ListKind, "eir_list_kind", length=16))
    line_count: Mapped[int] = mapped_column(Integer)
    # "imei,reason" / "imei,imsi,msisdn,grace_until" / "imei,imsi,msisdn" lines, no header.
    lines: Mapped[str] = mapped_column(Text)
