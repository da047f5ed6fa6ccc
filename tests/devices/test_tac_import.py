from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from mcqs.db import Database, utcnow
from mcqs.devices import tac_import
from mcqs.devices.models import TacModel
from mcqs.devices.tac_import import ImportReport, detect_format, import_tac_file
from mcqs.errors import InvalidInput
from mcqs.jobs.models import OperatorRun

# The real, untidy Osmocom export; in CI the project's shared/ folder lies beside the clone.
OSMOCOM_FILE = Path(__file__).resolve().parents[3] / "shared/data/osmocom-tacdb.csv"


@pytest.fixture
def osmocom_file(require: Callable[[str, str], None]) -> Path:
    if not OSMOCOM_FILE.exists():
        require("Import of the real Osmocom TAC file", f"{OSMOCOM_FILE} is not there")
    return OSMOCOM_FILE


BANNER = "Osmocom TAC database under CC-BY-SA v3.0 (c) Harald Welte 2016"
OSMOCOM_HEADER = "tac,name,name,contributor,comment,gsmarena,gsmarena,aka"
GSMA_HEADER = (
    "TAC|Marketing Name|Internal Model Name|Manufacturer|Bands|Allocation Date|Country Code|"
    "Fixed Code|Manufacturer Code|Radio Interface|Brand Name|Model Name|Operating System|NFC|"
    "Bluetooth|WLAN|Device Type"
)


