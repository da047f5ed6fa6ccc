from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum import imei as stdnum_imei

from mcqs.db import Database
from mcqs.devices.demo import (
    DEMO_PRICE_FILE,
    DEMO_TAC_FILE,
    demo_blacklisted_imei,
    example_imeis,
    seed_demo_catalogue,
)
from mcqs.devices.imei import parse_imei
from mcqs.devices.models import BlacklistedImei, ModelPrice, TacModel
from mcqs.devices.service import (
    DeviceModel,
    is_blacklisted,
    load_price_list,
    lookup_device,
    price_key,
)
from mcqs.errors import InvalidInput
from mcqs.jobs.models import OperatorRun

PRICE_HEADER = "brand,model,market_value_usd,is_basic"


def write_prices(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([PRICE_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def add_tac(session: Session, tac: str, brand: str, model: str) -> None:
    session.add(TacModel(tac=tac, brand=brand, model=model, source="osmocom"))
    session.flush()


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


# ---- lookup and prices -----------------------------------------------------------------


def test_unknown_tac_gives_an_unknown_model(db: Database) -> None:
    with db.transaction() as session:
        device = lookup_device(session, tac="99999999")

    assert device == DeviceModel("99999999", None, None, None, False)
    assert not device.known


def test_known_tac_without_a_price(db: Database) -> None:
    with db.transaction() as session:
        add_tac(session, "35735007", "Samsung", "SM-G930F")
        device = lookup_device(session, tac="35735007")

    assert device == DeviceModel("35735007", "Samsung", "SM-G930F", None, False)
    assert device.known


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Samsung", "samsung"),
        (" SAMSUNG ", "samsung"),
        ("iPhone  7\tPlus", "iphone 7 plus"),
        ("Sony Ericsson", "sony ericsson"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # casefold, not lower
    ],
)
def test_price_key(text: str, key: str) -> None:
    assert price_key(text) == key


def test_prices_match_across_spelling_variants(db: Database, tmp_path: Path) -> None:
    prices = write_prices(
        tmp_path / "prices.csv",
        " SAMSUNG ,sm-g930f ,600,0",
        "nokia,1100,20,1",
        "Apple,iPhone   7 Plus,770,false",
    )
    with db.transaction() as session:
        add_tac(session, "35735007", "Samsung", "SM-G930F")
        add_tac(session, "49013920", "Nokia", "1100")
        add_tac(session, "35381208", "Apple", "iPhone 7 Plus")
        assert load_price_list(session, prices) == 3

        galaxy = lookup_device(session, tac="35735007")
        basic = lookup_device(session, tac="49013920")
        iphone = lookup_device(session, tac="35381208")

    assert (galaxy.market_value_usd, galaxy.is_basic) == (600, False)
    assert (basic.market_value_usd, basic.is_basic) == (20, True)
    assert (iphone.market_value_usd, iphone.is_basic) == (770, False)


def test_loading_a_price_list_again_updates(db: Database, tmp_path: Path) -> None:
    with db.transaction() as session:
        add_tac(session, "35735007", "Samsung", "SM-G930F")
        load_price_list(session, write_prices(tmp_path / "a.csv", "Samsung,SM-G930F,600,0"))
        load_price_list(
            session,
            write_prices(tmp_path / "b.csv", "samsung,SM-G930F,550,0", "Nokia,1100,20,yes"),
        )

        assert count(session, ModelPrice) == 2
        assert lookup_device(session, tac="35735007").market_value_usd == 550


@pytest.mark.parametrize(
    "row",
    [
        "Samsung,SM-G930F,six hundred,0",
        "Samsung,SM-G930F,-5,0",
        "Samsung,SM-G930F,600.50,0",
        "Samsung,SM-G930F,600,maybe",
        ",SM-G930F,600,0",
        "Samsung, ,600,0",
    ],
)
def test_a_bad_price_row_is_refused_with_its_line(db: Database, tmp_path: Path, row: str) -> None:
    path = write_prices(tmp_path / "bad.csv", "Nokia,1100,20,1", row)

    with db.transaction() as session, pytest.raises(InvalidInput) as refused:
        load_price_list(session, path)

    assert refused.value.code == "price_list_bad_row"
    assert refused.value.params == {"line": 3}


def test_a_price_list_with_other_columns_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("brand,model,price\nNokia,1100,20\n", encoding="utf-8")

    with db.transaction() as session, pytest.raises(InvalidInput, match="price_list_bad_header"):
        load_price_list(session, path)


def test_is_blacklisted(db: Database) -> None:
    with db.transaction() as session:
        session.add(BlacklistedImei(imei_norm="35735007999999", reason="stolen"))
        session.flush()

        assert is_blacklisted(session, imei_norm="35735007999999")
        assert not is_blacklisted(session, imei_norm="35735007999998")


# ---- the demo catalogue ----------------------------------------------------------------


def test_demo_tac_file_keeps_the_osmocom_licence_banner() -> None:
    first_line = DEMO_TAC_FILE.read_text(encoding="utf-8").splitlines()[0]

    assert first_line == "Osmocom TAC database under CC-BY-SA v3.0 (c) Harald Welte 2016"


def test_demo_prices_span_every_fee_band() -> None:
    with DEMO_PRICE_FILE.open(encoding="utf-8", newline="") as file:
        prices = [(int(r["market_value_usd"]), r["is_basic"] == "1") for r in csv.DictReader(file)]
    bands = [
        ("basic", lambda value, basic: basic and value <= 100),
        ("<=100", lambda value, basic: not basic and value <= 100),
        ("101-200", lambda value, basic: 101 <= value <= 200),
        ("201-400", lambda value, basic: 201 <= value <= 400),
        ("401-700", lambda value, basic: 401 <= value <= 700),
        ("701-1000", lambda value, basic: 701 <= value <= 1000),
        (">1000", lambda value, basic: value > 1000),
    ]

    for name, in_band in bands:
        assert any(in_band(value, basic) for value, basic in prices), name


def test_seed_demo_catalogue_is_idempotent(db: Database) -> None:
    def snapshot() -> tuple[int, int, int]:
        with db.transaction() as session:
            return (
                count(session, TacModel),
                count(session, ModelPrice),
                count(session, BlacklistedImei),
            )

    seed_demo_catalogue(db)
    first = snapshot()
    seed_demo_catalogue(db)

    assert snapshot() == first
    assert first[0] >= 150 and first[1] >= 40 and first[2] == 1
    with db.transaction() as session:
        seeding_runs = session.scalars(select(OperatorRun)).all()
    assert [(r.started_by, r.outcome) for r in seeding_runs] == [("seed-demo", "ok")] * 2


def test_every_demo_price_names_a_demo_tac(db: Database) -> None:
    seed_demo_catalogue(db)

    with db.transaction() as session:
        tac_keys = {
            (price_key(brand), price_key(model))
            for brand, model in session.execute(select(TacModel.brand, TacModel.model))
        }
        price_keys = set(session.execute(select(ModelPrice.brand_key, ModelPrice.model_key)))
    assert price_keys and price_keys <= tac_keys


def test_example_imeis_are_valid_priced_and_deterministic(db: Database) -> None:
    seed_demo_catalogue(db)

    with db.transaction() as session:
        examples = example_imeis(session)
        assert example_imeis(session) == examples
        devices = [lookup_device(session, tac=parse_imei(imei).tac) for imei, _b, _m in examples]
        assert len(example_imeis(session, count=3)) == 3

    assert len(examples) == 10
    assert len({imei for imei, _b, _m in examples}) == 10
    for (imei, brand, model), device in zip(examples, devices, strict=True):
        assert len(imei) == 15 and stdnum_imei.is_valid(imei)
        assert (device.brand, device.model) == (brand, model)
        assert device.market_value_usd is not None
    values = [device.market_value_usd or 0 for device in devices]
    assert values == sorted(values)
    assert devices[0].is_basic and values[-1] > 1000


def test_example_imeis_without_a_catalogue_is_empty(db: Database) -> None:
    with db.transaction() as session:
        assert example_imeis(session) == []


def test_the_demo_stolen_phone(db: Database) -> None:
    with db.transaction() as session, pytest.raises(LookupError):
        demo_blacklisted_imei(session)

    seed_demo_catalogue(db)

    with db.transaction() as session:
        imei = demo_blacklisted_imei(session)
        parsed = parse_imei(imei)
        assert stdnum_imei.is_valid(imei)
        assert is_blacklisted(session, imei_norm=parsed.imei_norm)
        assert session.get_one(BlacklistedImei, parsed.imei_norm).reason == "stolen"
        assert lookup_device(session, tac=parsed.tac).known
        assert imei not in {imei for imei, _b, _m in example_imeis(session, count=100)}
