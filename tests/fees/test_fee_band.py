"""The fee is the tariff of the day the application is made, by the model's market value."""

from __future__ import annotations

import datetime as dt

import pytest

from mcqs.db import Database
from mcqs.devices.service import DeviceModel
from mcqs.fees.service import NoTariff, fee_band, priced_fee_band, tariff_day


def device(value: int | None, *, basic: bool = False) -> DeviceModel:
    brand = None if value is None else "Brand"
    return DeviceModel(
        tac="35000000", brand=brand, model=brand, market_value_usd=value, is_basic=basic
    )


AFTER_2023 = dt.date(2026, 11, 25)
BEFORE_2023 = dt.date(2020, 5, 1)


@pytest.mark.parametrize(
    ("value", "basic", "azn_2023", "azn_2018"),
    [
        (60, True, 15, 20),  # basic phone, no internet or camera
        (60, False, 20, 30),
        (100, False, 20, 30),
        (101, False, 30, 50),
        (200, False, 30, 50),
        (350, False, 40, 60),
        (700, False, 50, 70),
        (701, False, 70, 100),
        (1000, False, 70, 100),
        (1001, False, 100, 150),
        (2500, False, 100, 150),
        (None, False, 20, 20),  # not in the catalogue
        (150, True, 30, 50),  # "basic" but above the basic ceiling pays by value
    ],
)
def test_band_by_market_value_and_day(
    db: Database, value: int | None, basic: bool, azn_2023: int, azn_2018: int
) -> None:
    with db.transaction() as session:
        assert fee_band(session, device=device(value, basic=basic), on=AFTER_2023).amount_qepik == (
            azn_2023 * 100
        )
        assert fee_band(
            session, device=device(value, basic=basic), on=BEFORE_2023
        ).amount_qepik == (azn_2018 * 100)


def test_bands_change_on_14_december_2023(db: Database) -> None:
    with db.transaction() as session:
        last_old = fee_band(session, device=device(1500), on=dt.date(2023, 12, 13))
        first_new = fee_band(session, device=device(1500), on=dt.date(2023, 12, 14))
    assert (last_old.amount_qepik, first_new.amount_qepik) == (15000, 10000)


def test_no_tariff_before_the_law(db: Database) -> None:
    with db.transaction() as session, pytest.raises(NoTariff):
        fee_band(session, device=device(300), on=dt.date(2017, 1, 1))


def test_tariff_day_is_baku_day() -> None:
    # 22:30 UTC on 13 Dec is already 14 Dec in Baku (UTC+4): the new tariff applies.
    moment = dt.datetime(2023, 12, 13, 22, 30, tzinfo=dt.UTC)
    assert tariff_day(moment) == dt.date(2023, 12, 14)


@pytest.mark.parametrize(
    ("brand", "model", "listed"),
    [
        ("Acme", "Phone  One", (800, False)),  # listed (by its key: spaces and case differ)
        ("Acme", "Brick", (60, True)),  # a basic phone
        ("Acme", "Unpriced", None),  # catalogued, not in the price list
        (None, None, None),  # not catalogued
    ],
)
def test_a_new_applications_device_and_band_in_one_read_are_the_two_reads(
    db: Database, brand: str | None, model: str | None, listed: tuple[int, bool] | None
) -> None:
    """``priced_fee_band`` (one statement) finds what ``priced_device`` then ``fee_band``
    find."""
    from mcqs.devices.models import ModelPrice
    from mcqs.devices.service import price_key, priced_device

    with db.transaction() as session:
        if listed is not None:
            assert brand is not None and model is not None
            value, basic = listed
            session.add(
                ModelPrice(
                    brand_key=price_key(brand.upper()),
                    model_key=price_key(" phone one " if model == "Phone  One" else model),
                    market_value_usd=value,
                    is_basic=basic,
                )
            )
            session.flush()
        for on in (AFTER_2023, BEFORE_2023):
            device, band = priced_fee_band(session, tac="35000000", brand=brand, model=model, on=on)
            expected = priced_device(session, tac="35000000", brand=brand, model=model)
            assert device == expected
            assert device.market_value_usd == (listed[0] if listed else None)
            assert band.id == fee_band(session, device=expected, on=on).id
