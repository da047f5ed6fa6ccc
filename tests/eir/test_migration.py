"""Migration 0014 goes down and up again on both databases, losing no sighting: rows an
import appended and nothing folded yet are folded into the table on the way down."""

from __future__ import annotations

from alembic import command
from eir_support import DAY0, activity, imei
from sqlalchemy import inspect, text

from mcqs.db import Database
from mcqs.eir.network_import import import_network_file
from mcqs.migrate import alembic_config

from conftest import make_settings

ROWS = (
    ("2026-11-01", imei(40), "400011111111111", "0501000001", "4G"),
    ("2026-11-03", imei(40), "400011111111111", "0501000001", "2G"),
    ("2026-10-30", imei(41), "400011111111112", "994501000002", "LTE"),
)
SIGHTINGS = [
    (imei(40)[:14], "400011111111111", "0501000001", "2026-11-01", "2026-11-01", "2026-11-03", 5),
    (imei(41)[:14], "400011111111112", "994501000002", "2026-10-01", "2026-10-30", "2026-10-30", 4),
]
COLUMNS = "imei_norm, imsi, msisdn, month, first_seen, last_seen, rats"


def _rows(db: Database) -> list[tuple[object, ...]]:
    with db.engine.connect() as connection:
        found = connection.execute(text(f"SELECT {COLUMNS} FROM network_sightings")).all()
    return sorted(
        tuple(str(value) if i in (3, 4, 5) else value for i, value in enumerate(row))
        for row in found
    )


def test_appended_sightings_survive_the_migration_down_and_up(
    catalogue: Database, operator: object, db_url: str
) -> None:
    import_network_file(
        catalogue,
        operator_code="azercell",
        content=activity(*ROWS),
        filename="day.csv",
        settings=make_settings(),
        started_by="test",
        now=DAY0,
    )
    assert _rows(catalogue) == SIGHTINGS
    config = alembic_config(db_url)
    command.downgrade(config, "0013")
    catalogue.engine.dispose()
    tables = set(inspect(catalogue.engine).get_table_names())
    assert "network_sightings" in tables and "network_activity" not in tables
    assert _rows(catalogue) == SIGHTINGS  # the table again, the appended rows folded into it
    command.upgrade(config, "head")
    catalogue.engine.dispose()
    assert {"network_sightings_folded", "network_activity"} <= set(
        inspect(catalogue.engine).get_table_names()
    )
    assert _rows(catalogue) == SIGHTINGS
