"""Registration points, staff accounts, and signing in: the password, then the one-time
code (with enrolment the first time), lockout, unlocking; every step audited.

The sign-in steps answer an outcome instead of raising, so that what a refusal counts (a
wrong password, a wrong code) is committed with the refusal's audit entry."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.audit.service import Actor, AuditChainBroken, RecordedActor, record_staff_action
from mcqs.config import Settings
from mcqs.errors import Conflict, DomainError, FormErrors, InvalidInput, NotFound
from mcqs.staff import passwords
from mcqs.staff.models import (
    POINT_ROLES,
    PointKind,
    RegistrationPoint,
    StaffAccount,
    StaffRole,
    StaffSession,
)
from mcqs.staff.sessions import begin_session, end_session, half_session, verify_session

_log = logging.getLogger(__name__)

#: Failed sign-ins in a row (a wrong password, or a wrong one-time code after the right
#: password) that lock an account until an administrator unlocks it. Counting the codes
#: too means knowing the password does not buy unlimited guesses at the code.
MAX_FAILED_SIGN_INS = 5


# ---- points and accounts (the command line, the demo) -----------------------------------


def add_point(
    session: Session,
    *,
    by: Actor,
    code: str,
    name: str,
    address: str,
    kind: PointKind,
    operator_name: str | None = None,
    now: dt.datetime,
) -> RegistrationPoint:
    code = code.strip().upper()
    if not code or len(code) > 32:
        raise InvalidInput("point_code_malformed", field="code")
    if session.scalar(select(RegistrationPoint.id).where(RegistrationPoint.code == code)):
        raise Conflict("point_code_taken", field="code")
    if kind == PointKind.OPERATOR_SHOP and not operator_name:
        raise InvalidInput("point_operator_required", field="operator")
    point = RegistrationPoint(
        code=code,
        name=name.strip(),
        address=address.strip(),
        kind=kind,
        operator_name=operator_name if kind == PointKind.OPERATOR_SHOP else None,
        created_at=now,
    )
    session.add(point)
    session.flush()
    record_staff_action(
        session, by, "points.added", details={"point_code": point.code, "kind": str(point.kind)}
    )
    return point


def point_by_code(session: Session, code: str) -> RegistrationPoint:
    point = session.scalars(
        select(RegistrationPoint).where(RegistrationPoint.code == code.strip().upper())
    ).one_or_none()
    if point is None:
        raise NotFound("point_unknown", field="point")
    return point


def add_account(
    session: Session,
    *,
    by: Actor,
    username: str,
    password: str,
    role: StaffRole,
    point_code: str | None,
    now: dt.datetime,
    totp_secret: str | None = None,
    must_change_password: bool = False,
) -> StaffAccount:
    """A new account. Counter agents and supervisors belong to a point; back office and
    administrators to none. ``totp_secret`` (the demo's) makes it enrolled already;
    otherwise the first sign-in enrols an authenticator app."""
    username = username.strip().lower()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidInput("staff_username_malformed", field="username")
    if len(password) < 10:
        raise InvalidInput("staff_password_too_short", field="password")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.username == username)):
        raise Conflict("staff_username_taken", field="username")
    point_id = None
    if role in POINT_ROLES:
        if not point_code:
            raise InvalidInput("staff_point_required", field="point")
        point_id = point_by_code(session, point_code).id
    elif point_code:
        raise InvalidInput("staff_point_not_for_role", field="point")
    account = StaffAccount(
        username=username,
        password_hash=passwords.hash_password(password),
        totp_secret=totp_secret,
        totp_enrolled=totp_secret is not None,
        totp_last_step=0,
        role=role,
        point_id=point_id,
        failed_sign_ins=0,
        must_change_password=must_change_password,
        active=True,
        created_at=now,
    )
    session.add(account)
    session.flush()
    record_staff_action(
        session,
        by,
        "staff.account_added",
        details={"account_id": account.id, "username": account.username, "role": str(role)},
    )
    return account


def account_by_username(session: Session, username: str) -> StaffAccount:
    account = session.scalars(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    ).one_or_none()
    if account is None:
        raise NotFound("staff_account_unknown", field="username")
    return account


def unlock_account(session: Session, *, username: str, by: Actor, now: dt.datetime) -> StaffAccount:
    """An administrator lets a locked-out account try again (the command line)."""
    account = account_by_username(session, username)
    was_locked = account.locked_at is not None
    account.locked_at, account.failed_sign_ins = None, 0
    record_staff_action(
        session,
        by,
        "staff.unlocked",
        details={"account_id": account.id, "username": account.username, "was_locked": was_locked},
        now=now,
    )
    return account


def reset_second_factor(session: Session, *, username: str, by: Actor, now: dt.datetime) -> None:
    """A lost phone: the next sign-in enrols a new authenticator app."""
    account = account_by_username(session, username)
    account.totp_secret, account.totp_enrolled = None, False
    record_staff_action(
        session, by, "staff.second_factor_reset", details={"account_id": account.id}, now=now
    )


# ---- signing in --------------------------------------------------------------------------


def _point_code(session: Session, account: StaffAccount) -> str | None:
    if account.point_id is None:
        return None
    return session.scalar(
        select(RegistrationPoint.code).where(RegistrationPoint.id == account.point_id)
    )


def _actor(
    session: Session, account: StaffAccount | None, username: str, client: str
) -> RecordedActor:
    if account is None:
        # Not what was typed: people type their password into the username field, and
        # the audit log keeps everything for ever.
        return RecordedActor(None, "(unknown)", "unknown", None, client)
    return RecordedActor(
        account.id, account.username, str(account.role), _point_code(session, account), client
    )


@dataclass(frozen=True)
class PasswordOutcome:
    """What typing a username and password led to: a half session's id (the code comes
    next; ``enrol`` when the account has no authenticator app yet), or a refusal code."""

    session_id: str | None = None
    enrol: bool = False
    refused: str | None = None


def check_password(
    session: Session,
    *,
    settings: Settings,
    username: str,
    password: str,
    client_address: str,
    now: dt.datetime,
) -> PasswordOutcome:
    """The first step of signing in. An unknown username and a wrong password are refused
    alike (``staff_sign_in_refused``); the fifth failed sign-in in a row locks the account
    (``staff_account_locked``), and a locked account is refused even with the right
    password. The count goes back to zero only when a sign-in is complete (the code)."""
    account = session.scalars(
        select(StaffAccount)
        .where(StaffAccount.username == username.strip().lower())
        .with_for_update()
    ).one_or_none()
    actor = _actor(session, account, username.strip().lower(), client_address)
    usable = account is not None and account.active
    matches = passwords.password_matches(
        account.password_hash if usable and account else None, password
    )
    if account is None or not account.active:
        record_staff_action(
            session,
            actor,
            "staff.sign_in_refused",
            details={"reason": "unknown_or_inactive"},
            now=now,
        )
        return PasswordOutcome(refused="staff_sign_in_refused")
    if account.locked_at is not None:
        record_staff_action(
            session, actor, "staff.sign_in_refused", details={"reason": "locked"}, now=now
        )
        return PasswordOutcome(refused="staff_account_locked")
    if not matches:
        account.failed_sign_ins += 1
        if account.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            account.locked_at = now
            record_staff_action(
                session,
                actor,
                "staff.locked_out",
                details={"failed_sign_ins": account.failed_sign_ins},
                now=now,
            )
            return PasswordOutcome(refused="staff_account_locked")
        record_staff_action(
            session,
            actor,
            "staff.sign_in_refused",
            details={"reason": "wrong_password", "failed_sign_ins": account.failed_sign_ins},
            now=now,
        )
        return PasswordOutcome(refused="staff_sign_in_refused")
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    enrol = not account.totp_enrolled
    if enrol and not account.totp_secret:
        account.totp_secret = passwords.new_totp_secret()
    record_staff_action(
        session, actor, "staff.password_accepted", details={"enrol": enrol}, now=now
    )
    session_id = begin_session(session, settings=settings, account_id=account.id, now=now)
    return PasswordOutcome(session_id=session_id, enrol=enrol)


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text and the URI its QR code holds."""

    username: str
    secret: str
    uri: str


