"""Rules for what a person types to identify themselves: FİN, ID card number, phone.

Pure functions: each takes the raw text of a form field and returns its normalised
form, or raises :class:`~mcqs.errors.InvalidInput` with a stable code and the field
name, so the form can say what is wrong next to the right field.
"""

from __future__ import annotations

import re

import phonenumbers

from mcqs.errors import InvalidInput

#: A FİN: 7 Latin capital letters and digits.
FIN_PATTERN = re.compile(r"[A-Z0-9]{7}")

#: An ID card's document number: ``AA`` + 7 digits (cards since 2016) or ``AZE`` + 8
#: digits (older cards).
ID_CARD_PATTERN = re.compile(r"AA[0-9]{7}|AZE[0-9]{8}")

#: Operator prefixes of Azerbaijani mobile numbers (+994 XX NNNNNNN). A new operator
#: range is added here and nowhere else.
AZ_MOBILE_PREFIXES: frozenset[str] = frozenset({"50", "51", "55", "70", "77", "99", "10", "60"})

_AZ_MOBILE_E164 = re.compile(r"\+994([0-9]{2})[0-9]{7}")
# What may appear in a typed phone number. phonenumbers would also read letters
# ("050 FLOWERS" as a keypad word); a citizen's mobile number has none.
_PHONE_CHARACTERS = re.compile(r"[0-9+()\-.\s]+")


def normalize_fin(raw: str) -> str:
    """``" 5abc1d2 "`` → ``"5ABC1D2"``."""
    # An Azerbaijani keyboard types a capital i as "İ"; a FİN's letters are Latin.
    fin = raw.strip().replace("İ", "I").upper()
    if not fin:
        raise InvalidInput("fin_required", field="fin")
    if not FIN_PATTERN.fullmatch(fin):
        raise InvalidInput("fin_malformed", field="fin")
    return fin


def normalize_id_card(raw: str) -> str:
    """``"aze 1234-5678"`` → ``"AZE12345678"``: spaces and dashes go, letters go up."""
    id_card = re.sub(r"[\s\-]", "", raw).upper()
    if not id_card:
        raise InvalidInput("id_card_required", field="id_card")
    if not ID_CARD_PATTERN.fullmatch(id_card):
        raise InvalidInput("id_card_malformed", field="id_card")
    return id_card


def normalize_phone(raw: str) -> str:
    """An Azerbaijani mobile number in any usual spelling → E.164, ``"+994501234567"``.

    Accepts the national form (``050 123 45 67``, ``0501234567``), the international
    one (``+994 50 123 45 67``, ``00994…``) and ``994501234567`` without the plus.
    """
    text = raw.strip()
    if not text:
        raise InvalidInput("phone_required", field="phone")
    if not _PHONE_CHARACTERS.fullmatch(text):
        raise InvalidInput("phone_not_az_mobile", field="phone")
    try:
        number = phonenumbers.parse(text, "AZ")
    except phonenumbers.NumberParseException:
        raise InvalidInput("phone_not_az_mobile", field="phone") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # Checked against our own prefix list rather than phonenumbers' metadata, so the
    # list of operators is ours to keep.
    match = _AZ_MOBILE_E164.fullmatch(e164)
    if match is None or match.group(1) not in AZ_MOBILE_PREFIXES:
        raise InvalidInput("phone_not_az_mobile", field="phone")
    return e164
