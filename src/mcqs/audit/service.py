"""Writing and checking the audit chain.

Every entry's hash is SHA-256 over a canonical serialisation of its fields *and the hash
of the entry before it*; the chain head row keeps the last sequence and hash. So:

- an edited entry no longer matches its own hash;
- a deleted entry leaves a gap in ``sequence`` (and the next entry's ``prev_hash`` points
  at nothing); a deleted last entry leaves the head pointing past the end;
- two entries swapped (or their contents) break the sequence or the links.

A forger who recomputes every hash after an edit is caught by the head only if the head
is kept apart: that is what the grants are for (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from mcqs.audit.models import GENESIS_HASH, AuditChainHead, AuditEntry
from mcqs.db import utcnow
from mcqs.errors import DomainError

_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
_HEAD_ID = 1


class Actor(Protocol):
    """Who did it: a signed-in :class:`mcqs.principals.StaffMember`, or a stand-in for the
    command line or a sign-in not finished yet (:class:`RecordedActor`)."""

    @property
    def account_id(self) -> int | None: ...
    @property
    def username(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def point_code(self) -> str | None: ...
    @property
    def client_address(self) -> str: ...


@dataclass(frozen=True)
class RecordedActor:
    """An actor that is not a signed-in staff member: someone at the sign-in page (the
    account, if the username named one) or an administrator at the command line."""

    account_id: int | None
    username: str
    role: str
    point_code: str | None
    client_address: str


class AuditChainBroken(DomainError):
    """The chain head is gone while entries remain: someone deleted it, perhaps with the
    last entries. Staff actions are refused until an administrator has looked
    (``mcqs audit verify``) and restored the head (``mcqs audit restore-head``)."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("audit_chain_broken")


