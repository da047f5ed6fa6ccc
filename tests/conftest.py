"""Shared fixtures.

Every test that touches the database runs twice: on SQLite and on PostgreSQL
(``MCQS_TEST_POSTGRES_URL``). Without that variable the PostgreSQL half is skipped and
the run says so at the end; with ``MCQS_REQUIRE_ALL=1`` (CI) a skip is a failure.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mcqs.config import Settings
from mcqs.db import Base, Database
from mcqs.migrate import upgrade_database
from mcqs.principals import api_routes as principals_api_routes

POSTGRES_URL = os.environ.get("MCQS_TEST_POSTGRES_URL", "")
REQUIRE_ALL = os.environ.get("MCQS_REQUIRE_ALL") == "1"
# Reference data written by migrations: kept between tests.
KEPT_TABLES = {"tariff_bands", "alembic_version"}
# Append-only on PostgreSQL (triggers refuse TRUNCATE): emptied with triggers set aside.
AUDIT_TABLES = {"audit_entries", "audit_chain_head"}

FIXED_CODE = "12345"  # the security code tests type (MCQS_SECURITY_CODE_FIXED)


def skip_or_fail(what: str, why: str) -> None:
    """Skip a test whose prerequisite is missing, or fail it where everything must run."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} must run here (MCQS_REQUIRE_ALL=1) but cannot: {why}")
    pytest.skip(f"{what}: {why}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked ``postgres_only`` (a race that SQLite, one writer at a time, cannot
    have) is not collected on SQLite at all: neither run nor counted as skipped."""
    sqlite_only_races = [
        item
        for item in items
        if item.get_closest_marker("postgres_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database") == "sqlite"  # type: ignore[attr-defined]
    ]
    if sqlite_only_races:
        config.hook.pytest_deselected(items=sqlite_only_races)
        items[:] = [item for item in items if item not in sqlite_only_races]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What did not run and why, read off the skips (the only skips are ``skip_or_fail``'s),
    so that it is told when the tests ran in several processes too."""
    not_run: dict[str, str] = {}
    for report in terminalreporter.stats.get("skipped", []):
        message = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        what, _, why = message.removeprefix("Skipped: ").partition(": ")
        not_run[what] = why
    if not_run:
        terminalreporter.section("NOT RUN", sep="=", yellow=True, bold=True)
        for what, why in not_run.items():
            terminalreporter.write_line(f"{what} did not run: {why}")
        terminalreporter.write_line("(CI runs these: bash .ci/run)")


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """Every domain's tasks and event handlers, connected as the app and the worker do."""
    from mcqs.wiring import connect

    connect()


def sqlite_write_lock_free(database: str) -> None:
    """Take and give back SQLite's write lock at once: raises "database is locked" if a
    connection of the app holds a transaction that writes."""
    import sqlite3

    connection = sqlite3.connect(database, timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
    finally:
        connection.close()


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


@dataclass(frozen=True)
class System:
    """The whole system in this process: what `make run` serves, on a free port."""

    url: str
    settings: Settings
    db: Database


@contextmanager
def whole_system(database_url: str, **overrides: object) -> Iterator[System]:
    """Migrate and seed the demo catalogue, then serve the demo's composition (the app with
    the simulators under /_sim, their state in a temporary directory) on one live server,
    as `make run` does (a fixed security code, for scripts; the demo's staff accounts)."""
    from mcqs.devices.demo import seed_demo_catalogue
    from mcqs.staff.demo import seed_demo_staff
    from mcqs_simulators.config import SimulatorSettings
    from mcqs_simulators.demo import demo_app

    upgrade_database(database_url)
    db = Database(database_url)
    seed_demo_catalogue(db)
    seed_demo_staff(db)
    port = free_port()
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "public_url": f"http://127.0.0.1:{port}",
        "security_code_fixed": FIXED_CODE,
        "secret_key": "test-secret-key-0123456789",
    }
    values.update(overrides)
    settings = Settings(**values)  # type: ignore[arg-type]
    try:
        with tempfile.TemporaryDirectory(prefix="mcqs-sim-") as state_dir:
            app = demo_app(settings, SimulatorSettings(state_dir=Path(state_dir)), db=db)
            with LiveServer(app, port) as server:
                yield System(url=server.url, settings=settings, db=db)
    finally:
        db.dispose()


# ---- the simulators, served over real HTTP ------------------------------------------------

# Kept in the environment so that a second import of this module (``from conftest import``)
# agrees with pytest's own copy on where the simulators listen; one port per xdist worker.
SIM_PORT = int(
    os.environ.setdefault(
        f"MCQS_TEST_SIM_PORT_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}", str(free_port())
    )
)


