"""The security code (təhlükəsizlik kodu) and the rate limits of the public check form.

The unauthenticated form reveals a person's name and address from FİN + ID card, so it is
guarded twice: a one-time picture code, and limits per client and per FİN. Both record
their counters in a transaction of their own (see :func:`guard_check`), so a failed check
cannot roll back the attempt it used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import cast

from sqlalchemy import Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from mcqs.config import Settings
from mcqs.db import serialise_on
from mcqs.errors import InvalidInput, TooManyRequests
from mcqs.security.captcha import new_code_text
from mcqs.security.models import RateLimitHit, SecurityCode


def _hash(settings: Settings, code: str) -> str:
    return hmac.new(settings.secret_key.encode(), code.encode(), hashlib.sha256).hexdigest()


def issue_security_code(
    session: Session, *, settings: Settings, now: dt.datetime
) -> tuple[str, str]:
    """A new code: returns (id for the form, the text to draw). Only the hash is stored."""
    text = settings.security_code_fixed or new_code_text()
    code_id = secrets.token_hex(16)
    session.connection().execute(
        _NEW_CODE,
        {
            "id": code_id,
            "code_hash": _hash(settings, text),
            "created_at": now,
            "expires_at": now + dt.timedelta(seconds=settings.security_code_ttl_seconds),
            "attempts": 0,
        },
    )
    return code_id, text


# The statements of the check's guard are built once per process, with parameters: the
# check is the site's busiest form, and building a statement (and its cache key) at every
# call cost more Python than its round trip to the database. On the tables, not the mapped
# classes, run on the transaction's connection: they return rows, and the ORM's work
# around a statement is not needed either.
_CODES = cast(Table, SecurityCode.__table__)
_HITS = cast(Table, RateLimitHit.__table__)
_NEW_CODE = insert(_CODES)

# A code that may still be tried: not used, not expired (parameters code_id, now).
_USABLE = (
    _CODES.c.id == bindparam("code_id"),
    _CODES.c.used_at.is_(None),
    _CODES.c.expires_at > bindparam("now", type_=_CODES.c.expires_at.type),
)
# A try counted and a right code used up: compared in the database, where what is compared
# is an HMAC under our key, which a timing difference would not help anyone to forge.
_TRY_CODE = (
    update(_CODES)
    .where(*_USABLE, _CODES.c.attempts < bindparam("limit"))
    .values(
        attempts=_CODES.c.attempts + 1,
        used_at=case(
            (
                _CODES.c.code_hash == bindparam("typed_hash"),
                bindparam("now", type_=_CODES.c.used_at.type),
            ),
            else_=None,
        ),
    )
    .returning(_CODES.c.attempts, _CODES.c.used_at)
)

# One use of a key counted and recorded: the hit is written only while under the limit.
_COUNT_HIT = (
    insert(_HITS)
    .from_select(
        ["key", "at"],
        select(
            bindparam("key", type_=_HITS.c.key.type), bindparam("now", type_=_HITS.c.at.type)
        ).where(
            select(func.count())
            .select_from(_HITS)
            .where(
                _HITS.c.key == bindparam("key"),
                _HITS.c.at > bindparam("since", type_=_HITS.c.at.type),
            )
            .scalar_subquery()
            < bindparam("limit")
        ),
    )
    .returning(_HITS.c.id)
)


def verify_security_code(
    session: Session, *, settings: Settings, code_id: str, typed: str, now: dt.datetime
) -> None:
    """Accept the typed code once; a wrong, used, expired or over-tried code is refused.

    A try is counted and a right code used up in one statement; a refused one asks again
    only to say why."""
    typed = typed.strip()
    limit = settings.security_code_max_attempts
    tried = (
        session.connection()
        .execute(
            _TRY_CODE,
            {
                "code_id": code_id,
                "now": now,
                "limit": limit,
                "typed_hash": _hash(settings, typed) if typed else "",
            },
        )
        .first()
        if code_id
        else None
    )
    if tried is None:
        over_tried = code_id and session.scalar(
            select(func.count()).select_from(_CODES).where(*_USABLE),
            {"code_id": code_id, "now": now},
        )
        raise InvalidInput(
            "security_code_locked" if over_tried else "security_code_expired",
            field="security_code",
        )
    if not typed:
        raise InvalidInput("security_code_required", field="security_code")
    if tried.used_at is None:
        if tried.attempts >= limit:
            raise InvalidInput("security_code_locked", field="security_code")
        raise InvalidInput("security_code_wrong", field="security_code")


KEY_LENGTH = 80  # rate_limit_hits.key


def count_rate_limit_hit(
    session: Session,
    *,
    key: str,
    limit: int,
    window_seconds: int,
    now: dt.datetime,
    lock_key: str | None = None,
) -> None:
    """Count one use of ``key``; refuse when it was used ``limit`` times within the window.
    Uses of ``key`` are serialised on ``lock_key`` (by default the key itself)."""
    if len(key) > KEY_LENGTH:  # a long X-Forwarded-For from a proxy that passes it on
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()[: KEY_LENGTH - 7]
    # Uses of one key are counted one at a time (until the transaction ends), or ten at
    # once would each count the others as not there yet.
    serialise_on(session, lock_key or key)
    since = now - dt.timedelta(seconds=window_seconds)
    written = session.connection().scalar(
        _COUNT_HIT, {"key": key, "now": now, "since": since, "limit": limit}
    )
    if written is None:
        raise TooManyRequests("too_many_checks")


def guard_check(
    session: Session,
    *,
    settings: Settings,
    client: str,
    code_id: str,
    typed_code: str,
    now: dt.datetime,
) -> None:
    """The per-client limit, then the security code, for one press of "Məlumatları yoxla".

    The per-FİN limit is not here: it is counted by :func:`count_fin_check` only once the
    registry said the ID card belongs to the FİN, so that nobody can lock a citizen out by
    posting their FİN with a wrong card number.

    The caller runs this in a transaction of its own and commits it even when this
    raises, so that wrong tries and hits are counted."""
    count_rate_limit_hit(
        session,
        key=f"check:client:{client}",
        limit=settings.check_limit_per_client,
        window_seconds=settings.check_limit_window_seconds,
        now=now,
    )
    verify_security_code(session, settings=settings, code_id=code_id, typed=typed_code, now=now)


def fin_key(fin: str) -> str:
    """The key that one FİN's checks and applications are serialised on (``serialise_on``)."""
    return f"fin:{fin}"


def count_fin_check(session: Session, *, settings: Settings, fin: str, now: dt.datetime) -> None:
    """Count one check of ``fin`` whose ID card matched; refuse past the per-FİN limit.

    ``fin`` is normalised (the registry was asked with it). In a transaction of its own."""
    count_rate_limit_hit(
        session,
        key=f"check:fin:{fin}",
        limit=settings.check_limit_per_fin,
        window_seconds=settings.check_limit_window_seconds,
        now=now,
        # The FİN's own key: the check's application, in the same transaction, counts the
        # FİN's open applications under it, and a lock already held costs no statement.
        lock_key=fin_key(fin),
    )


def purge_expired(session: Session, *, settings: Settings, now: dt.datetime) -> None:
    """Forget rate-limit hits and security codes nobody can use any more."""
    session.execute(
        delete(RateLimitHit).where(
            RateLimitHit.at < now - dt.timedelta(seconds=settings.check_limit_window_seconds)
        )
    )
    session.execute(
        delete(SecurityCode).where(SecurityCode.expires_at < now - dt.timedelta(hours=1))
    )
