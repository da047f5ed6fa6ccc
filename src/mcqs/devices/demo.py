"""The demo catalogue shipped with the project: a few hundred TACs, a price list, a stolen phone.

``data/tac-demo.csv`` is a subset of the Osmocom TAC database (CC-BY-SA 3.0, see
``data/README.md``); ``data/prices-demo.csv`` gives its best-known models a market value in
every fee band. The example IMEIs are real-looking numbers made from demo TACs with
deterministic serials, so the README and the demo home page can quote them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.db import Database
from mcqs.devices.imei import imei_with_check_digit
from mcqs.devices.models import BlacklistedImei, ModelPrice, TacModel
from mcqs.devices.service import is_blacklisted, load_price_list, price_key
from mcqs.devices.tac_import import import_tac_file

DATA_DIR = Path(__file__).resolve().parent / "data"
DEMO_TAC_FILE = DATA_DIR / "tac-demo.csv"
DEMO_PRICE_FILE = DATA_DIR / "prices-demo.csv"

# The demo's stolen phone: a Samsung Galaxy S7 (SM-G930F, a TAC in tac-demo.csv).
_STOLEN_IMEI_NORM = "35735007" + "999999"

T = TypeVar("T")


def seed_demo_catalogue(db: Database) -> None:
    """Load the demo TACs and prices and blacklist the demo's stolen phone. Safe to repeat.

    The TAC import is its own run in the ledger (``started_by="seed-demo"``); prices and
    the blacklist entry are written in one transaction after it."""
    import_tac_file(db, DEMO_TAC_FILE, fmt="osmocom", started_by="seed-demo")
    with db.transaction() as session:
        load_price_list(session, DEMO_PRICE_FILE)
        if not is_blacklisted(session, imei_norm=_STOLEN_IMEI_NORM):
            session.add(BlacklistedImei(imei_norm=_STOLEN_IMEI_NORM, reason="stolen"))


def example_imeis(session: Session, count: int = 10) -> list[tuple[str, str, str]]:
    """Valid 15-digit IMEIs of priced models, cheapest first: ``(imei, brand, model)``.

    One TAC per model (its lowest); the models are spread evenly over the price range so
    that ten examples meet every fee band. Serials are 000001, 000002, ... in that order."""
    prices = {
        (price.brand_key, price.model_key): price.market_value_usd
        for price in session.scalars(select(ModelPrice))
    }
    first_tac: dict[tuple[str, str], tuple[str, str, str]] = {}
    catalogue = select(TacModel.tac, TacModel.brand, TacModel.model).order_by(TacModel.tac)
    for tac, brand, model in session.execute(catalogue):
        key = (price_key(brand), price_key(model))
        if key in prices:
            first_tac.setdefault(key, (tac, brand, model))
    models = sorted(first_tac.items(), key=lambda item: (prices[item[0]], item[1][0]))
    picked = [entry for _key, entry in _spread(models, count)]
    return [
        (imei_with_check_digit(f"{tac}{serial:06d}"), brand, model)
        for serial, (tac, brand, model) in enumerate(picked, start=1)
    ]


def demo_blacklisted_imei(session: Session) -> str:
    """The 15-digit IMEI of the demo's stolen phone; :func:`seed_demo_catalogue` lists it."""
    if not is_blacklisted(session, imei_norm=_STOLEN_IMEI_NORM):
        raise LookupError("the demo catalogue is not seeded: no stolen phone on the blacklist")
    return imei_with_check_digit(_STOLEN_IMEI_NORM)


def _spread(items: list[T], count: int) -> list[T]:
    """``count`` items evenly spaced from first to last (all of them if there are fewer)."""
    if count >= len(items):
        return list(items)
    if count <= 1:
        return items[:count]
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]
