"""A slow or hanging GoldenPay stalls nothing else: no transaction, row lock or database
write lock is held while GoldenPay is asked, returns for one payment are coalesced into
one question, and a web request gives up after MCQS_GOLDENPAY_TIMEOUT_SECONDS.

GoldenPay here is a stand-in served over real HTTP that holds every call until the test
lets it go, so the test can look at the database while a call is in flight."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import create_engine, select, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.db import Database
from mcqs.payments.models import Payment, PaymentStatus
from mcqs_simulators.population.citizens import CITIZENS

from conftest import CitizenFlow, LiveServer, free_port, make_settings, sqlite_write_lock_free
from factories import create_application, create_awaiting_payment


class StallingGoldenPay:
    """Answers GoldenPay's two merchant calls, each only once ``release`` is set."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.result_calls = 0
        self._count = threading.Lock()

    def _hold(self) -> None:
        self.arrived.set()
        self.release.wait(timeout=20)

    def get_payment_key(self, request: Request) -> JSONResponse:
        self._hold()
        return JSONResponse({"status": {"code": 1, "message": "success"}, "paymentKey": "k-1"})

    def get_payment_result(self, request: Request) -> JSONResponse:
        with self._count:
            self.result_calls += 1
        self._hold()
        key = request.query_params["payment_key"]
        return JSONResponse(
            {"status": {"code": 813, "message": "waiting"}, "paymentKey": key, "checkCount": 1}
        )

    def app(self) -> Starlette:
        base = "/web/service/merchant"
        return Starlette(
            routes=[
                Route(f"{base}/getPaymentKey", self.get_payment_key, methods=["POST"]),
                Route(f"{base}/getPaymentResult", self.get_payment_result),
            ]
        )


@pytest.fixture
def goldenpay() -> Iterator[tuple[StallingGoldenPay, str]]:
    stand_in = StallingGoldenPay()
    with LiveServer(stand_in.app(), free_port()) as server:
        yield stand_in, server.url
        stand_in.release.set()


