"""Money is integer qəpik (1 AZN = 100 qəpik), never float."""

from decimal import Decimal

from babel.numbers import format_decimal

from mcqs.i18n import babel_locale


def format_azn(qepik: int) -> str:
    """``2000`` → ``"20,00 AZN"`` (az, ru) or ``"20.00 AZN"`` (en): the page's language
    writes the number; the currency is always its code, which every reader knows."""
    amount = Decimal(qepik).scaleb(-2)
    return f"{format_decimal(amount, format='#,##0.00', locale=babel_locale())}\xa0AZN"