def canonical(entry: AuditEntry) -> bytes:
    """The bytes an entry's hash covers: every field but ``id`` and ``hash``, as JSON
    with sorted keys, so the same entry always gives the same bytes on any database."""
    fields = {
        "sequence": entry.sequence,
        "at": entry.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_account_id": entry.actor_account_id,
        "actor_username": entry.actor_username,
        "actor_role": entry.actor_role,
        "point_code": entry.point_code,
        "client_address": entry.client_address,
        "action": entry.action,
        "application_id": entry.application_id,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def _locked_head(session: Session) -> AuditChainHead:
    """The chain head, locked until the transaction ends: appends happen one at a time.

    On PostgreSQL ``FOR UPDATE`` on the one row; on SQLite every transaction already holds
    the write lock from its start (``BEGIN IMMEDIATE``). A new database has no head and no
    entry: the head is made then, in a way two transactions can race on. A head missing
    while entries remain is never remade quietly (it would hide the last entries deleted
    with it): :class:`AuditChainBroken`."""
    head = session.scalars(
        select(AuditChainHead).where(AuditChainHead.id == _HEAD_ID).with_for_update()
    ).one_or_none()
    if head is not None:
        return head
    if _last_entry(session) is not None:
        raise AuditChainBroken()
    return _make_head(session, last_sequence=0, last_hash=GENESIS_HASH)


def _last_entry(session: Session) -> AuditEntry | None:
    return session.scalars(select(AuditEntry).order_by(AuditEntry.sequence.desc()).limit(1)).first()


def _make_head(session: Session, *, last_sequence: int, last_hash: str) -> AuditChainHead:
    values = {"id": _HEAD_ID, "last_sequence": last_sequence, "last_hash": last_hash}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(pg_insert(AuditChainHead).values(values).on_conflict_do_nothing())
    else:
        session.add(AuditChainHead(**values))
        session.flush()
    return session.scalars(
        select(AuditChainHead).where(AuditChainHead.id == _HEAD_ID).with_for_update()
    ).one()


def restore_head(session: Session, by: Actor, *, now: dt.datetime | None = None) -> int:
    """An administrator's named decision: make a lost head again from the last entry
    there is, and say so in the chain itself (``audit.head_restored``, with the sequence
    it was restored at). Returns that sequence. Refused when the head is there."""
    if session.get(AuditChainHead, _HEAD_ID) is not None:
        raise ValueError("the audit chain head is there: nothing to restore")
    last = _last_entry(session)
    sequence = last.sequence if last else 0
    _make_head(session, last_sequence=sequence, last_hash=last.hash if last else GENESIS_HASH)
    record_staff_action(
        session, by, "audit.head_restored", details={"restored_at_sequence": sequence}, now=now
    )
    return sequence


def record_staff_action(
    session: Session,
    member: Actor,
    action: str,
    *,
    application_id: int | None = None,
    details: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEntry:
    """Append one entry for what ``member`` did, in the caller's transaction: the action
    and its entry are committed or rolled back together.

    Called by the service that does the action (not by a route), preferably as its last
    step: the chain head stays locked from here until the transaction ends, so every other
    staff action waits that long. ``details`` holds strings, integers, booleans and None
    (what JSON gives back the same on every database); never a password or a code."""
    if not _ACTION.match(action):
        raise ValueError(f"audit action {action!r} is not a dotted lowercase code")
    head = _locked_head(session)
    entry = AuditEntry(
        sequence=head.last_sequence + 1,
        at=now or utcnow(),
        actor_account_id=member.account_id,
        actor_username=member.username[:64],
        actor_role=str(member.role),
        point_code=member.point_code,
        client_address=member.client_address[:64],
        action=action,
        application_id=application_id,
        details=dict(details or {}),
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    head.last_sequence, head.last_hash = entry.sequence, entry.hash
    session.flush()
    return entry


@dataclass(frozen=True)
class BrokenEntry:
    """Where the chain first breaks: the sequence number (of the entry, or the one
    missing) and why (``edited``, ``missing``, ``out_of_order``, ``unlinked``,
    ``head_mismatch``)."""

    sequence: int
    entry_id: int | None
    reason: str

    def describe(self) -> str:
        where = f"entry {self.sequence}" + (f" (id {self.entry_id})" if self.entry_id else "")
        return f"{where}: {self.reason}"


def verify_chain(session: Session, *, batch: int = 5000) -> BrokenEntry | None:
    """Walk the chain in id order (the order of writing) and return the first broken
    entry, or None when every entry is intact and the head names the last one."""
    expected_sequence, prev_hash, last_id = 1, GENESIS_HASH, 0
    while True:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        for entry in entries:
            if entry.sequence != expected_sequence:
                # A later number than expected: the entries in between are gone, or this
                # one was moved; an earlier one: moved here from before.
                reason = "missing" if entry.sequence > expected_sequence else "out_of_order"
                if reason == "missing" and _exists(session, expected_sequence):
                    reason = "out_of_order"
                return BrokenEntry(
                    expected_sequence, None if reason == "missing" else entry.id, reason
                )
            if entry.hash != entry_hash(entry):
                return BrokenEntry(entry.sequence, entry.id, "edited")
            if entry.prev_hash != prev_hash:
                return BrokenEntry(entry.sequence, entry.id, "unlinked")
            expected_sequence, prev_hash, last_id = entry.sequence + 1, entry.hash, entry.id
        if len(entries) < batch:
            break
    head = session.get(AuditChainHead, _HEAD_ID)
    if head is None:
        if expected_sequence > 1:
            return BrokenEntry(expected_sequence - 1, last_id, "head_missing")
        return None
    if head.last_sequence != expected_sequence - 1 or head.last_hash != prev_hash:
        # The head names an entry after the last one found: the last entries were deleted.
        return BrokenEntry(
            expected_sequence,
            None,
            "missing" if head.last_sequence >= expected_sequence else "head_mismatch",
        )
    return None


def _exists(session: Session, sequence: int) -> bool:
    return bool(
        session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.sequence == sequence)
        )
    )
