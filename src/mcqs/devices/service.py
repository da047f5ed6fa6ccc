"""Devices: what model a TAC names, what that model is worth, and the blacklist.

The TAC catalogue (``tac_models``) and the price list (``model_prices``) come from
different sources, so a model's price is found by a spelling-tolerant key of its brand
and model name (:func:`price_key`), not by an id.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import ColumnElement, ScalarSelect, bindparam, exists, select
from sqlalchemy.orm import Session

from mcqs.devices.models import BlacklistedImei, ModelPrice, TacModel
from mcqs.errors import InvalidInput

PRICE_LIST_COLUMNS = ("brand", "model", "market_value_usd", "is_basic")
_TRUE = {"1", "true", "yes"}
_FALSE = {"0", "false", "no", ""}


@dataclass(frozen=True)
class DeviceModel:
    tac: str
    brand: str | None
    model: str | None
    market_value_usd: int | None  # None when the model is not in the price list
    is_basic: bool

    @property
    def known(self) -> bool:
        """The TAC is in the catalogue."""
        return self.brand is not None


def price_key(text: str) -> str:
    """The form of a brand or model name that prices are matched by.

    Casefolded, with runs of whitespace collapsed: ``" SAMSUNG "`` and ``"Samsung"`` meet,
    as do ``"iPhone  7"`` and ``"IPHONE 7"``."""
    return " ".join(text.split()).casefold()


# Built once per process (every check looks a device up): as rows, not objects, on the
# transaction's connection (the ORM's work around a statement is not needed for rows).
_TAC_ENTRY = select(TacModel.brand, TacModel.model).where(TacModel.tac == bindparam("tac"))


def lookup_device(session: Session, *, tac: str) -> DeviceModel:
    """The model a TAC names and its market value; an unknown TAC gives an unknown model."""
    entry = session.connection().execute(_TAC_ENTRY, {"tac": tac}).first()
    brand, model = (entry.brand, entry.model) if entry is not None else (None, None)
    return priced_device(session, tac=tac, brand=brand, model=model)


def catalogue_entry(tac: ColumnElement[str]) -> tuple[ColumnElement[str], ColumnElement[str]]:
    """The brand and the model a TAC (an SQL expression) names in the catalogue, NULL when
    it is not there: :func:`lookup_device`'s first read as columns, to ask in a statement
    with others; :func:`priced_device` takes it from there."""
    entry = select(TacModel).where(TacModel.tac == tac)
    return (
        entry.with_only_columns(TacModel.brand).scalar_subquery(),
        entry.with_only_columns(TacModel.model).scalar_subquery(),
    )


def priced_device(
    session: Session, *, tac: str, brand: str | None, model: str | None
) -> DeviceModel:
    """The device of a catalogue entry already read (``brand`` None: the TAC is not
    catalogued), with its market value from the price list."""
    if brand is None or model is None:
        return listed_device(tac=tac, brand=None, model=None, market_value_usd=None, is_basic=None)
    value, is_basic = session.connection().execute(_PRICE, price_keys(brand, model)).one()
    return listed_device(
        tac=tac, brand=brand, model=model, market_value_usd=value, is_basic=is_basic
    )


def price_keys(brand: str, model: str) -> dict[str, str]:
    """The parameters ``brand_key`` and ``model_key`` that a model's price is found by."""
    return {"brand_key": price_key(brand), "model_key": price_key(model)}


def listed_price(
    brand_key: ColumnElement[str], model_key: ColumnElement[str]
) -> tuple[ScalarSelect[int], ScalarSelect[bool]]:
    """A model's market value and whether it is a basic phone (NULL when it is not in the
    price list), found by its keys (SQL expressions): the price's read as columns, to ask
    in a statement with others."""
    price = select(ModelPrice).where(
        ModelPrice.brand_key == brand_key, ModelPrice.model_key == model_key
    )
    return (
        price.with_only_columns(ModelPrice.market_value_usd).scalar_subquery(),
        price.with_only_columns(ModelPrice.is_basic).scalar_subquery(),
    )


_PRICE = select(*listed_price(bindparam("brand_key"), bindparam("model_key")))


def listed_device(
    *,
    tac: str,
    brand: str | None,
    model: str | None,
    market_value_usd: int | None,
    is_basic: bool | None,
) -> DeviceModel:
    """The device from its catalogue entry (``brand`` None: not catalogued) and its price
    list entry (``market_value_usd`` None: not listed)."""
    if brand is None or model is None:
        return DeviceModel(tac=tac, brand=None, model=None, market_value_usd=None, is_basic=False)
    return DeviceModel(
        tac=tac,
        brand=brand,
        model=model,
        market_value_usd=market_value_usd,
        is_basic=bool(is_basic) if market_value_usd is not None else False,
    )


def load_price_list(session: Session, path: Path) -> int:
    """Upsert a price list CSV (``brand,model,market_value_usd,is_basic``) into model_prices.

    Rows are matched by :func:`price_key` of brand and model, so loading the same list
    again updates rather than duplicates; a later row for the same model wins. Returns the
    number of models written. A malformed row raises :class:`InvalidInput`
    ``price_list_bad_row`` (with its ``line``) and nothing is flushed."""
    prices: dict[tuple[str, str], tuple[int, bool]] = {}
    with path.open(encoding="utf-8-sig", newline="") as file:
        reader = csv.DictReader(file)
        if tuple(reader.fieldnames or ()) != PRICE_LIST_COLUMNS:
            raise InvalidInput("price_list_bad_header", field="path", path=str(path))
        for row in reader:
            key = (price_key(row["brand"] or ""), price_key(row["model"] or ""))
            value = (row["market_value_usd"] or "").strip()
            basic = (row["is_basic"] or "").strip().casefold()
            if (
                not all(key)
                or not (value.isascii() and value.isdigit())
                or basic not in _TRUE | _FALSE
            ):
                raise InvalidInput("price_list_bad_row", field="path", line=reader.line_num)
            prices[key] = (int(value), basic in _TRUE)

    existing = {
        (price.brand_key, price.model_key): price for price in session.scalars(select(ModelPrice))
    }
    for (brand_key, model_key), (value_usd, is_basic) in prices.items():
        price = existing.get((brand_key, model_key))
        if price is None:
            price = ModelPrice(brand_key=brand_key, model_key=model_key)
            session.add(price)
        price.market_value_usd = value_usd
        price.is_basic = is_basic
    session.flush()
    return len(prices)


def is_blacklisted(session: Session, *, imei_norm: str) -> bool:
    """The IMEI (its first 14 digits) is on the blacklist: stolen, cloned or the like."""
    return session.get(BlacklistedImei, imei_norm) is not None


def blacklisted_clause(imei_norm: ColumnElement[str]) -> ColumnElement[bool]:
    """:func:`is_blacklisted` as an SQL condition on an IMEI's key (to ask in a statement
    with others)."""
    return exists().where(BlacklistedImei.imei_norm == imei_norm)
