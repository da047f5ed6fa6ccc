"""The operator's command line: import-tac reports what it skipped, and fails clearly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mcqs.cli import app
from mcqs.config import get_settings

OSMOCOM = """Osmocom TAC database under CC-BY-SA v3.0 (c) Harald Welte 2016
tac,name,name,contributor,comment,gsmarena,gsmarena,aka
35675904,Oppo,N1,someone,,,,
 3567590,Nokia,3310,someone,,,,
35332506, Samsung,"Galaxy S, Duos",someone,,,,
"""


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MCQS_DATABASE_URL", db_url)
    monkeypatch.setenv("MCQS_ENV", "test")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_import_tac_reports_skips(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "tacdb.csv"
    source.write_text(OSMOCOM, encoding="utf-8")
    result = cli.invoke(app, ["import-tac", str(source)])
    assert result.exit_code == 0, result.output
    assert "read 3, imported 2" in result.output
    assert "skipped 1: tac_not_8_digits (e.g. lines 4)" in result.output


def test_import_tac_refuses_an_unknown_format(cli: CliRunner, tmp_path: Path) -> None:
    source = tmp_path / "other.txt"
    source.write_text("garbage|x\n", encoding="utf-8")
    result = cli.invoke(app, ["import-tac", str(source)])
    assert result.exit_code == 2
    assert "neither the Osmocom CSV nor the GSMA" in result.output
