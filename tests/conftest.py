"""Shared fixtures.

Every test that touches the database runs twice: on SQLite and on PostgreSQL
(``MCQS_TEST_POSTGRES_URL``). Without that variable the PostgreSQL half is skipped and
the run says so at the end; with ``MCQS_REQUIRE_ALL=1`` (CI) a skip is a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mcqs.config import Settings
from mcqs.db import Base, Database
from mcqs.migrate import upgrade_database

POSTGRES_URL = os.environ.get("MCQS_TEST_POSTGRES_URL", "")
REQUIRE_ALL = os.environ.get("MCQS_REQUIRE_ALL") == "1"
# Reference data written by migrations: kept between tests.
KEPT_TABLES = {"tariff_bands", "alembic_version"}

_not_run: dict[str, str] = {}


def skip_or_fail(what: str, why: str) -> None:
    """Skip a test whose prerequisite is missing, or fail it where everything must run."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} must run here (MCQS_REQUIRE_ALL=1) but cannot: {why}")
    _not_run[what] = why
    pytest.skip(f"{what}: {why}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _not_run:
        terminalreporter.section("NOT RUN", sep="=", yellow=True, bold=True)
        for what, why in _not_run.items():
            terminalreporter.write_line(f"{what} did not run: {why}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, on a free loopback port."""

    def __init__(self, app: object, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


# ---- the simulators, served over real HTTP ------------------------------------------------

SIM_PORT = free_port()


def make_settings(**overrides: object) -> Settings:
    """Settings for tests: the app is 'testserver' (TestClient), the simulators are live."""
    values: dict[str, object] = {
        "env": "test",
        "public_url": "http://testserver",
        "population_base_url": f"http://127.0.0.1:{SIM_PORT}/population",
        "goldenpay_base_url": f"http://127.0.0.1:{SIM_PORT}/goldenpay",
        "sms_base_url": f"http://127.0.0.1:{SIM_PORT}/sms",
        "security_code_fixed": "12345",
        "secret_key": "test-secret-key-0123456789",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def simulators() -> Iterator[str]:
    """Base URL of the simulators (population, goldenpay, sms) on a real HTTP port."""
    from mcqs.simulators.app import create_simulators_app

    with LiveServer(create_simulators_app(make_settings()), SIM_PORT) as server:
        yield server.url


# ---- databases ------------------------------------------------------------------------------


def _create_postgres_database() -> tuple[str, str]:
    admin_url = make_url(Settings(database_url=POSTGRES_URL).database_url)
    name = f"mcqs_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.render_as_string(hide_password=False), name


def _drop_postgres_database(admin_url: str, name: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated database of each kind, shared by the session's tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'mcqs.sqlite3'}"
        upgrade_database(url)
        db = Database(url)
        yield db
        db.dispose()
        return
    if not POSTGRES_URL:
        skip_or_fail("PostgreSQL tests", "MCQS_TEST_POSTGRES_URL is not set")
    try:
        admin_url, name = _create_postgres_database()
    except Exception as exc:  # noqa: BLE001 - report any connection failure plainly
        skip_or_fail("PostgreSQL tests", f"cannot reach {POSTGRES_URL}: {exc.__class__.__name__}")
        raise
    url = str(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    upgrade_database(url)
    db = Database(url)
    yield db
    db.dispose()
    _drop_postgres_database(admin_url, name)


def _empty_tables(db: Database) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in KEPT_TABLES]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The database, emptied of everything but reference data after the test."""
    yield database
    _empty_tables(database)


@pytest.fixture
def db_url(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-output"