def assert_nothing_locked(db: Database, application_id: int) -> None:
    """Another connection can take the write lock (SQLite) or the application's and its
    payments' row locks (PostgreSQL) without waiting."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        sqlite_write_lock_free(url.database or "")
        return
    engine = create_engine(url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL lock_timeout = '100ms'"))
            connection.execute(
                text("SELECT id FROM applications WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": application_id},
            )
            connection.execute(
                text("SELECT id FROM payments WHERE application_id = :id FOR UPDATE NOWAIT"),
                {"id": application_id},
            )
    finally:
        engine.dispose()


def test_goldenpay_hanging_on_get_payment_key_holds_no_lock_and_times_out(
    db_url: str, catalogue: Database, simulators: str, http: httpx.Client, demo_imeis, goldenpay
) -> None:
    stand_in, goldenpay_url = goldenpay
    settings = make_settings(
        database_url=db_url, goldenpay_base_url=goldenpay_url, goldenpay_timeout_seconds=1.5
    )
    with TestClient(create_app(settings, db=catalogue)) as client:
        flow = CitizenFlow(client, http)
        citizen = CITIZENS[0]
        checked = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
        assert checked.status_code == 303
        with ThreadPoolExecutor(1) as pool:
            pressed = pool.submit(flow.confirm)
            assert stand_in.arrived.wait(timeout=10), "GoldenPay was asked for a key"
            with catalogue.transaction() as session:
                payment = session.query(Payment).one()
                assert (payment.status, payment.payment_key) == ("pending", None)  # reserved
                application_id = payment.application_id
            assert_nothing_locked(catalogue, application_id)
            answer = pressed.result(timeout=20)
    assert answer.status_code == 502
    assert 'data-error="goldenpay_unavailable"' in answer.text
    with catalogue.transaction() as session:
        assert session.query(Payment).one().status == PaymentStatus.FAILED


def test_returns_for_one_payment_ask_goldenpay_once_and_hold_no_lock(
    db_url: str, catalogue: Database, demo_imeis, goldenpay
) -> None:
    """The flood of issue 5: one person's return URL opened by many connections at once
    while GoldenPay is slow."""
    stand_in, goldenpay_url = goldenpay
    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        application_id = create_awaiting_payment(
            session, imeis=(demo_imeis[0],), payment_key="flooded-key", now=now
        ).id
    port = free_port()
    settings = make_settings(
        database_url=db_url,
        goldenpay_base_url=goldenpay_url,
        goldenpay_timeout_seconds=10,
        public_url=f"http://127.0.0.1:{port}",  # the Host header browsers send it
    )
    url = "/payments/goldenpay/success?payment_key=flooded-key"
    with (
        LiveServer(create_app(settings, db=catalogue), port) as server,
        ThreadPoolExecutor(20) as pool,
        httpx.Client(base_url=server.url, timeout=30) as browser,
    ):
        first = pool.submit(browser.get, url)
        assert stand_in.arrived.wait(timeout=10)
        others = [pool.submit(browser.get, url) for _ in range(19)]
        # While the first return waits on GoldenPay, the others are answered without it.
        codes = sorted(other.result(timeout=10).status_code for other in others)
        assert codes == [202] * 19, codes
        assert stand_in.result_calls == 1
        assert_nothing_locked(catalogue, application_id)
        # Other pages answer meanwhile.
        assert browser.get("/").status_code == 200
        assert browser.get("/register").status_code == 200
        stand_in.release.set()
        assert first.result(timeout=20).status_code == 202  # GoldenPay: still waiting
    assert stand_in.result_calls == 1
    with catalogue.transaction() as session:
        from sqlalchemy import func, select

        from mcqs.payments.models import PaymentEvent

        returns = session.scalar(
            select(func.count())
            .select_from(PaymentEvent)
            .where(PaymentEvent.kind == "return_success")
        )
        assert returns == 1, "the same return, repeated at once, is kept once"


def test_one_client_may_not_flood_the_return_url(client) -> None:
    limit = make_settings().return_limit_per_client
    answers = [
        client.get("/payments/goldenpay/success", params={"payment_key": "x"})
        for _ in range(limit + 1)
    ]
    codes = [answer.status_code for answer in answers]
    assert codes[:limit] == [404] * limit  # not ours: nothing written, nobody asked
    assert codes[limit] == 429
    assert answers[limit].headers["retry-after"] == "60"
    assert "retry-after" not in answers[0].headers


def test_the_lock_check_sees_a_held_lock(catalogue: Database, demo_imeis) -> None:
    """The check above can fail: with a transaction holding the lock, it does."""

    from mcqs.applications.models import Application

    with catalogue.transaction() as session:
        application_id = create_application(session, imeis=(demo_imeis[0],)).id
    with catalogue.transaction() as session:
        # SQLite: the transaction itself holds the write lock (BEGIN IMMEDIATE).
        session.execute(
            select(Application).where(Application.id == application_id).with_for_update()
        )
        with pytest.raises(Exception):  # noqa: B017 - "database is locked" / LockNotAvailable
            assert_nothing_locked(catalogue, application_id)


def test_the_sweep_stops_asking_at_goldenpays_first_failure(
    db_url: str, catalogue: Database, demo_imeis
) -> None:
    """Found in review: the sweep asked every pending payment in turn, each up to the
    timeout, with no heartbeat meanwhile — a GoldenPay outage silenced the worker and
    turned every node's /healthz to 503. Now one failure ends this sweep's questions."""
    from starlette.responses import PlainTextResponse

    from mcqs.services import Services
    from mcqs.worker import sweep

    questions: list[str] = []

    def broken(request: Request) -> PlainTextResponse:
        questions.append(request.query_params.get("payment_key", ""))
        return PlainTextResponse("Service Unavailable", status_code=503)

    down = Starlette(routes=[Route("/web/service/merchant/getPaymentResult", broken)])
    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        for n in range(6):
            create_awaiting_payment(
                session,
                imeis=(demo_imeis[n],),
                payment_key=f"stalled-{n}",
                now=now - dt.timedelta(minutes=2),
            )
    with LiveServer(down, free_port()) as goldenpay_down:
        settings = make_settings(database_url=db_url, goldenpay_base_url=goldenpay_down.url)
        beats: list[int] = []
        sweep(catalogue, Services.from_settings(settings), alive=lambda: beats.append(1))
    assert len(questions) == 1, questions
    assert beats == []  # stopped before a second payment: nothing to beat between
