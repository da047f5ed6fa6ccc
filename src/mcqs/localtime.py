"""Azerbaijan's time: dates of law (tariffs) and times people read (receipts) are Baku's."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton

from mcqs.i18n import babel_locale

BAKU = ZoneInfo("Asia/Baku")


def baku_day(moment: dt.datetime) -> dt.date:
    """The calendar day of a moment in Baku."""
    return moment.astimezone(BAKU).date()


def format_baku(moment: dt.datetime | None) -> str:
    """A moment in Baku time as the page's language writes it: ``25.11.2026 14:03`` (az,
    ru), ``25/11/2026 14:03`` (en); the way pages, receipts and SMS print a moment."""
    if moment is None:
        return ""
    locale = babel_locale()
    date = format_skeleton("yMd", moment, tzinfo=BAKU, locale=locale)
    time = format_skeleton("Hm", moment, tzinfo=BAKU, locale=locale)
    return f"{date} {time}"


def format_baku_by_minute_after(moment: dt.datetime) -> str:
    """A moment rounded *up* to the minute: "after 21:04" must be true at 21:04:00."""
    rounded = moment.replace(second=0, microsecond=0)
    if rounded < moment:
        rounded += dt.timedelta(minutes=1)
    return format_baku(rounded)
