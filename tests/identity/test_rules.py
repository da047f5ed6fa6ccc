from __future__ import annotations

import pytest

from mcqs.errors import InvalidInput
from mcqs.identity.rules import normalize_fin, normalize_id_card, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5ABC1D2", "5ABC1D2"),
        ("5abc1d2", "5ABC1D2"),
        ("  5AbC1d2\t", "5ABC1D2"),
        ("\n6DEF2G3 ", "6DEF2G3"),
        ("1234567", "1234567"),
        ("ABCDEFG", "ABCDEFG"),
        ("5AB\u0130CD2", "5ABICD2"),  # "İ" from an Azerbaijani keyboard
        ("5abıcd2", "5ABICD2"),  # dotless ı uppercases to I
    ],
)
def test_fin_is_normalised(raw: str, expected: str) -> None:
    assert normalize_fin(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_fin_is_required(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_fin(raw)
    assert (error.value.code, error.value.field) == ("fin_required", "fin")


@pytest.mark.parametrize(
    "raw",
    [
        "5ABC1D",  # 6 characters
        "5ABC1D23",  # 8 characters
        "5ABC 1D2",  # inner space
        "5ABC-D2",
        "5ABÇ1D2",  # Azerbaijani letter
        "5ABƏ1D2",
        "5АВС1D2",  # Cyrillic look-alikes
        "5ABC1D٢",  # Arabic-Indic digit
        "5ABC_D2",
    ],
)
def test_malformed_fin_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_fin(raw)
    assert (error.value.code, error.value.field) == ("fin_malformed", "fin")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AA1234567", "AA1234567"),
        ("aa1234567", "AA1234567"),
        ("AA 1234567", "AA1234567"),
        (" AA-123 45 67 ", "AA1234567"),
        ("AZE12345678", "AZE12345678"),
        ("aze 1234 5678", "AZE12345678"),
        ("AZE-12345678", "AZE12345678"),
        ("Aze\t12345678\n", "AZE12345678"),
    ],
)
def test_id_card_is_normalised(raw: str, expected: str) -> None:
    assert normalize_id_card(raw) == expected


@pytest.mark.parametrize("raw", ["", "  ", " - ", "\t"])
def test_id_card_is_required(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_id_card(raw)
    assert (error.value.code, error.value.field) == ("id_card_required", "id_card")


@pytest.mark.parametrize(
    "raw",
    [
        "AA123456",  # 6 digits
        "AA12345678",  # 8 digits after AA
        "AZE1234567",  # 7 digits after AZE
        "AZE123456789",  # 9 digits after AZE
        "AB1234567",  # unknown series
        "AZ12345678",
        "1234567",  # number without series
        "AA12E4567",
        "AA١٢٣٤٥٦٧",  # Arabic-Indic digits
        "AA/1234567",
        "5ABC1D2",  # a FİN typed in the wrong field
    ],
)
def test_malformed_id_card_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_id_card(raw)
    assert (error.value.code, error.value.field) == ("id_card_malformed", "id_card")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("050 123 45 67", "+994501234567"),
        ("+994501234567", "+994501234567"),
        ("994501234567", "+994501234567"),
        ("0501234567", "+994501234567"),
        ("501234567", "+994501234567"),
        ("00994501234567", "+994501234567"),
        ("+994 (50) 123-45-67", "+994501234567"),
        ("  +994 51 765 43 21  ", "+994517654321"),
        ("055-765-43-21", "+994557654321"),
        ("070 123 45 67", "+994701234567"),
        ("077.123.45.67", "+994771234567"),
        ("099 123 45 67", "+994991234567"),
        ("010 123 45 67", "+994101234567"),
        ("060 123 45 67", "+994601234567"),
    ],
)
def test_az_mobile_number_is_normalised_to_e164(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\t"])
def test_phone_is_required(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_phone(raw)
    assert (error.value.code, error.value.field) == ("phone_required", "phone")


@pytest.mark.parametrize(
    "raw",
    [
        "012 123 45 67",  # Baku landline
        "+994121234567",
        "022 256 78 90",  # Ganja landline
        "+994401234567",  # not an operator prefix
        "+79001234567",  # a Russian mobile
        "+905321234567",  # a Turkish mobile
        "050 123 45 6",  # too short
        "050 123 45 678",  # too long
        "0501234",
        "050 FLOWERS",  # keypad letters
        "050 123 45 6x",
        "+",
        "abc",
        "+994 50 123 45 67 89",
    ],
)
def test_anything_but_an_az_mobile_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as error:
        normalize_phone(raw)
    assert (error.value.code, error.value.field) == ("phone_not_az_mobile", "phone")
