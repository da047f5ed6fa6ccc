from __future__ import annotations

import pytest

from mcqs.receipts.schemas import mask_fin, mask_name


def test_fin_keeps_two_symbols_at_each_end() -> None:
    assert mask_fin("5ABC1D2") == "5A***D2"


def test_too_short_fin_is_hidden_completely() -> None:
    assert mask_fin("5AB") == "***"


@pytest.mark.parametrize(
    ("full_name", "masked"),
    [
        ("Məmmədov Elvin Rəşid oğlu", "M******* E**** R**** o***"),
        ("Əliyeva Gülşən İlqar qızı", "Ə****** G***** İ**** q***"),
        ("  Şükürov   Ülvi ", "Ş****** Ü***"),
    ],
)
def test_name_keeps_the_first_letter_of_each_word(full_name: str, masked: str) -> None:
    assert mask_name(full_name) == masked
