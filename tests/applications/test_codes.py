from __future__ import annotations

import re

import pytest

from mcqs.applications.codes import (
    ALPHABET,
    format_notification_code,
    new_notification_code,
    parse_notification_code,
)

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{13}$")


def test_new_codes_are_canonical_and_valid() -> None:
    for _ in range(200):
        code = new_notification_code()
        assert CODE.match(code)
        assert parse_notification_code(code) == code


def test_codes_are_unique() -> None:
    assert len({new_notification_code() for _ in range(10_000)}) == 10_000


def test_format_groups_by_four() -> None:
    assert format_notification_code("K7F39QDM2XABC") == "K7F3-9QDM-2XAB-C"


def test_formatted_code_parses_back() -> None:
    code = new_notification_code()
    assert parse_notification_code(format_notification_code(code)) == code


def test_every_single_symbol_typo_is_detected() -> None:
    code = new_notification_code()
    for position, original in enumerate(code):
        for typo in ALPHABET.replace(original, ""):
            mistyped = code[:position] + typo + code[position + 1 :]
            assert parse_notification_code(mistyped) is None, mistyped


def test_lower_case_spaces_and_lookalike_letters_are_accepted() -> None:
    # Build a valid code that contains 0 and 1, so O/I/L can stand in for them.
    code = next(c for c in iter(new_notification_code, None) if "0" in c and "1" in c)
    typed = code.lower().replace("0", "o").replace("1", "l", 1).replace("1", "I")
    typed = " " + typed[:4] + " - " + typed[4:] + " "
    assert parse_notification_code(typed) == code


@pytest.mark.parametrize(
    "raw",
    ["", "K7F3", "K7F39QDM2XABCD", "K7F39QDM2XAB*", "K7F39QDM2XABU", "K7F3-9QDM-2XAB-Ç"],
)
def test_malformed_input_is_rejected(raw: str) -> None:
    assert parse_notification_code(raw) is None
