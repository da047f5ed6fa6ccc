"""Azerbaijan's time: dates of law (tariffs) and times people read (receipts) are Baku's."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

BAKU = ZoneInfo("Asia/Baku")


def baku_day(moment: dt.datetime) -> dt.date:
    """The calendar day of a moment in Baku."""
    return moment.astimezone(BAKU).date()


def format_baku(moment: dt.datetime | None) -> str:
    """``25.11.2026 14:03``, as the pages and receipts print a moment."""
    return moment.astimezone(BAKU).strftime("%d.%m.%Y %H:%M") if moment else ""


def format_baku_by_minute_after(moment: dt.datetime) -> str:
    """A moment rounded *up* to the minute: "after 21:04" must be true at 21:04:00."""
    rounded = moment.replace(second=0, microsecond=0)
    if rounded < moment:
        rounded += dt.timedelta(minutes=1)
    return format_baku(rounded)
