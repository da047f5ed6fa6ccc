"""The receipt prints the card that paid (not the type chosen before paying) and the
device's name once."""

from __future__ import annotations

import re

import pytest
from receipts.test_pdf import make_receipt

from mcqs.devices.naming import device_name
from mcqs.payments.models import card_type_of
from mcqs.receipts.pdf import receipt_rows
from mcqs_simulators.population.citizens import CITIZENS

APPROVED_VISA = "4228650000018101"


@pytest.mark.parametrize(
    ("masked", "card_type"),
    [
        ("422865******8101", "v"),
        ("540168******3106", "m"),
        ("222100******0002", "m"),  # MasterCard's 2-series
        ("376000******0000", None),  # neither: the type chosen stands
        ("", None),
        (None, None),
    ],
)
def test_card_type_from_the_masked_number(masked: str | None, card_type: str | None) -> None:
    assert card_type_of(masked) == card_type


@pytest.mark.parametrize(
    ("brand", "model", "name"),
    [
        ("Nokia", "Nokia Lumia 630 Dual SIM", "Nokia Lumia 630 Dual SIM"),
        ("Samsung", "Galaxy S24", "Samsung Galaxy S24"),
        ("Apple", "apple iPhone 15", "apple iPhone 15"),
        ("Xiaomi", None, "Xiaomi"),
        (None, None, ""),
    ],
)
def test_device_named_once(brand: str | None, model: str | None, name: str) -> None:
    assert device_name(brand, model) == name
    assert make_receipt(brand=brand, model=model).device_name == name


def test_pdf_prints_the_device_once() -> None:
    rows = dict(receipt_rows(make_receipt(brand="Nokia", model="Nokia Lumia 630 Dual SIM")))
    assert rows["Cihaz"] == "Nokia Lumia 630 Dual SIM"


def test_mastercard_chosen_visa_paid_prints_visa(flow, client, demo_imeis) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[2],))
    confirmed = flow.confirm(card_type="m")
    back = flow.come_back(flow.pay(confirmed.headers["location"], card=APPROVED_VISA))
    receipt = client.get(back.headers["location"])
    assert receipt.status_code == 200
    paid_with = re.search(r"<dt>Ödəniş növü</dt><dd>([^<]*)</dd>", receipt.text)
    assert paid_with and paid_with.group(1) == "Visa, 422865******8101"
    pdf = client.get(back.headers["location"] + "/pdf")
    assert pdf.status_code == 200
