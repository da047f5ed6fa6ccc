"""The state duty: which tariff band a device falls in on a given day."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, or_, select
from sqlalchemy.orm import Session

from mcqs.devices.service import DeviceModel, listed_device, listed_price, price_keys
from mcqs.fees.models import TariffBand
from mcqs.localtime import baku_day


class NoTariff(LookupError):
    """No band is in force for that day: the tariff data is incomplete."""


def tariff_day(moment: dt.datetime) -> dt.date:
    """The law's calendar day of a moment: Baku's."""
    return baku_day(moment)


# Built once per process (every check fixes a fee): the bands as rows, not objects.
_BANDS = cast(Table, TariffBand.__table__)
_BANDS_IN_FORCE = select(_BANDS).where(
    _BANDS.c.valid_from <= bindparam("on"),
    or_(_BANDS.c.valid_to.is_(None), _BANDS.c.valid_to >= bindparam("on")),
)
# The same, each row carrying the model's price (parameters brand_key, model_key): a new
# application's device and its fee in one round trip.
_VALUE, _BASIC = listed_price(bindparam("brand_key"), bindparam("model_key"))
_PRICED_BANDS_IN_FORCE = _BANDS_IN_FORCE.add_columns(
    _VALUE.label("market_value_usd"), _BASIC.label("is_basic")
)


def fee_band(session: Session, *, device: DeviceModel, on: dt.date) -> Row[Any]:
    """The band a device pays on day ``on`` (a row of ``tariff_bands``)."""
    bands = session.connection().execute(_BANDS_IN_FORCE, {"on": on}).all()
    return _band_of(bands, device=device, on=on)


def priced_fee_band(
    session: Session, *, tac: str, brand: str | None, model: str | None, on: dt.date
) -> tuple[DeviceModel, Row[Any]]:
    """A catalogue entry already read (``brand`` None: not catalogued) as a device with its
    market value (``devices.priced_device``), and the band it pays on day ``on``
    (:func:`fee_band`), read in one statement."""
    keys = price_keys(brand, model) if brand is not None and model is not None else {}
    bands = (
        session.connection()
        .execute(_PRICED_BANDS_IN_FORCE, {"on": on, "brand_key": None, "model_key": None, **keys})
        .all()
    )
    device = listed_device(
        tac=tac,
        brand=brand,
        model=model,
        market_value_usd=bands[0].market_value_usd if bands else None,
        is_basic=bands[0].is_basic if bands else None,
    )
    return device, _band_of(bands, device=device, on=on)


def _band_of(bands: Sequence[Row[Any]], *, device: DeviceModel, on: dt.date) -> Row[Any]:
    """The band among those in force on day ``on`` that ``device`` pays.

    A model without a known market value pays the band marked for unknown models
    (from 2023 the lowest non-basic band); a basic phone pays the basic band."""
    if not bands:
        raise NoTariff(f"no tariff band in force on {on}")
    value = device.market_value_usd
    for band in bands:
        if value is None:
            if band.for_unknown_model:
                return band
            continue
        in_range = band.min_value_usd <= value and (
            band.max_value_usd is None or value <= band.max_value_usd
        )
        if in_range and band.basic_only == device.is_basic:
            return band
    # A basic phone priced above the basic band's ceiling pays by its value like any other.
    if value is not None and device.is_basic:
        return _band_of(bands, device=dataclasses.replace(device, is_basic=False), on=on)
    raise NoTariff(f"no band for a device worth {value} USD on {on}")
