"""IMEI rules: what a person may type, and the key we store.

An IMEI is 15 digits: TAC (8) + serial (6) + a Luhn check digit over the first 14. An
IMEISV is 16 digits: TAC + serial + a 2-digit software version, without a check digit.
Both name the same device, so both reduce to ``imei_norm``, the first 14 digits, which is
what the registry stores and compares. The check digit is python-stdnum's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import imei as stdnum_imei
from stdnum.exceptions import ValidationError
from stdnum.util import isdigits

from mcqs.errors import InvalidInput


@dataclass(frozen=True)
class Imei:
    imei: str  # 15 digits, with check digit
    imei_norm: str  # first 14 digits: the key we store and compare
    tac: str  # first 8 digits


def parse_imei(raw: str, *, field: str = "imei") -> Imei:
    """Parse an IMEI or IMEISV as typed (spaces and dashes allowed).

    Raises :class:`InvalidInput` with ``imei_required``, ``imei_not_digits``,
    ``imei_wrong_length`` (``params["length"]`` = digits found) or ``imei_bad_check_digit``.
    """
    digits = stdnum_imei.compact(raw or "")
    if not digits:
        raise InvalidInput("imei_required", field=field)
    if not isdigits(digits):
        raise InvalidInput("imei_not_digits", field=field)
    if len(digits) == 16:
        # IMEISV: the last two digits are the software version, not a check digit.
        # The device's IMEI is TAC + serial + the check digit computed over them.
        digits = imei_with_check_digit(digits[:14])
    elif len(digits) != 15:
        raise InvalidInput("imei_wrong_length", field=field, length=len(digits))
    try:
        stdnum_imei.validate(digits)
    except ValidationError:
        raise InvalidInput("imei_bad_check_digit", field=field) from None
    return Imei(imei=digits, imei_norm=digits[:14], tac=digits[:8])


def imei_with_check_digit(imei_norm: str) -> str:
    """The 15-digit IMEI of a stored key (TAC + serial, 14 digits): adds the check digit."""
    if len(imei_norm) != 14 or not isdigits(imei_norm):
        raise ValueError(f"not 14 digits: {imei_norm!r}")
    return stdnum_imei.format(imei_norm, separator="", add_check_digit=True)
