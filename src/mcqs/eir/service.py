"""Keeping each IMEI's network status: registrations, stolen reports, first sightings.

Every change is a row of ``eir_imeis`` written in the transaction of its cause, and the
status API reads that table, so a change shows in the next answer (no cache to refresh).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from mcqs.db import dialect_insert, insert_rows
from mcqs.devices.imei import imei_with_check_digit
from mcqs.devices.models import BlacklistedImei
from mcqs.devices.service import is_blacklisted
from mcqs.eir.models import BlacklistReason, EirImei
from mcqs.i18n import gettext as _
from mcqs.localtime import format_baku
from mcqs.notifications.service import SmsToQueue, queue_sms, queue_sms_all


def imei_row(session: Session, imei_norm: str, *, now: dt.datetime) -> EirImei:
    """The IMEI's row, locked; made (unknown to the networks yet) when missing. Made with
    insert-or-ignore, so a registration and an import making it at once both go on."""
    session.execute(
        dialect_insert(session)(EirImei)
        .values(imei_norm=imei_norm, registered=False, clone=False, updated_at=now)
        .on_conflict_do_nothing(index_elements=["imei_norm"])
    )
    return session.get_one(EirImei, imei_norm, with_for_update=True, populate_existing=True)


# What an IMEI taken off the blacklist keeps of its listing: nothing.
UNLISTED: dict[str, None] = {
    "blacklist_reason": None,
    "blacklisted_at": None,
    "blacklist_source": None,
    "blacklist_operator_id": None,
    "blacklist_run_id": None,
}


def mark_registered(session: Session, imei_norms: Iterable[str], *, now: dt.datetime) -> None:
    """Registered: whitelisted; a grace period ends, and so does a grace-expiry blacklisting
    (registering is how an owner unblocks the phone). Stolen and clone stay.

    Set-wise: the IMEIs new to the EIR inserted registered, with one insert-or-ignore; the
    others locked with one select (in IMEI order, the order every writer locks them in) and
    changed with one ``UPDATE`` (and one more for those a grace expiry had blacklisted). The
    change feed's trigger fires per statement, not per row."""
    norms = sorted(set(imei_norms))
    if not norms:
        return
    table = cast(Table, EirImei.__table__)
    new = {
        norm
        for (norm,) in insert_rows(
            session,
            table,
            [
                {"imei_norm": n, "registered": True, "clone": False, "updated_at": now}
                for n in norms
            ],
            returning=("imei_norm",),
            skip_conflicts_on=("imei_norm",),
        )
    }
    known = [norm for norm in norms if norm not in new]
    if not known:
        return
    reasons = session.execute(
        select(table.c.imei_norm, table.c.blacklist_reason)
        .where(table.c.imei_norm.in_(known))
        .order_by(table.c.imei_norm)
        .with_for_update()
    ).all()
    session.execute(
        update(table).where(table.c.imei_norm.in_(known)).values(registered=True, updated_at=now)
    )
    unlisted = [norm for norm, reason in reasons if reason == BlacklistReason.GRACE_EXPIRED]
    if unlisted:
        session.execute(update(table).where(table.c.imei_norm.in_(unlisted)).values(UNLISTED))
    for norm in known:  # a row of these already in the session would be stale now
        if (row := session.identity_map.get(identity_key(EirImei, norm))) is not None:
            session.expire(row)


def mark_unregistered(session: Session, imei_norms: Iterable[str], *, now: dt.datetime) -> None:
    """A registration cancelled at a point: no longer whitelisted. The status is derived from
    the row as ever (a grace period still running, or over)."""
    for imei_norm in imei_norms:
        row = imei_row(session, imei_norm, now=now)
        row.registered = False
        row.updated_at = now
    session.flush()


def report_stolen(
    session: Session,
    *,
    imei_norm: str,
    source: str,
    operator_id: int | None = None,
    now: dt.datetime,
) -> EirImei:
    """A stolen phone: blacklisted for every network, and refused by the registration check
    (``devices``' blacklist) too. Reporting it again changes nothing."""
    row = imei_row(session, imei_norm, now=now)
    if row.blacklist_reason != BlacklistReason.STOLEN:
        row.blacklist_reason = BlacklistReason.STOLEN
        row.blacklisted_at = now
        row.blacklist_source = source
        row.blacklist_operator_id = operator_id
        row.blacklist_run_id = None
        row.updated_at = now
    if not is_blacklisted(session, imei_norm=imei_norm):
        session.add(BlacklistedImei(imei_norm=imei_norm, reason="stolen", listed_at=now))
    session.flush()
    return row


def start_grace(
    session: Session,
    row: EirImei,
    *,
    msisdns: Iterable[str],
    grace: dt.timedelta,
    register_url: str,
    now: dt.datetime,
) -> bool:
    """First sight of an unregistered IMEI: its grace period starts and every number seen
    using it is told the deadline. Returns False (nothing done) when it is not a first
    sight of an unregistered IMEI."""
    if row.first_seen_at is None:
        row.first_seen_at = now
    if row.registered or row.grace_until is not None or row.blacklist_reason is not None:
        return False
    row.grace_until = now + grace
    row.updated_at = now
    tell_grace_started(
        session,
        imei_norm=row.imei_norm,
        msisdns=msisdns,
        grace_until=row.grace_until,
        register_url=register_url,
    )
    return True


def tell_grace_started(
    session: Session,
    *,
    imei_norm: str,
    msisdns: Iterable[str],
    grace_until: dt.datetime,
    register_url: str,
) -> None:
    """The SMS to every number seen using an unregistered IMEI: the deadline, and where."""
    tell_grace_started_all(
        session, [(imei_norm, msisdns)], grace_until=grace_until, register_url=register_url
    )


def tell_grace_started_all(
    session: Session,
    started: Iterable[tuple[str, Iterable[str]]],
    *,
    grace_until: dt.datetime,
    register_url: str,
) -> None:
    """:func:`tell_grace_started` for many IMEIs (IMEI, the numbers using it) at once: the
    messages and their jobs written with two multi-row inserts (an import starts
    thousands)."""
    deadline = format_baku(grace_until)
    messages = []
    for imei_norm, msisdns in started:
        imei = imei_with_check_digit(imei_norm)
        for msisdn in sorted(set(msisdns)):
            phone = sms_phone(msisdn)
            if phone is None:
                continue
            messages.append(
                SmsToQueue(
                    phone,
                    _(
                        "İMEİ {imei} olan cihazınız qeydiyyatda deyil. {deadline} tarixinədək "
                        "qeydiyyatdan keçirin ({url}), əks halda mobil şəbəkədə bloklanacaq."
                    ).format(imei=imei, deadline=deadline, url=register_url),
                    None,
                )
            )
    if messages:
        queue_sms_all(session, messages)


def tell_blocked(
    session: Session, *, imei_norm: str, msisdns: Iterable[str], register_url: str
) -> None:
    imei = imei_with_check_digit(imei_norm)
    for msisdn in sorted(set(msisdns)):
        phone = sms_phone(msisdn)
        if phone is not None:
            queue_sms(
                session,
                phone=phone,
                application_id=None,
                text=_(
                    "İMEİ {imei} olan cihazınız qeydiyyatdan keçirilmədiyi üçün mobil "
                    "şəbəkədə bloklandı. Qeydiyyat: {url}"
                ).format(imei=imei, url=register_url),
            )


def sms_phone(msisdn: str) -> str | None:
    """The E.164 number to text, for an Azerbaijani mobile MSISDN (994 + 9 digits)."""
    if msisdn.startswith("994") and len(msisdn) == 12:
        return f"+{msisdn}"
    return None