def make_settings(**overrides: object) -> Settings:
    """Settings for tests: the app is 'testserver' (TestClient), the simulators are live."""
    values: dict[str, object] = {
        "env": "test",
        "public_url": "http://testserver",
        "population_base_url": f"http://127.0.0.1:{SIM_PORT}/population",
        "goldenpay_base_url": f"http://127.0.0.1:{SIM_PORT}/goldenpay",
        "sms_base_url": f"http://127.0.0.1:{SIM_PORT}/sms",
        "egov_discovery_url": (
            f"http://127.0.0.1:{SIM_PORT}/egov/.well-known/openid-configuration"
        ),
        "security_code_fixed": FIXED_CODE,
        "secret_key": "test-secret-key-0123456789",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of the simulators (population, goldenpay, sms) on a real HTTP port."""
    from mcqs_simulators.app import create_simulators_app

    app = create_simulators_app(make_settings(), state_dir=tmp_path_factory.mktemp("simulators"))
    with LiveServer(app, SIM_PORT) as server:
        yield server.url


# ---- databases ------------------------------------------------------------------------------


def create_postgres_database(server_url: str, prefix: str = "mcqs_test") -> str:
    """A new, empty database on the server ``server_url`` names; returns its URL."""
    admin_url = make_url(Settings(env="test", database_url=server_url).database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(server_url: str, database_url: str) -> None:
    admin_url = make_url(Settings(env="test", database_url=server_url).database_url)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = make_url(database_url).database
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
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
        url = create_postgres_database(POSTGRES_URL)
    except Exception as exc:  # noqa: BLE001 - report any connection failure plainly
        skip_or_fail("PostgreSQL tests", f"cannot reach {POSTGRES_URL}: {exc.__class__.__name__}")
        raise
    upgrade_database(url)
    db = Database(url)
    yield db
    db.dispose()
    drop_postgres_database(POSTGRES_URL, url)


def _empty_tables(db: Database) -> None:
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name not in KEPT_TABLES]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            # The audit log refuses TRUNCATE by trigger (migration 0011); only a superuser
            # can set triggers aside like this, which is what the tests' role is. Only for
            # those tables: the other tables' triggers (the EIR's feed) must still fire.
            audit = [t for t in tables if t.name in AUDIT_TABLES]
            tables = [t for t in tables if t.name not in AUDIT_TABLES]
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {', '.join(t.name for t in audit)}"))
            conn.execute(text("SET LOCAL session_replication_role = origin"))
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


# ---- the app's routes -----------------------------------------------------------------------


# One walk for the app and its tests: included routers' routes too.
api_routes = principals_api_routes


# ---- what a page shows next to a field ------------------------------------------------------


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error"[^>]*>([^<]*)</p>', html)
    assert found, f"no error shown next to {field}"
    return found.group(1)


def error_code_of(html: str, field: str) -> str:
    """The stable code of the error shown next to ``field`` (its ``data-error``)."""
    found = re.search(rf'<p class="field-error" id="{field}-error" data-error="([a-z_]*)"', html)
    assert found, f"no error shown next to {field}"
    return found.group(1)


def sms_to(http: httpx.Client, simulators: str, phone: str) -> list[dict[str, str]]:
    """The SMS centre simulator's outbox for one phone number, newest first."""
    answer = http.get(
        f"{simulators}/sms/api/v1/messages",
        params={"to": phone},
        headers={"X-Api-Key": "demo-sms-key"},
    )
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def csrf_token_of(html: str) -> str:
    """The CSRF token a page's form posts back, as a browser would."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def at_the_same_moment(
    calls: list[Callable[[], str]], *, refused: type[BaseException]
) -> list[str]:
    """Run each call in its own thread (its own database connection), all released at once;
    each answers an outcome, or raises ``refused`` whose code is its outcome."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call: Callable[[], str]) -> None:
        barrier.wait(timeout=10)
        try:
            outcomes.append(call())
        except refused as error:
            errors = getattr(error, "errors", None)
            outcomes.append(errors[0].code if errors else error.code)  # type: ignore[attr-defined]

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(outcomes) == len(calls), "every call came back"
    return outcomes


# ---- the citizen's flow, driven over HTTP ------------------------------------------------------
APPROVED_VISA = "4228650000018101"
DECLINED_VISA = "4000000000000002"


@pytest.fixture
def catalogue(db: Database) -> Database:
    """The database with the demo device catalogue and price list loaded."""
    from mcqs.devices.demo import seed_demo_catalogue

    seed_demo_catalogue(db)
    return db


@pytest.fixture
def demo_imeis(catalogue: Database) -> list[str]:
    """Valid IMEIs of catalogued models (15 digits)."""
    from mcqs.devices.demo import example_imeis

    with catalogue.transaction() as session:
        return [imei for imei, _brand, _model in example_imeis(session, count=10)]


class CitizenFlow:
    """A citizen's browser: our app through TestClient, GoldenPay's page over real HTTP."""

    def __init__(self, client: object, http: httpx.Client) -> None:
        from starlette.testclient import TestClient

        assert isinstance(client, TestClient)
        self.client = client
        self.http = http

    def check(
        self,
        *,
        id_card: str,
        fin: str,
        imeis: tuple[str, ...],
        code: str = FIXED_CODE,
    ) -> httpx.Response:
        import re

        page = self.client.get("/register")
        assert page.status_code == 200
        found = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
        assert found, "the check form carries a security code id"
        fields = {f"imei_{n}": value for n, value in enumerate(imeis, start=1)}
        return self.client.post(
            "/register",
            data={
                "id_card": id_card,
                "fin": fin,
                "security_code": code,
                "security_code_id": found.group(1),
                "csrf_token": csrf_token_of(page.text),
                **fields,
            },
            follow_redirects=False,
        )

    def confirm(self, *, phone: str = "050 123 45 67", card_type: str = "v") -> httpx.Response:
        """Press "Təsdiqlə və ödəniş et" on the application form the browser shows."""
        import re

        form = self.client.get("/application")
        found = re.search(r'name="code" value="([0-9A-Z]+)"', form.text)
        assert found, "the application form names its application"
        return self.client.post(
            "/application",
            data={
                "code": found.group(1),
                "phone": phone,
                "card_type": card_type,
                "csrf_token": csrf_token_of(form.text),
            },
            follow_redirects=False,
        )

    def pay(
        self,
        pay_page_url: str,
        *,
        card: str = APPROVED_VISA,
        expiry: str = "12/30",
        cvv: str = "123",
    ) -> str:
        """Pay on GoldenPay's page; returns where GoldenPay sends the browser back."""
        page = self.http.get(pay_page_url)
        assert page.status_code == 200
        answer = self.http.post(
            pay_page_url,
            data={"card_number": card, "expiry": expiry, "cvv": cvv, "action": "pay"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:500]
        return answer.headers["location"]

    def come_back(self, return_url: str) -> httpx.Response:
        url = httpx.URL(return_url)
        assert url.host == "testserver", "GoldenPay returns to the merchant URL set for us"
        return self.client.get(f"{url.path}?{url.query.decode()}", follow_redirects=False)

    def register_and_pay(
        self, *, citizen_index: int = 0, imeis: tuple[str, ...], phone: str = "050 123 45 67"
    ) -> str:
        """The whole happy path; returns the notification code from the receipt URL."""
        from mcqs_simulators.population.citizens import CITIZENS

        citizen = CITIZENS[citizen_index]
        checked = self.check(id_card=citizen.id_card, fin=citizen.fin, imeis=imeis)
        assert checked.status_code == 303, checked.text[:2000]
        confirmed = self.confirm(phone=phone)
        assert confirmed.status_code == 303, confirmed.text[:2000]
        back = self.come_back(self.pay(confirmed.headers["location"]))
        assert back.status_code == 303
        location = back.headers["location"]
        assert "/receipts/" in location
        return location.rsplit("/", 1)[-1]


@pytest.fixture
def app_settings(db_url: str, simulators: str) -> Settings:
    return make_settings(database_url=db_url)


@pytest.fixture
def client(app_settings: Settings, catalogue: Database) -> Iterator[object]:
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    with TestClient(create_app(app_settings, db=catalogue)) as test_client:
        yield test_client


@pytest.fixture
def flow(client: object, http: httpx.Client) -> CitizenFlow:
    return CitizenFlow(client, http)


@pytest.fixture
def services(app_settings: Settings) -> object:
    from mcqs.services import Services

    return Services.from_settings(app_settings)


@pytest.fixture
def run_worker(catalogue: Database, services: object) -> Callable[..., int]:
    """One pass of the worker (sweep and due jobs); returns how many jobs ran.
    Call it with ``now=`` to run it as if at another time."""
    from mcqs.wiring import connect
    from mcqs.worker import work_once

    connect()
    return lambda now=None: work_once(catalogue, services, now=now)  # type: ignore[arg-type]


@pytest.fixture
def require() -> Callable[[str, str], None]:
    """``require(what, why)``: skip (by hand) or fail (CI) a test whose prerequisite is missing,
    and name it in the run's closing summary."""
    return skip_or_fail