def pending_sign_in(
    session: Session, *, settings: Settings, session_id: str, now: dt.datetime
) -> tuple[StaffAccount, Enrolment | None] | None:
    """The account a half sign-in is for, and its enrolment if it has no app yet."""
    row = half_session(session, settings=settings, session_id=session_id, now=now)
    if row is None:
        return None
    account = session.get(StaffAccount, row.account_id)
    if account is None or not account.active or account.locked_at is not None:
        return None
    if account.totp_enrolled or not account.totp_secret:
        return account, None
    uri = passwords.provisioning_uri(account.totp_secret, account.username)
    return account, Enrolment(account.username, account.totp_secret, uri)


@dataclass(frozen=True)
class CodeOutcome:
    """A verified session's new id (the half session's is retired), or a refusal code;
    ``restart`` when the password must be typed again."""

    session_id: str | None = None
    refused: str | None = None
    restart: bool = False


def check_code(
    session: Session,
    *,
    settings: Settings,
    session_id: str,
    code: str,
    client_address: str,
    now: dt.datetime,
) -> CodeOutcome:
    """The second step: the authenticator app's code. A code is accepted once; a wrong one
    is a failed sign-in (the fifth in a row locks the account and ends the half sign-in).
    The first accepted code of an account being enrolled confirms its app."""
    row = half_session(session, settings=settings, session_id=session_id, now=now, lock=True)
    account = session.get(StaffAccount, row.account_id, with_for_update=True) if row else None
    if row is None or account is None or not account.active or account.locked_at is not None:
        return CodeOutcome(refused="staff_sign_in_expired", restart=True)
    actor = _actor(session, account, account.username, client_address)
    step = (
        passwords.accepted_step(
            account.totp_secret, code, last_step=account.totp_last_step, now=now
        )
        if account.totp_secret
        else None
    )
    if step is None:
        row.failed_codes += 1
        account.failed_sign_ins += 1
        record_staff_action(
            session,
            actor,
            "staff.code_refused",
            details={"failed_codes": row.failed_codes, "failed_sign_ins": account.failed_sign_ins},
            now=now,
        )
        if account.failed_sign_ins >= MAX_FAILED_SIGN_INS:
            account.locked_at, row.ended_at = now, now
            record_staff_action(
                session,
                actor,
                "staff.locked_out",
                details={"failed_sign_ins": account.failed_sign_ins},
                now=now,
            )
            session.flush()
            return CodeOutcome(refused="staff_account_locked", restart=True)
        session.flush()
        return CodeOutcome(refused="staff_code_wrong")
    account.totp_last_step, account.failed_sign_ins = step, 0
    if not account.totp_enrolled:
        account.totp_enrolled = True
        record_staff_action(session, actor, "staff.enrolled", now=now)
    new_id = verify_session(session, settings=settings, row=row, now=now)
    record_staff_action(session, actor, "staff.signed_in", now=now)
    return CodeOutcome(session_id=new_id)


