from __future__ import annotations

import pytest
from stdnum import imei as stdnum_imei
from stdnum import luhn

from mcqs.devices.imei import Imei, imei_with_check_digit, parse_imei
from mcqs.errors import InvalidInput

# TAC + serial (14 digits); the check digit is computed by stdnum, never by hand.
BODIES = ["35675904123456", "49013920000001", "01332700112233", "86798202999999"]


def valid(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def wrong_check_digit(body: str) -> str:
    return body + str((int(luhn.calc_check_digit(body)) + 1) % 10)


@pytest.mark.parametrize("body", BODIES)
def test_valid_imei_gives_norm_and_tac(body: str) -> None:
    imei = valid(body)
    assert stdnum_imei.is_valid(imei)

    assert parse_imei(imei) == Imei(imei=imei, imei_norm=body, tac=body[:8])


@pytest.mark.parametrize(
    "typed",
    [
        "{0}-{1}-{2}-{3}",  # the printed form: 35-675904-123456-7
        "{0} {1} {2} {3}",
        "  {0}{1}{2}{3}\n",
        "{0}{1} - {2}{3}",
    ],
)
def test_spaces_and_dashes_are_accepted(typed: str) -> None:
    imei = valid("35675904123456")
    raw = typed.format(imei[:2], imei[2:8], imei[8:14], imei[14:])

    assert parse_imei(raw).imei == imei


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("software_version", ["00", "01", "97"])
def test_imeisv_keeps_tac_and_serial_and_gets_a_check_digit(
    body: str, software_version: str
) -> None:
    parsed = parse_imei(body + software_version)

    assert parsed == Imei(imei=valid(body), imei_norm=body, tac=body[:8])
    assert stdnum_imei.is_valid(parsed.imei)


def test_imeisv_from_the_stdnum_documentation() -> None:
    assert parse_imei("35686800-004141-20").imei == "356868000041418"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "imei_required"),
        ("   ", "imei_required"),
        (" - ", "imei_required"),
        ("35675904A234567", "imei_not_digits"),
        ("35675904.123456", "imei_not_digits"),
        ("3567590412345/7", "imei_not_digits"),
        ("+994 50 123 45 67", "imei_not_digits"),
        ("IMEI 356759041234567", "imei_not_digits"),
        ("35675904123456", "imei_wrong_length"),  # 14 digits: check digit missing
        ("3567590412345", "imei_wrong_length"),
        ("35675904123456789", "imei_wrong_length"),
        ("1", "imei_wrong_length"),
        (wrong_check_digit("35675904123456"), "imei_bad_check_digit"),
        (wrong_check_digit("01332700112233"), "imei_bad_check_digit"),
    ],
)
def test_invalid_input_is_refused_with_a_reason(raw: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_imei(raw)

    assert refused.value.code == code
    assert refused.value.field == "imei"


@pytest.mark.parametrize(("raw", "length"), [("3567590412345", 13), ("35-675904-123456", 14)])
def test_wrong_length_says_how_many_digits_were_typed(raw: str, length: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_imei(raw)

    assert refused.value.params == {"length": length}


def test_every_wrong_check_digit_is_caught() -> None:
    body = "86798202999999"
    right = luhn.calc_check_digit(body)
    for digit in "0123456789":
        if digit == right:
            continue
        with pytest.raises(InvalidInput, match="imei_bad_check_digit"):
            parse_imei(body + digit)


def test_errors_name_the_field_given() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_imei("12", field="imei_2")

    assert refused.value.field == "imei_2"


@pytest.mark.parametrize("body", BODIES)
def test_imei_with_check_digit_rebuilds_the_15_digits(body: str) -> None:
    assert imei_with_check_digit(body) == valid(body)


@pytest.mark.parametrize("bad", ["3567590412345", "356759041234567", "3567590412345X"])
def test_imei_with_check_digit_wants_14_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        imei_with_check_digit(bad)
