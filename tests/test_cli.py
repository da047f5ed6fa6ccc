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


def test_import_tac_stopped_by_sigterm_is_recorded_as_interrupted(
    db_url: str, tmp_path: Path
) -> None:
    """A real `mcqs import-tac` process, sent SIGTERM while it reads a big file: it stops,
    imports nothing, and the ledger says "interrupted" instead of "running" for ever."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from sqlalchemy import func, select

    from mcqs.db import Database
    from mcqs.devices.models import TacModel
    from mcqs.jobs.models import OperatorRun

    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as file:
        file.write(OSMOCOM.split("\n", 2)[0] + "\n" + OSMOCOM.split("\n", 2)[1] + "\n")
        for n in range(400_000):
            file.write(f"{10_000_000 + n},Brand{n % 50},Model {n},someone,,,,\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQS_")}
    env.update(MCQS_DATABASE_URL=db_url, MCQS_ENV="test")
    command = [sys.executable, "-m", "mcqs.cli", "import-tac", str(path)]
    child = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
    db = Database(db_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with db.transaction() as session:
                if session.scalar(select(OperatorRun.outcome)) == "running":
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the import never started")
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
        assert child.returncode == 128 + signal.SIGTERM, stderr
        with db.transaction() as session:
            run = session.scalars(select(OperatorRun)).one()
            assert (run.outcome, run.detail) == (
                "interrupted",
                "ImportInterrupted: stopped by SIGTERM",
            )
            assert run.finished_at is not None
            assert session.scalar(select(func.count()).select_from(TacModel)) == 0
    finally:
        child.kill()
        child.wait()
        db.dispose()