def change_password(
    session: Session,
    *,
    member: Actor,
    current: str,
    new: str,
    repeated: str,
    now: dt.datetime,
) -> None:
    """The member's own new password, in place of the one they were handed (or any time):
    the current one first, then a new one of at least 10 characters, typed twice."""
    account = session.get(StaffAccount, member.account_id, with_for_update=True)
    if account is None:
        raise NotFound("staff_account_unknown", field="username")
    errors: list[DomainError] = []
    if not passwords.password_matches(account.password_hash, current):
        errors.append(InvalidInput("staff_password_wrong", field="current_password"))
    if len(new) < 10:
        errors.append(InvalidInput("staff_password_too_short", field="new_password"))
    elif new == current:
        errors.append(InvalidInput("staff_password_same", field="new_password"))
    elif new != repeated:
        errors.append(InvalidInput("staff_password_mismatch", field="repeated_password"))
    if errors:
        raise FormErrors(errors)
    account.password_hash = passwords.hash_password(new)
    account.must_change_password = False
    record_staff_action(session, member, "staff.password_changed", now=now)


def sign_out(session: Session, *, member: Actor, session_id: str, now: dt.datetime) -> None:
    """End the session, audited. Never refused: with the audit chain broken (no entry can
    be written until an administrator restores it) a session left open on a counter's
    shared computer is the greater harm, so it ends unaudited and the log says so."""
    if not end_session(session, session_id=session_id, now=now):
        return
    try:
        with session.begin_nested():
            record_staff_action(session, member, "staff.signed_out", now=now)
    except AuditChainBroken:
        _log.error(
            "staff account %s signed out unaudited: the audit chain is broken", member.account_id
        )


__all__ = [
    "MAX_FAILED_SIGN_INS",
    "CodeOutcome",
    "Enrolment",
    "PasswordOutcome",
    "StaffSession",
    "add_account",
    "add_point",
    "check_code",
    "check_password",
    "pending_sign_in",
    "sign_out",
    "unlock_account",
]
