"""Notification codes (bildirişin kodu): unique, short, unguessable and typable.

A code is 12 random symbols of Crockford's base32 alphabet (60 bits) and one
Luhn mod 32 check symbol, which catches any single mistyped symbol and most
swaps of neighbours before the database is asked.
"""

from __future__ import annotations

import secrets

from stdnum import luhn

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RANDOM_LENGTH = 12
CODE_LENGTH = RANDOM_LENGTH + 1

# Crockford's rule: letters that look like digits are read as those digits.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_notification_code() -> str:
    """A fresh code in canonical form: 13 symbols, no dashes."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))
    return body + luhn.calc_check_digit(body, alphabet=ALPHABET)


def format_notification_code(code: str) -> str:
    """``"K7F39QDM2XABC"`` → ``"K7F3-9QDM-2XAB-C"``, for printing and reading aloud."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def parse_notification_code(raw: str) -> str | None:
    """The canonical code for what a person typed, or ``None`` if it cannot be one.

    Spaces and dashes are ignored, case does not matter, and I/L/O are read as 1/1/0.
    """
    code = "".join(raw.split()).replace("-", "").upper().translate(_LOOKALIKES)
    if len(code) != CODE_LENGTH or any(symbol not in ALPHABET for symbol in code):
        return None
    if not luhn.is_valid(code, alphabet=ALPHABET):
        return None
    return code
