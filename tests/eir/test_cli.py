"""The operator's command line for the network side."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from eir_support import activity, imei
from typer.testing import CliRunner

from mcqs.cli import app
from mcqs.config import get_settings
from mcqs.db import Database
from mcqs.eir.models import EirImei
from mcqs.eir.operators import authenticate_client

SRC = Path(__file__).resolve().parents[2] / "src" / "mcqs" / "eir"


@pytest.fixture
def cli(db_url: str, catalogue: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MCQS_DATABASE_URL", db_url)
    monkeypatch.setenv("MCQS_ENV", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_operators_add_prints_a_working_client(cli: CliRunner, catalogue: Database) -> None:
    result = cli.invoke(app, ["operators", "add", "nar", "--name", "Nar", "--imsi-prefix", "40004"])
    assert result.exit_code == 0, result.output
    client_id = re.search(r"client_id=(\S+)", result.output)
    secret = re.search(r"client_secret=(\S+)", result.output)
    assert client_id and secret
    with catalogue.transaction() as session:
        operator = authenticate_client(
            session, client_id=client_id.group(1), client_secret=secret.group(1)
        )
        assert operator.code == "nar"
        assert secret.group(1) not in operator.client_secret_hash
    again = cli.invoke(app, ["operators", "add", "nar", "--name", "Nar", "--imsi-prefix", "40004"])
    assert again.exit_code == 2


def test_import_network_then_lists_then_detect(
    cli: CliRunner, catalogue: Database, tmp_path: Path
) -> None:
    assert (
        cli.invoke(
            app, ["operators", "add", "azercell", "--name", "Azercell", "--imsi-prefix", "40001"]
        ).exit_code
        == 0
    )
    day = tmp_path / "2026-11-01.csv"
    day.write_bytes(
        activity(
            ("2026-11-01", imei(1), "400011111111111", "994501000001", "4G"),
            ("2026-11-01", "12345", "400011111111111", "994501000001", "4G"),
        )
    )
    refused = cli.invoke(app, ["import-network", "azercell", str(day)])
    assert refused.exit_code == 2
    assert "rejected" in refused.output
    good = tmp_path / "good.csv"
    good.write_bytes(activity(("2026-11-01", imei(1), "400011111111111", "994501000001", "4G")))
    imported = cli.invoke(app, ["import-network", "azercell", str(good)])
    assert imported.exit_code == 0, imported.output
    assert "1 grace periods started" in imported.output

    out = tmp_path / "lists"
    first = cli.invoke(app, ["lists", "generate", "azercell", "--out", str(out)])
    assert first.exit_code == 0, first.output
    second = cli.invoke(app, ["lists", "generate", "azercell", "--out", str(out)])
    assert second.exit_code == 0
    files = sorted(p.name for p in out.iterdir())
    assert "azercell-000001-notification-full.csv" in files
    assert "azercell-000002-blacklist-delta-from-000001.csv" in files
    assert (out / "azercell-000001-notification-full.csv").read_text() == (
        out / "azercell-000002-notification-full.csv"
    ).read_text()

    detected = cli.invoke(app, ["eir", "detect"])
    assert detected.exit_code == 0, detected.output
    assert "0 grace periods ended" in detected.output


def test_report_stolen(cli: CliRunner, catalogue: Database) -> None:
    result = cli.invoke(app, ["eir", "report-stolen", imei(9)])
    assert result.exit_code == 0, result.output
    with catalogue.transaction() as session:
        row = session.get_one(EirImei, imei(9)[:14])
        assert (row.blacklist_reason, row.blacklist_source) == ("stolen", "cli")
    assert cli.invoke(app, ["eir", "report-stolen", "12345"]).exit_code == 2


def test_every_operator_refusal_has_words() -> None:
    from mcqs.eir.errors import OPERATOR_TEXT

    codes = set()
    for path in SRC.rglob("*.py"):
        codes |= set(re.findall(r'refused\(\s*"([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert codes
    assert sorted(codes - set(OPERATOR_TEXT)) == []