def write_osmocom(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([BANNER, OSMOCOM_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def gsma_row(tac: str, *, marketing: str, manufacturer: str, brand: str, model: str) -> str:
    columns = [tac, marketing, "INT-1", manufacturer, "GSM 900,GSM 1800", "01-Jan-2001", "826"]
    columns += ["", "", "None", brand, model, "Android", "Y", "Y", "Y", "Smartphone"]
    return "|".join(columns)


def catalogue(db: Database) -> dict[str, tuple[str, str, str]]:
    with db.transaction() as session:
        return {
            row.tac: (row.brand, row.model, row.source) for row in session.scalars(select(TacModel))
        }


def import_times(db: Database) -> dict[str, dt.datetime]:
    with db.transaction() as session:
        return {tac: at for tac, at in session.execute(select(TacModel.tac, TacModel.imported_at))}


def runs(db: Database) -> list[OperatorRun]:
    with db.transaction() as session:
        return list(session.scalars(select(OperatorRun).order_by(OperatorRun.id)))


# ---- the real Osmocom file -------------------------------------------------------------


def test_the_osmocom_file_imports_with_its_untidiness_counted(
    osmocom_file: Path, db: Database
) -> None:
    report = import_tac_file(db, osmocom_file, started_by="test")

    assert report.fmt == "osmocom"
    assert report.read == 25175
    # 780 TACs lost their leading zero (7 digits, one 6); 3 TACs appear twice.
    assert report.skipped == {"tac_not_8_digits": 780, "duplicate_tac_in_file": 3}
    assert report.examples["duplicate_tac_in_file"] == [19223, 20521, 20851]
    assert report.examples["tac_not_8_digits"][0] == 22025
    assert (report.imported, report.updated) == (24392, 0)

    rows = catalogue(db)
    assert len(rows) == 24392
    # The brand is spelled as most rows of the file spell it: "OPPO" (22) over "Oppo" (3).
    assert rows["35675904"] == ("OPPO", "N1", "osmocom")
    assert rows["49013920"] == ("Nokia", "1610", "osmocom")
    # Quoted fields keep their commas.
    assert rows["35138300"] == ("Panasonic", "GU87, EB-GU87", "osmocom")
    assert rows["35227400"][0] == "York Refrigeration, Marine & Controls"
    # " 33205600" (line 3992) comes first; the later "33205600" is the duplicate.
    assert rows["33205600"] == ("Sagem", "DMC 830", "osmocom")


def test_the_osmocom_file_has_one_spelling_per_brand(osmocom_file: Path, db: Database) -> None:
    import_tac_file(db, osmocom_file)

    with db.transaction() as session:
        brands = list(session.scalars(select(TacModel.brand).distinct()))
    assert len(brands) == len({brand.casefold() for brand in brands})
    assert all(brand == brand.strip() for brand in brands)
    assert {"Samsung", "Apple", "Nokia", "BlackBerry", "Sony"} <= set(brands)
    assert not {"SAMSUNG", " Samsung", "Blackberry", "SONY"} & set(brands)


def test_importing_the_same_file_again_changes_nothing_and_duplicates_nothing(
    osmocom_file: Path, db: Database
) -> None:
    import_tac_file(db, osmocom_file)
    again = import_tac_file(db, osmocom_file)

    assert (again.imported, again.updated, again.unchanged) == (0, 0, 24392)
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(TacModel)) == 24392


# ---- untidy rows, by hand ----------------------------------------------------------------


def test_untidy_osmocom_rows_are_tidied_or_skipped_with_a_reason(
    db: Database, tmp_path: Path
) -> None:
    path = write_osmocom(
        tmp_path / "untidy.csv",
        "35000001,Samsung,Galaxy S8,someone,,,,",  # line 3
        " 35000002, Samsung,  Galaxy   S9 ,,,,,",  # 4: spaces around everything
        '35000003,SAMSUNG,"Galaxy S, Duos",,,,,"a,b"',  # 5: case variant, quoted comma
        "1130000,Apple,iPhone 4,,,,,",  # 6: leading zero lost
        "350000041,Apple,iPhone 5,,,,,",  # 7: nine digits
        "3500000X,Apple,iPhone 6,,,,,",  # 8
        "35000005,,Lonely model,,,,,",  # 9
        "35000006, ,Another,,,,,",  # 10: blank brand
        "35000007,Nokia,,,,,,",  # 11
        "35000008,Nokia",  # 12: short row: no model column at all
        "",  # 13: blank line, not a row
        "35000001,Samsung,Galaxy S8 Copy,,,,,",  # 14: duplicate of line 3
        "35000009,Nokia,3310,,,,,",  # 15
    )

    report = import_tac_file(db, path)

    assert report.read == 12
    assert report.skipped == {
        "tac_not_8_digits": 3,
        "missing_brand": 2,
        "missing_model": 2,
        "duplicate_tac_in_file": 1,
    }
    assert report.examples == {
        "tac_not_8_digits": [6, 7, 8],
        "missing_brand": [9, 10],
        "missing_model": [11, 12],
        "duplicate_tac_in_file": [14],
    }
    assert (report.imported, report.updated) == (4, 0)
    assert catalogue(db) == {
        "35000001": ("Samsung", "Galaxy S8", "osmocom"),
        "35000002": ("Samsung", "Galaxy S9", "osmocom"),
        "35000003": ("Samsung", "Galaxy S, Duos", "osmocom"),
        "35000009": ("Nokia", "3310", "osmocom"),
    }


def test_rows_are_written_a_block_at_a_time_with_backslashes_kept(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL's COPY gets the rows in blocks of text, where a backslash is an escape:
    one in a name arrives as written, in whichever block its row falls, new or known."""
    monkeypatch.setattr(tac_import, "_COPY_BLOCK", 2)
    path = write_osmocom(
        tmp_path / "blocks.csv",
        "35000001,Nokia,3310,,,,,",
        "35000002,Nokia,N\\95 \\t,,,,,",  # the model N\95 \t
        "35000003,HTC,One\\,,,,,",  # ends with a backslash
        "35000001,Nokia,again,,,,,",  # a duplicate between blocks
        "35000004,nokia,6310,,,,,",
    )

    report = import_tac_file(db, path)

    assert (report.read, report.imported) == (5, 4)
    assert report.skipped == {"duplicate_tac_in_file": 1}
    expected = {
        "35000001": ("Nokia", "3310", "osmocom"),
        "35000002": ("Nokia", "N\\95 \\t", "osmocom"),
        "35000003": ("HTC", "One\\", "osmocom"),
        "35000004": ("Nokia", "6310", "osmocom"),
    }
    assert catalogue(db) == expected
    # Again: every TAC known, kept aside (in a file past a few characters) and compared
    # with the catalogue's row: the same, backslashes and all.
    monkeypatch.setattr(tac_import, "_ASIDE_IN_MEMORY", 16)

    again = import_tac_file(db, path)

    assert (again.imported, again.updated, again.unchanged) == (0, 0, 4)
    assert catalogue(db) == expected
    # And changed: updated, backslashes kept.
    changed = write_osmocom(
        tmp_path / "changed.csv",
        "35000002,Nokia,N\\96 \\t,,,,,",
        "35000003,HTC,One\\,,,,,",
        "35000004,Nokia,\\6310,,,,,",
    )

    report = import_tac_file(db, changed)

    assert (report.imported, report.updated, report.unchanged) == (0, 2, 1)
    assert catalogue(db) == {
        **expected,
        "35000002": ("Nokia", "N\\96 \\t", "osmocom"),
        "35000004": ("Nokia", "\\6310", "osmocom"),
    }


def test_a_tie_between_brand_spellings_goes_to_the_first_met(db: Database, tmp_path: Path) -> None:
    path = write_osmocom(
        tmp_path / "tie.csv", "35000001,G-mobile,A1,,,,,", "35000002,G-Mobile,A2,,,,,"
    )

    import_tac_file(db, path)

    assert {brand for brand, _model, _source in catalogue(db).values()} == {"G-mobile"}


def test_overlong_names_are_skipped_rather_than_failing_the_import(
    db: Database, tmp_path: Path
) -> None:
    path = write_osmocom(
        tmp_path / "long.csv", f"35000001,Nokia,{'x' * 201},,,,,", "35000002,Nokia,3310,,,,,"
    )

    report = import_tac_file(db, path)

    assert report.skipped == {"text_too_long": 1}
    assert set(catalogue(db)) == {"35000002"}


# ---- GSMA --------------------------------------------------------------------------------


def test_gsma_file_uses_brand_and_model_name_with_fallbacks(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gsma.txt"
    rows = [
        GSMA_HEADER,
        gsma_row(
            "35332509",
            marketing="Galaxy S9",
            manufacturer="Samsung Korea",
            brand="Samsung",
            model="SM-G960F",
        ),
        gsma_row(
            "35332510",
            marketing='Galaxy Tab 10.1"',
            manufacturer="Samsung Korea",
            brand="",
            model="",
        ),
        gsma_row("3533251", marketing="X", manufacturer="Y", brand="Z", model="W"),
        gsma_row("35332511", marketing="", manufacturer="", brand="", model="Lost"),
        gsma_row("35332512", marketing="", manufacturer="Apple Inc", brand="Apple", model=""),
        gsma_row("35332509", marketing="Again", manufacturer="", brand="Samsung", model="Again"),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    assert detect_format(path) == "gsma"
    report = import_tac_file(db, path)

    assert report.fmt == "gsma"
    assert report.read == 6
    assert report.skipped == {
        "tac_not_8_digits": 1,
        "missing_brand": 1,
        "missing_model": 1,
        "duplicate_tac_in_file": 1,
    }
    assert report.examples["tac_not_8_digits"] == [4]
    assert catalogue(db) == {
        "35332509": ("Samsung", "SM-G960F", "gsma"),
        "35332510": ("Samsung Korea", 'Galaxy Tab 10.1"', "gsma"),
    }


def test_a_gsma_file_without_brand_columns_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "gsma.txt"
    path.write_text("TAC|Marketing Name\n35332509|Galaxy S9\n", encoding="utf-8")

    with pytest.raises(InvalidInput, match="tac_file_bad_header"):
        import_tac_file(db, path)

    assert catalogue(db) == {}


def test_a_later_file_updates_brand_model_and_source(db: Database, tmp_path: Path) -> None:
    first = write_osmocom(
        tmp_path / "osmocom.csv", "35332509,Samsung,SM-G960,,,,,", "35000001,Nokia,3310,,,,,"
    )
    import_tac_file(db, first)
    later = tmp_path / "gsma.txt"
    later.write_text(
        "\n".join(
            [
                GSMA_HEADER,
                gsma_row(
                    "35332509",
                    marketing="Galaxy S9",
                    manufacturer="",
                    brand="Samsung",
                    model="SM-G960F",
                ),
                gsma_row(
                    "35332599",
                    marketing="Galaxy S9+",
                    manufacturer="",
                    brand="Samsung",
                    model="SM-G965F",
                ),
            ]
        ),
        encoding="utf-8",
    )

    report = import_tac_file(db, later)

    assert (report.imported, report.updated) == (1, 1)
    assert catalogue(db) == {
        "35332509": ("Samsung", "SM-G960F", "gsma"),
        "35332599": ("Samsung", "SM-G965F", "gsma"),
        "35000001": ("Nokia", "3310", "osmocom"),
    }


def test_every_row_an_import_writes_carries_the_time_of_that_import(
    db: Database, tmp_path: Path
) -> None:
    """New rows take ``imported_at`` from the column's default on PostgreSQL (the COPY
    sends none), known rows are set by the update: both are the import's time."""
    first = write_osmocom(tmp_path / "first.csv", "35000001,Nokia,3310,,,,,")
    import_tac_file(db, first)
    with db.transaction() as session:
        first_time = session.scalars(select(TacModel.imported_at)).one()
    later = write_osmocom(
        tmp_path / "later.csv", "35000001,Nokia,3310i,,,,,", "35000002,HTC,One,,,,,"
    )
    before = utcnow()
    import_tac_file(db, later)
    after = utcnow()

    with db.transaction() as session:
        rows = session.execute(select(TacModel.tac, TacModel.imported_at))
        stamps = {tac: imported_at for tac, imported_at in rows}
    assert first_time < before
    for tac in ("35000001", "35000002"):
        # The server's clock and this one are the same machine's; a second of leeway.
        assert before - dt.timedelta(seconds=1) <= stamps[tac] <= after + dt.timedelta(seconds=1)
    assert stamps["35000001"] > first_time


def test_only_the_rows_a_later_file_changes_are_rewritten(db: Database, tmp_path: Path) -> None:
    """A known TAC the file gives the same brand, model and source is left alone, its
    ``imported_at`` that of the import that wrote it; a change of any of the three is
    rewritten with the later import's time."""
    first = write_osmocom(
        tmp_path / "first.csv",
        "35000001,Nokia,3310,,,,,",
        "35000002,HTC,One,,,,,",
        "35000003,Apple,iPhone,,,,,",
        "35000004,Sony,Xperia,,,,,",
    )
    import_tac_file(db, first)
    first_times = import_times(db)
    later = write_osmocom(
        tmp_path / "later.csv",
        "35000001,Nokia,3310,,,,,",  # as it is
        "35000002,HTC,One M8,,,,,",  # another model
        "35000003,Apple,iPhone,,,,,",  # as it is
        "35000004,Sony Ericsson,Xperia,,,,,",  # another brand
    )

    report = import_tac_file(db, later)

    assert (report.imported, report.updated, report.unchanged) == (0, 2, 2)
    times = import_times(db)
    assert {tac for tac in times if times[tac] > first_times[tac]} == {"35000002", "35000004"}
    assert catalogue(db)["35000004"] == ("Sony Ericsson", "Xperia", "osmocom")
    gsma = tmp_path / "gsma.txt"
    gsma.write_text(
        "\n".join(
            [
                GSMA_HEADER,
                gsma_row("35000001", marketing="", manufacturer="", brand="Nokia", model="3310"),
                gsma_row("35000003", marketing="", manufacturer="", brand="Apple", model="iPhone"),
            ]
        ),
        encoding="utf-8",
    )
    from_gsma = import_tac_file(db, gsma)  # the same brands and models from another source

    assert (from_gsma.imported, from_gsma.updated, from_gsma.unchanged) == (0, 2, 0)
    assert catalogue(db)["35000001"] == ("Nokia", "3310", "gsma")


def test_a_catalogue_row_no_file_row_can_match_is_left_alone(db: Database, tmp_path: Path) -> None:
    """The catalogue may hold a TAC no usable row can have (written before the rules, or by
    hand): the import reads past it and keeps it."""
    with db.transaction() as session:
        for tac in ("3500000X", "350001", "35000001"):
            session.add(TacModel(tac=tac, brand="Old", model="Odd", source="manual"))
    path = write_osmocom(
        tmp_path / "file.csv",
        "35000001,Nokia,3310,,,,,",
        "35000002,HTC,One,,,,,",
        "35000040,Apple,iPhone,,,,,",  # 3500000X read as digits would be 35000040
    )

    report = import_tac_file(db, path)

    assert (report.imported, report.updated, report.unchanged) == (2, 1, 0)
    assert catalogue(db) == {
        "3500000X": ("Old", "Odd", "manual"),
        "350001": ("Old", "Odd", "manual"),
        "35000001": ("Nokia", "3310", "osmocom"),
        "35000002": ("HTC", "One", "osmocom"),
        "35000040": ("Apple", "iPhone", "osmocom"),
    }


def test_a_file_imported_again_leaves_its_rows_as_they_were(db: Database, tmp_path: Path) -> None:
    first = write_osmocom(
        tmp_path / "first.csv", "35000001,Nokia,3310,,,,,", "35000002,HTC,One,,,,,"
    )
    import_tac_file(db, first)
    before = import_times(db)

    again = import_tac_file(db, first)

    assert (again.read, again.imported, again.updated, again.unchanged) == (2, 0, 0, 2)
    after = import_times(db)
    assert after == before


def test_a_plain_file_updates_known_tacs_and_spells_new_ones_its_way(
    db: Database, tmp_path: Path
) -> None:
    """Plain lines (taken a block at a time on PostgreSQL): a known TAC is updated, new
    ones inserted, and a new row whose spelling lost is spelt as most rows spell it."""
    first = write_osmocom(
        tmp_path / "first.csv", "35000001,Nokia,3310,,,,,", "35000002,HTC,One,,,,,"
    )
    import_tac_file(db, first)
    later = write_osmocom(
        tmp_path / "later.csv",
        "35000004,htc,Wildfire,,,,,",
        "35000002,HTC,One M8,,,,,",
        "35000003,HTC,Desire,,,,,",
    )

    report = import_tac_file(db, later)

    assert (report.read, report.imported, report.updated, report.unchanged) == (3, 2, 1, 0)
    assert catalogue(db) == {
        "35000001": ("Nokia", "3310", "osmocom"),
        "35000002": ("HTC", "One M8", "osmocom"),
        "35000003": ("HTC", "Desire", "osmocom"),
        "35000004": ("HTC", "Wildfire", "osmocom"),
    }


# ---- formats and the ledger --------------------------------------------------------------


def test_detect_format(osmocom_file: Path, tmp_path: Path) -> None:
    assert detect_format(osmocom_file) == "osmocom"
    headerless = tmp_path / "no-banner.csv"
    headerless.write_text("something else\n" + OSMOCOM_HEADER + "\n", encoding="utf-8")
    assert detect_format(headerless) == "osmocom"
    other = tmp_path / "other.csv"
    other.write_text("IMEI,owner\n356759041234567,Ali\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        detect_format(other)
    assert refused.value.code == "tac_file_unknown_format"


def test_a_successful_import_is_in_the_ledger(db: Database, tmp_path: Path) -> None:
    path = write_osmocom(tmp_path / "ok.csv", "35000001,Nokia,3310,,,,,", "1234,Nokia,1100,,,,,")

    report = import_tac_file(db, path, started_by="operator:aysel")

    [run] = runs(db)
    assert (run.kind, run.source, run.started_by, run.outcome) == (
        "import-tac",
        str(path),
        "operator:aysel",
        "ok",
    )
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert run.counts == dataclasses.asdict(report)
    assert run.counts["skipped"] == {"tac_not_8_digits": 1}
    assert run.detail == (
        "osmocom: 2 read, 1 imported, 0 updated, 0 unchanged, 1 skipped (tac_not_8_digits 1)"
    )


def test_a_file_of_unknown_format_fails_and_the_ledger_says_so(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "owners.csv"
    path.write_text("IMEI,owner\n356759041234567,Ali\n", encoding="utf-8")

    with pytest.raises(InvalidInput) as refused:
        import_tac_file(db, path, started_by="test")

    assert refused.value.code == "tac_file_unknown_format"
    [run] = runs(db)
    assert (run.kind, run.outcome, run.started_by) == ("import-tac", "failed", "test")
    assert run.finished_at is not None
    assert run.detail is not None and "tac_file_unknown_format" in run.detail
    assert catalogue(db) == {}


def test_an_unknown_format_name_is_refused(osmocom_file: Path, db: Database) -> None:
    with pytest.raises(InvalidInput, match="tac_file_unknown_format"):
        import_tac_file(db, osmocom_file, fmt="xlsx")

    assert [run.outcome for run in runs(db)] == ["failed"]


def test_a_missing_file_fails_and_the_ledger_says_so(db: Database, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        import_tac_file(db, tmp_path / "nowhere.csv")

    [run] = runs(db)
    assert run.outcome == "failed"
    assert run.detail is not None and run.detail.startswith("FileNotFoundError")


def test_a_failure_midway_imports_nothing_but_is_recorded(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_osmocom(
        tmp_path / "three.csv",
        "35000001,Nokia,3310,,,,,",
        "35000002,Nokia,3210,,,,,",
        "35000003,Nokia,1100,,,,,",
    )
    real_upsert = tac_import._upsert

    def upsert_then_fail(*args: object, **kwargs: object) -> tuple[int, int]:
        real_upsert(*args, **kwargs)  # type: ignore[arg-type]
        raise RuntimeError("disk full")

    monkeypatch.setattr(tac_import, "_BATCH", 2)
    monkeypatch.setattr(tac_import, "_upsert", upsert_then_fail)

    with pytest.raises(RuntimeError):
        import_tac_file(db, path)

    assert catalogue(db) == {}
    [run] = runs(db)
    assert run.outcome == "failed"
    assert run.detail == "RuntimeError: disk full"
    assert run.counts is not None and run.counts["read"] == 3


def test_report_summary_without_skips() -> None:
    report = ImportReport(fmt="gsma", read=2, imported=1, updated=1)

    assert report.summary() == "gsma: 2 read, 1 imported, 1 updated, 0 unchanged, 0 skipped"


@pytest.mark.postgres_only
def test_an_import_waits_for_another_writer_of_the_catalogue(db: Database, tmp_path: Path) -> None:
    """The merge is an update then an insert of what is not known: another writer's TAC,
    committed while the import reads, must count as known, not fail on the primary key."""
    import threading

    from sqlalchemy import text

    path = write_osmocom(tmp_path / "two.csv", "35000001,Nokia,3310,,,,,", "35000002,HTC,One,,,,,")
    finished: list[ImportReport] = []
    with db.engine.connect() as other:
        other.execute(text("LOCK TABLE tac_models IN SHARE ROW EXCLUSIVE MODE"))
        importing = threading.Thread(target=lambda: finished.append(import_tac_file(db, path)))
        importing.start()
        importing.join(timeout=1.0)
        assert not finished  # waiting for the other writer
        other.execute(
            text(
                "INSERT INTO tac_models (tac, brand, model, source, imported_at) "
                "VALUES ('35000002', 'HTC', 'Old', 'gsma', now())"
            )
        )
        other.commit()
        importing.join(timeout=30)

    [report] = finished
    assert (report.imported, report.updated) == (1, 1)
    assert catalogue(db)["35000002"] == ("HTC", "One", "osmocom")


def key_index(db: Database) -> int | None:
    """The object id of the catalogue's primary key's index (a new one each time it is
    built), or ``None`` when there is no key."""
    from sqlalchemy import text

    with db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT conindid FROM pg_constraint "
                "WHERE conrelid = 'tac_models'::regclass AND contype = 'p'"
            )
        ).scalar()


def seed_catalogue(db: Database, *tacs: str) -> None:
    with db.transaction() as session:
        session.add_all(
            TacModel(tac=tac, brand="Nokia", model=f"N{tac}", source="gsma") for tac in tacs
        )


@pytest.mark.postgres_only
def test_a_file_that_outgrows_the_catalogue_is_loaded_with_its_key_built_again(
    db: Database, tmp_path: Path
) -> None:
    """More than twice as many lines as the catalogue has TACs: the key is dropped, the rows
    copied, the key built again; known TACs are still updated, new brands spelt the
    catalogue's way."""
    seed_catalogue(db, "35000001")
    before = key_index(db)
    path = write_osmocom(
        tmp_path / "bigger.csv",
        "35000001,Nokia,3310,,,,,",
        "35000002,NOKIA,3210,,,,,",
        "35000003,Nokia,1100,,,,,",
    )

    report = import_tac_file(db, path)

    assert (report.imported, report.updated, report.unchanged) == (2, 1, 0)
    assert catalogue(db) == {
        "35000001": ("Nokia", "3310", "osmocom"),
        "35000002": ("Nokia", "3210", "osmocom"),
        "35000003": ("Nokia", "1100", "osmocom"),
    }
    after = key_index(db)
    assert after is not None and after != before  # built again, and there
    with pytest.raises(IntegrityError):  # and it is a primary key still
        seed_catalogue(db, "35000003")
    # The same full file again, the usual import, adds nothing: the key stays.
    assert import_tac_file(db, path).unchanged == 3
    assert key_index(db) == after


@pytest.mark.postgres_only
def test_a_file_smaller_than_the_catalogue_goes_into_its_key_row_by_row(
    db: Database, tmp_path: Path
) -> None:
    """Dropping the key locks the catalogue's readers out until the commit: a file that adds
    less than the catalogue holds keeps it."""
    seed_catalogue(db, "35000001", "35000002", "35000003", "35000004")
    before = key_index(db)
    path = write_osmocom(tmp_path / "smaller.csv", "35000005,HTC,One,,,,,")

    assert import_tac_file(db, path).imported == 1

    assert key_index(db) == before
    assert catalogue(db)["35000005"] == ("HTC", "One", "osmocom")


@pytest.mark.postgres_only
def test_a_role_that_does_not_own_the_catalogue_imports_row_by_row(
    db: Database, tmp_path: Path
) -> None:
    """Only the table's owner may drop its key: the web's role (docs/operations.md) imports
    the rows one at a time into the index."""
    import uuid

    from sqlalchemy import text

    role = f"mcqs_tac_importer_{uuid.uuid4().hex[:8]}"
    with db.engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"GRANT SELECT, INSERT, UPDATE ON tac_models, operator_runs TO {role}"))
        conn.execute(text(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"))
    importer = Database(db.engine.url.set(username=role).render_as_string(hide_password=False))
    try:
        before = key_index(db)
        path = write_osmocom(tmp_path / "new.csv", "35000001,Nokia,3310,,,,,")

        assert import_tac_file(importer, path).imported == 1

        assert key_index(db) == before
        assert catalogue(db) == {"35000001": ("Nokia", "3310", "osmocom")}
    finally:
        importer.dispose()
        with db.engine.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))


@pytest.mark.postgres_only
def test_a_first_load_keeps_the_key_when_a_reader_holds_the_catalogue(
    db: Database, tmp_path: Path
) -> None:
    """A transaction still reading the catalogue: the key's lock is asked for a second at
    most (readers coming after the request would wait behind it), then the import goes
    row by row, and the reader was never stopped."""
    import threading

    from sqlalchemy import text

    before = key_index(db)
    path = write_osmocom(tmp_path / "new.csv", "35000001,Nokia,3310,,,,,")
    finished: list[ImportReport] = []
    asked = text(
        "SELECT count(*) FROM pg_locks WHERE relation = 'tac_models'::regclass "
        "AND mode = 'AccessExclusiveLock' AND NOT granted"
    )
    with db.engine.connect() as reader, db.engine.connect() as onlooker:
        reader.execute(text("SELECT count(*) FROM tac_models"))  # holds ACCESS SHARE
        importing = threading.Thread(target=lambda: finished.append(import_tac_file(db, path)))
        importing.start()
        lock_asked = False
        while importing.is_alive() and not lock_asked:
            lock_asked = onlooker.execute(asked).scalar() == 1
            onlooker.rollback()
        importing.join(timeout=20)
        assert lock_asked, "the import never asked to drop the key"
        assert finished, "the import waited for the reader"
        # The reader goes on, and sees the committed row.
        reader.commit()
        assert reader.execute(text("SELECT brand FROM tac_models")).scalar() == "Nokia"

    assert finished[0].imported == 1
    assert key_index(db) == before


@pytest.mark.postgres_only
def test_an_import_that_fails_after_dropping_the_key_leaves_the_key(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = key_index(db)
    path = write_osmocom(tmp_path / "one.csv", "35000001,Nokia,3310,,,,,")

    monkeypatch.setattr(tac_import, "_ADD_KEY", "SELECT 1/0")  # fails where the key is built

    with pytest.raises(psycopg.errors.DivisionByZero):
        import_tac_file(db, path)

    assert key_index(db) == before
    assert catalogue(db) == {}
    assert runs(db)[-1].outcome == "failed"


# ---- plain blocks: recognised over bytes, the same rows as the rules give ----------------


def _rows_of(batches: object) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for batch in batches:  # type: ignore[attr-defined]
        if isinstance(batch, tac_import.PlainBlock):
            every = np.ones(len(batch), dtype=bool)
            for line in batch.copy_text(every, b"\n").decode().splitlines():
                tac, brand, model = line.split("\t")
                rows.append((tac, brand, model))
        else:
            rows.extend((tac, brand, model) for _line, tac, brand, model in batch)
    return rows


@pytest.mark.parametrize("seed", range(6))
def test_plain_blocks_give_the_rows_and_skips_the_rules_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Blocks of plain lines skip the row-by-row rules; whatever the mix of lines, the rows
    kept, the counts and the example line numbers are those of the rules alone."""
    chooser = random.Random(seed)
    plain = ["{tac},Samsung,Galaxy S{n},someone,,,,", "{tac},Nokia,N{n} Pro,,,,,x  y"]
    untidy = [
        "{tac}, Samsung,Galaxy S{n},,,,,",  # a space to strip
        "{tac},Nokia,N{n}  Pro,,,,,",  # two spaces
        "{tac},SAMSUNG,A{n},,,,,",  # another spelling (plain, counted apart)
        "{short},Apple,iPhone {n},,,,,",  # 7 digits
        "{tac},,lonely {n},,,,,",  # no brand
        "{tac},Nokia",  # no model
        "",  # blank
        "{tac},Nokia,{long},,,,,",  # too long
        "{tac},Nokia,N{n}\tx,,,,,",  # a tab
        "{tac},Nokia,N{n}\\x,,,,,",  # a backslash
        "{tac},Bérénice,B{n},,,,,",  # not ASCII
        "{tac},Nokia,Lumia {n} ,,,,,",  # a trailing space
    ]
    lines = []
    for n in range(3000):
        # Mostly plain lines, some TACs repeated (duplicates, within and across blocks).
        tac = 35000000 + (chooser.randrange(n) if n and chooser.random() < 0.01 else n)
        pattern = chooser.choice(untidy) if chooser.random() < 0.03 else chooser.choice(plain)
        lines.append(pattern.format(tac=tac, short=tac // 10, n=n, long="x" * 201))
    path = write_osmocom(tmp_path / "mixed.csv", *lines)
    monkeypatch.setattr(tac_import, "_READ_BYTES", 2000)  # about 60 lines a block

    by_rules = ImportReport(fmt="osmocom")
    rows_by_rules = _rows_of(tac_import._usable_batches(path, by_rules, None, plain_blocks=False))
    by_blocks = ImportReport(fmt="osmocom")
    batches = list(tac_import._usable_batches(path, by_blocks, None, plain_blocks=True))

    assert any(isinstance(batch, tac_import.PlainBlock) for batch in batches)
    assert any(isinstance(batch, list) for batch in batches)
    assert sorted(_rows_of(batches)) == sorted(rows_by_rules)
    assert by_blocks == by_rules
