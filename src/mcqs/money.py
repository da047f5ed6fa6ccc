"""Money is integer qəpik (1 AZN = 100 qəpik), never float."""

import re
from decimal import Decimal

from babel.numbers import format_decimal

from mcqs.i18n import babel_locale


def format_azn(qepik: int) -> str:
    """``2000`` → ``"20,00 AZN"`` (az, ru) or ``"20.00 AZN"`` (en): the page's language
    writes the number; the currency is always its code, which every reader knows."""
    amount = Decimal(qepik).scaleb(-2)
    return f"{format_decimal(amount, format='#,##0.00', locale=babel_locale())}\xa0AZN"


# ASCII digits only: \d (and int()) would take ٢٠ or ２０ for 20.
_AMOUNT = re.compile(r"([0-9]{1,7})(?:[.,]([0-9]{1,2}))?")


def parse_azn(text: str) -> int | None:
    """What a cashier types (``20``, ``20.00``, ``20,5``, ``20 AZN``) → qəpik; None if it is
    not an amount of manat."""
    cleaned = (
        text.strip().upper().removesuffix("AZN").strip().replace("\u00a0", "").replace(" ", "")
    )
    found = _AMOUNT.fullmatch(cleaned)
    if found is None:
        return None
    manat, fraction = found.group(1), (found.group(2) or "0").ljust(2, "0")
    return int(manat) * 100 + int(fraction)
