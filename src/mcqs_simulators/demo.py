"""The one-command demo (``mcqs-demo``, what ``make run`` runs): MCQS with the simulators.

The demo lives here, not in ``mcqs``, because it mounts the simulators and MCQS never
imports them. It serves exactly what production serves (``mcqs.app.create_app``) with
the simulators mounted under ``/_sim``, runs the worker as a child process and keeps it
running, and uses SQLite and demo data by default. It refuses ``MCQS_ENV=production``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import Headers
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from mcqs.cli import configure_logging, load_settings, serve_factory
from mcqs.config import Settings, get_settings
from mcqs.db import Database
from mcqs.eir.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from mcqs_simulators.app import create_simulators_app
from mcqs_simulators.config import SimulatorSettings

log = logging.getLogger(__name__)

WORKER_COMMAND = [sys.executable, "-m", "mcqs.cli", "worker", "--exit-with-parent"]


def demo_app(
    settings: Settings, simulator_settings: SimulatorSettings, *, db: Database | None = None
) -> FastAPI:
    """MCQS's own app with the simulators mounted under ``/_sim``."""
    if settings.env == "production":
        raise RuntimeError("the demo serves simulators: refused with MCQS_ENV=production")
    from mcqs.app import create_app

    app = create_app(settings, db=db)
    simulators = create_simulators_app(
        settings,
        state_dir=simulator_settings.state_dir,
        goldenpay_latency_seconds=simulator_settings.goldenpay_latency_seconds,
    )
    app.mount("/_sim", simulators, name="simulators")
    return app


class SendLoopbackNamesHome:
    """Someone who opens the demo as ``localhost`` (or ``127.0.0.1`` when the public URL
    says ``localhost``) is sent to the public URL: the app answers only that name, and
    a session made under another name would not follow the links."""

    LOOPBACK = {"localhost", "127.0.0.1", "[::1]"}

    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.public_url = public_url.rstrip("/")
        self.public_host = urlsplit(public_url).hostname or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = Headers(scope=scope).get("host", "").rsplit(":", 1)[0]
            if host != self.public_host and host in self.LOOPBACK:
                query = scope.get("query_string", b"").decode("latin-1")
                target = self.public_url + scope.get("path", "/") + (f"?{query}" if query else "")
                await RedirectResponse(target, status_code=307)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_demo_app() -> ASGIApp:
    """The factory each web process calls (``mcqs_simulators.demo:create_demo_app``):
    settings from the environment, which ``main`` prepared."""
    settings = get_settings()
    app = demo_app(settings, SimulatorSettings())
    return SendLoopbackNamesHome(app, public_url=settings.public_url)


def restart_delay(
    lived_seconds: float, previous_delay: float, *, first: float, maximum: float, quick: float
) -> float:
    """How long to wait before starting a worker that died after ``lived_seconds``.

    A worker that ran a while is restarted at once; one that dies within ``quick``
    seconds of starting is failing to start (bad settings, database down), so each such
    death waits twice as long as the last, up to ``maximum``, instead of spinning.
    """
    if lived_seconds >= quick:
        return 0.0
    return min(maximum, previous_delay * 2) if previous_delay else first


class WorkerSupervisor:
    """Keeps one worker process running beside the demo's web server.

    Without a worker nothing is registered and no SMS goes out, and a demo user would
    not know why: so a worker that dies (crash, out-of-memory kill, SIGKILL) is logged
    and started again.
    """

    def __init__(
        self,
        command: list[str],
        *,
        first_delay: float = 1.0,
        max_delay: float = 30.0,
        quick_death_seconds: float = 10.0,
        poll_seconds: float = 0.2,
    ) -> None:
        self.command = command
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.quick_death_seconds = quick_death_seconds
        self.poll_seconds = poll_seconds
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        # Held while starting or stopping the child, so stop() never misses a new one.
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="worker-supervisor", daemon=True)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process else None

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop watching, then ask the worker to finish its job and end (SIGTERM)."""
        self._stop.set()
        with self._lock:
            process = self._process
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _spawn(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._process = subprocess.Popen(self.command)
            self._started_at = time.monotonic()
            log.info("worker started (pid %s)", self._process.pid)

    def _watch(self) -> None:
        delay = 0.0
        while not self._stop.wait(self.poll_seconds):
            process = self._process
            if process is None or (returncode := process.poll()) is None:
                continue
            lived = time.monotonic() - self._started_at
            delay = restart_delay(
                lived,
                delay,
                first=self.first_delay,
                maximum=self.max_delay,
                quick=self.quick_death_seconds,
            )
            how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
            log.warning(
                "worker (pid %s) died with %s after %.1f s; starting another in %.1f s",
                process.pid,
                how,
                lived,
                delay,
            )
            if self._stop.wait(delay):
                return
            self.restarts += 1
            self._spawn()


def main() -> None:
    """The whole system on one machine: migrate, seed, supervise a worker, serve the web
    (MCQS_WEB_WORKERS processes) with the simulators."""
    if os.environ.get("MCQS_ENV") == "production":
        sys.exit("mcqs-demo refuses MCQS_ENV=production: it serves simulators and demo data")
    os.environ.setdefault("MCQS_ENV", "demo")
    os.environ.setdefault("MCQS_DATABASE_URL", "sqlite:///var/demo.sqlite3")
    os.environ.setdefault("MCQS_SIM_STATE_DIR", "var/simulators")
    get_settings.cache_clear()
    settings = load_settings()
    if settings.env == "production":  # from a .env file
        sys.exit("mcqs-demo refuses MCQS_ENV=production: it serves simulators and demo data")
    SimulatorSettings()  # a bad MCQS_SIM_ value fails here, not in every web process

    from mcqs.devices.demo import seed_demo_catalogue
    from mcqs.eir.demo import seed_demo_eir
    from mcqs.migrate import upgrade_database
    from mcqs.staff.demo import seed_demo_staff

    upgrade_database(settings.database_url)
    seed_demo_catalogue(Database(settings.database_url))
    seed_demo_eir(Database(settings.database_url))
    seed_demo_staff(Database(settings.database_url))
    configure_logging()  # after the migration, whose every step would log at INFO
    supervisor = WorkerSupervisor(WORKER_COMMAND)
    supervisor.start()
    threading.Thread(target=_welcome_when_serving, args=(settings,), daemon=True).start()
    try:
        serve_factory("mcqs_simulators.demo:create_demo_app", settings)
    finally:
        supervisor.stop()


def unused_demo_imei(session: Session) -> str | None:
    """A catalogued IMEI nobody has applied for yet in this database: not registered, not
    held, in no application, not blacklisted, so a first try with it goes through. The
    demo keeps its data across runs; the IMEI printed last time may be registered now."""
    from mcqs.applications.models import ApplicationImei
    from mcqs.devices.demo import example_imeis
    from mcqs.devices.imei import imei_with_check_digit
    from mcqs.devices.service import is_blacklisted

    used = set(session.scalars(select(ApplicationImei.imei_norm)))
    tacs = [imei[:8] for imei, _brand, _model in example_imeis(session, count=10)]
    for serial in range(1, 1000):  # the examples' serials first, then the next ones
        for tac in tacs:
            imei_norm = f"{tac}{serial:06d}"
            if imei_norm not in used and not is_blacklisted(session, imei_norm=imei_norm):
                return imei_with_check_digit(imei_norm)
    return None


def _welcome_when_serving(settings: Settings, *, within_seconds: float = 180.0) -> None:
    """Print the welcome once the site answers: printed before, its URL was refused for
    the seconds the web processes take to start (a minute on a busy machine)."""
    host = settings.host if settings.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://{host}:{settings.port}/healthz", timeout=2.0)
        except httpx.HTTPError:
            time.sleep(0.5)
        else:
            _print_welcome(settings)
            return
    import typer

    typer.secho(
        f"\n  MCQS has not answered on port {settings.port} within {within_seconds:.0f} s:"
        " see the messages above.\n",
        fg="red",
        bold=True,
    )


def _print_welcome(settings: Settings) -> None:
    import typer

    from mcqs_simulators.population.citizens import CITIZENS

    with Database(settings.database_url).transaction() as session:
        imei = unused_demo_imei(session)
    citizen = CITIZENS[0]
    url = settings.public_url
    typer.secho(f"\n  MCQS is running: {url}\n", fg="green", bold=True)
    typer.echo(f"  Try: ID card {citizen.id_card}, FİN {citizen.fin}, IMEI {imei}")
    typer.echo(f"  Test citizens:   {url}/_sim/population/")
    typer.echo("  With login:      'Portala giriş', then any test citizen and ASAN İmza")
    typer.echo("  Test card:       4228 6500 0001 8101, any future expiry, any 3-digit CVV")
    typer.echo(f"  GoldenPay cards: {url}/_sim/goldenpay/")
    typer.echo(f"  SMS outbox:      {url}/_sim/sms/")
    typer.echo(
        f"  Operator API:    client {DEMO_CLIENT_ID} / {DEMO_CLIENT_SECRET}; "
        f"simulator {url}/_sim/operator/"
    )
    typer.echo(
        f"  Staff sign-in:   {url}/staff/sign-in (accounts and TOTP secrets: README, "
        "'For counter and back-office staff'), e.g. agent.post / demo-agent-post"
    )
    typer.echo(f"  Web processes:   {settings.web_workers}; worker restarted if it dies\n")


if __name__ == "__main__":
    main()
