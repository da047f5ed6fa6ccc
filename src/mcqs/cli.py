"""The ``mcqs`` command."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError

from mcqs.config import Settings, get_settings

if TYPE_CHECKING:
    from mcqs.audit.service import RecordedActor

app = typer.Typer(help="MCQS - Mobile Device Registration System", no_args_is_help=True)


def load_settings() -> Settings:
    """The settings, or one line saying what is wrong and an exit code of 2: an operator
    reads the reason in systemd's journal, not in a stack trace."""
    try:
        return get_settings()
    except ValidationError as error:
        reasons = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            what = item["msg"].removeprefix("Value error, ")
            reasons.append(f"MCQS_{where.upper()}: {what}" if where else what)
        reasons_line = "; ".join(reasons).replace("\n", " ")
        typer.echo(f"mcqs: refused to start: {reasons_line}", err=True)
        raise typer.Exit(2) from None


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # httpx logs every request URL at INFO, and a party's URLs may carry what must not be logged.
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (MCQS_DATABASE_URL)."""
    from mcqs.migrate import upgrade_database

    upgrade_database(load_settings().database_url)
    typer.echo("database is up to date")


@app.command()
def serve() -> None:
    """Serve the web pages and APIs (MCQS_WEB_WORKERS processes)."""
    settings = load_settings()  # a bad setting fails here, once, not in every process
    configure_logging()
    serve_factory("mcqs.app:create_app", settings)


def serve_factory(factory: str, settings: Settings) -> None:
    """Serve the app that ``factory`` ("module:function") builds, in
    ``settings.web_workers`` processes. uvicorn starts each process, builds the app in it
    from the environment, and replaces a process that dies."""
    import copy
    import socket

    import uvicorn
    import uvicorn.config
    from uvicorn.supervisors import Multiprocess

    from mcqs.security.access_log import LOGGER as ACCESS_LOGGER

    # The site writes its own access log (mcqs.security.access_log: personal data masked,
    # the operators' answered checks left out) through uvicorn's access handler and format.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"][ACCESS_LOGGER] = {
        "handlers": ["access"],
        "level": "INFO",
        "propagate": False,
    }
    config = uvicorn.Config(
        factory,
        factory=True,
        access_log=False,
        log_config=log_config,
        workers=settings.web_workers,
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        # uvicorn kills a process that has not built its app within this many seconds, and
        # one that does not answer its ping: 5 by default, which a process loading the EIR
        # snapshot on a busy machine overran, so it was killed and restarted in a loop.
        timeout_worker_healthcheck=60,
    )
    if config.workers == 1:
        uvicorn.Server(config).run()
        return
    listener = config.bind_socket()
    # uvicorn binds the shared socket with protocol 0, so asyncio never sets TCP_NODELAY
    # on the connections it accepts and every keep-alive response waits ~40 ms for the
    # client's delayed ACK (uvicorn issue #3149). The same socket, named TCP:
    tcp = socket.socket(
        listener.family, listener.type, socket.IPPROTO_TCP, fileno=listener.detach()
    )
    tcp.set_inheritable(True)
    Multiprocess(config, sockets=[tcp]).run()


@app.command()
def worker(
    exit_with_parent: Annotated[
        bool, typer.Option(hidden=True, help="stop when the starting process is gone")
    ] = False,
) -> None:
    """Run background jobs: registrations, SMS, payment reconciliation, expiry."""
    from mcqs.db import Database
    from mcqs.services import Services
    from mcqs.worker import run_worker

    settings = load_settings()
    configure_logging()
    stop = threading.Event()
    # SIGTERM (a deploy, systemd stopping it): finish the job under way, hand the rest of
    # the claimed batch back, and end, rather than leave the batch leased for minutes.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    run_worker(
        Database(settings.database_url),
        Services.from_settings(settings),
        stop=stop,
        exit_with_parent=exit_with_parent,
    )


@app.command("import-tac")
def import_tac(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Osmocom CSV or GSMA file")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="osmocom | gsma (default: detected)")
    ] = None,
) -> None:
    """Import a TAC catalogue and report what was skipped and why."""
    from mcqs.db import Database
    from mcqs.devices.tac_import import ImportInterrupted, import_tac_file
    from mcqs.errors import DomainError

    # Python's default for SIGTERM ends the process where it stands, and the ledger would
    # say "running" for ever: the import is asked to stop instead, and stops between rows,
    # rolled back and on record.
    stop = threading.Event()
    db = Database(load_settings().database_url)
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        report = import_tac_file(
            db, path, fmt=fmt, started_by=os.environ.get("USER", "cli"), stop=stop
        )
    except DomainError as error:
        from mcqs.messages import operator_text  # only to say what failed (i18n: 40 ms)

        typer.secho(f"import failed: {operator_text(error)}", fg="red", err=True)
        raise typer.Exit(2) from error
    except ImportInterrupted as stopped:
        typer.secho(f"import {stopped}: nothing imported", fg="red", err=True)
        raise typer.Exit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    typer.echo(
        f"{report.fmt}: read {report.read}, imported {report.imported}, "
        f"updated {report.updated}, unchanged {report.unchanged}"
    )
    for reason, count in sorted(report.skipped.items()):
        lines = ", ".join(str(n) for n in report.examples.get(reason, []))
        typer.echo(f"  skipped {count}: {reason} (e.g. lines {lines})")


@app.command("seed-demo")
def seed_demo() -> None:
    """Load the demo device catalogue and price list (idempotent)."""
    from mcqs.db import Database
    from mcqs.devices.demo import seed_demo_catalogue

    seed_demo_catalogue(Database(load_settings().database_url))
    typer.echo("demo catalogue loaded")


# ---- mobile operators ---------------------------------------------------------------------

operators_app = typer.Typer(help="Mobile operators and their API clients", no_args_is_help=True)
lists_app = typer.Typer(help="Lists for operators' own EIRs", no_args_is_help=True)
eir_app = typer.Typer(help="The EIR: stolen phones, detection runs", no_args_is_help=True)
app.add_typer(operators_app, name="operators")
app.add_typer(lists_app, name="lists")
app.add_typer(eir_app, name="eir")


def _operator_refusal(error: Exception) -> typer.Exit:
    from mcqs.eir.errors import operator_words
    from mcqs.errors import DomainError

    text = operator_words(error) if isinstance(error, DomainError) else str(error)
    typer.secho(f"refused: {text}", fg="red", err=True)
    return typer.Exit(2)


@operators_app.command("add")
def operators_add(
    code: Annotated[str, typer.Argument(help="short lowercase name, e.g. azercell")],
    name: Annotated[str, typer.Option(help="the operator's name")],
    imsi_prefix: Annotated[
        list[str], typer.Option(help="MCC+MNC of its subscribers' IMSIs (repeatable)")
    ],
) -> None:
    """Add an operator and issue its OAuth2 client: prints the client id and secret (once)."""
    from mcqs.db import Database
    from mcqs.eir.operators import add_operator

    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            issued = add_operator(session, code=code, name=name, imsi_prefixes=imsi_prefix)
            client_id = issued.operator.client_id
    except ValueError as error:
        raise _operator_refusal(error) from error
    typer.echo(f"client_id={client_id}")
    typer.echo(f"client_secret={issued.client_secret}")
    typer.echo("The secret is shown only now: keep it.")


@app.command("import-network")
def import_network(
    operator: Annotated[str, typer.Argument(help="the operator's code")],
    path: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="date,imei,imsi,msisdn,rat CSV or zip"),
    ],
) -> None:
    """Import a file of network activity (all or nothing) and report what was rejected."""
    from mcqs.db import Database
    from mcqs.eir.network_import import import_network_file
    from mcqs.errors import DomainError
    from mcqs.wiring import connect

    connect()
    settings = load_settings()
    db = Database(settings.database_url)
    try:
        report = import_network_file(
            db,
            operator_code=operator,
            content=path.read_bytes(),
            filename=path.name,
            settings=settings,
            started_by=os.environ.get("USER", "cli"),
        )
    except DomainError as error:
        raise _operator_refusal(error) from error
    typer.echo(report.summary())
    for reason, count in sorted(report.rejected.items()):
        lines = ", ".join(str(n) for n in report.examples.get(reason, []))
        typer.echo(f"  rejected {count}: {reason} (e.g. lines {lines})")


@lists_app.command("generate")
def lists_generate(
    operator: Annotated[str, typer.Argument(help="the operator's code")],
    out: Annotated[Path, typer.Option(help="directory for the CSV files")] = Path("."),
    since: Annotated[
        int | None, typer.Option(help="also write the deltas from this run (default: previous)")
    ] = None,
) -> None:
    """A new numbered run of the operator's lists, written as CSV (full, and delta)."""
    from mcqs.db import Database, utcnow
    from mcqs.eir.lists import delta_csv, full_csv, generate_lists, get_run, latest_run
    from mcqs.eir.models import ListKind
    from mcqs.eir.operators import operator_by_code
    from mcqs.errors import DomainError

    db = Database(load_settings().database_url)
    out.mkdir(parents=True, exist_ok=True)
    try:
        with db.transaction() as session:
            found = operator_by_code(session, operator)
            if found is None:
                raise ValueError(f"no operator {operator}")
            previous = latest_run(session, operator=found)
            base = since if since is not None else (previous.id if previous else None)
            if base is not None:
                get_run(session, operator=found, run_id=base)
            run = generate_lists(session, operator=found, now=utcnow())
            for kind in ListKind:
                name = f"{operator}-{run.id:06d}-{kind.value}"
                (out / f"{name}-full.csv").write_text(full_csv(session, run_id=run.id, kind=kind))
                if base is not None:
                    delta = delta_csv(session, since_run_id=base, run_id=run.id, kind=kind)
                    (out / f"{name}-delta-from-{base:06d}.csv").write_text(delta)
            run_id = run.id
    except (ValueError, DomainError) as error:
        raise _operator_refusal(error) from error
    typer.echo(f"run {run_id}: lists written to {out}")


@eir_app.command("report-stolen")
def report_stolen_command(
    imei: Annotated[str, typer.Argument(help="the stolen phone's IMEI")],
) -> None:
    """Blacklist a stolen phone's IMEI for every network (and refuse its registration)."""
    from mcqs.db import Database, utcnow
    from mcqs.devices.imei import parse_imei
    from mcqs.eir.service import report_stolen
    from mcqs.errors import DomainError

    db = Database(load_settings().database_url)
    try:
        parsed = parse_imei(imei)
    except DomainError as error:
        raise _operator_refusal(error) from error
    with db.transaction() as session:
        report_stolen(session, imei_norm=parsed.imei_norm, source="cli", now=utcnow())
    typer.echo(f"{parsed.imei}: BLACKLISTED (stolen)")


@eir_app.command("detect")
def detect(
    force_over_safety_share: Annotated[
        bool,
        typer.Option(
            "--force-over-safety-share",
            help="blacklist even more than MCQS_EIR_MAX_BLACKLIST_SHARE of seen IMEIs",
        ),
    ] = False,
) -> None:
    """A detection run: grace periods that ended are blacklisted (SMS), clones paired."""
    from mcqs.db import Database
    from mcqs.eir.detection import run_detection
    from mcqs.errors import DomainError
    from mcqs.wiring import connect

    connect()
    settings = load_settings()
    try:
        report = run_detection(
            Database(settings.database_url),
            settings=settings,
            started_by=os.environ.get("USER", "cli"),
            force_over_safety_share=force_over_safety_share,
        )
    except DomainError as error:
        raise _operator_refusal(error) from error
    typer.echo(
        f"run {report.run_id}: {report.grace_expired} grace periods ended, "
        f"{report.clones} clones ({report.pairings} pairings), of {report.seen} seen IMEIs"
    )


# ---- registration points, staff accounts, the audit log -----------------------------------

points_app = typer.Typer(
    help="Registration points (post offices, operator shops)", no_args_is_help=True
)
staff_app = typer.Typer(
    help="Staff accounts of the points and the back office", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit log of staff actions", no_args_is_help=True)
app.add_typer(points_app, name="points")
app.add_typer(staff_app, name="staff")
app.add_typer(audit_app, name="audit")


def _cli_actor() -> RecordedActor:
    """Who the audit log names for a command: the operating-system user at the console."""
    import getpass

    from mcqs.audit.service import RecordedActor

    try:  # the login name, from the environment or, failing that, the password database
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}"
    return RecordedActor(None, f"cli:{user}"[:64], "cli", None, "cli")


def _staff_refusal(error: Exception) -> typer.Exit:
    from mcqs import messages
    from mcqs.errors import DomainError

    text = messages.operator_text(error) if isinstance(error, DomainError) else str(error)
    typer.secho(f"refused: {text}", fg="red", err=True)
    return typer.Exit(2)


@points_app.command("add")
def points_add(
    code: Annotated[str, typer.Argument(help="short code, e.g. AZPOST-BAKU-01")],
    name: Annotated[str, typer.Option(help="the point's name")],
    address: Annotated[str, typer.Option(help="its address")],
    kind: Annotated[str, typer.Option(help="post_office or operator_shop")],
    operator: Annotated[
        str | None, typer.Option(help="the operator whose shop it is (operator_shop only)")
    ] = None,
) -> None:
    """Add a registration point."""
    from mcqs.db import Database, utcnow
    from mcqs.errors import DomainError
    from mcqs.staff.models import PointKind
    from mcqs.staff.service import add_point

    try:
        point_kind = PointKind(kind)
    except ValueError:
        typer.secho("refused: --kind is post_office or operator_shop", fg="red", err=True)
        raise typer.Exit(2) from None
    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            point = add_point(
                session,
                by=_cli_actor(),
                code=code,
                name=name,
                address=address,
                kind=point_kind,
                operator_name=operator,
                now=utcnow(),
            )
            added = point.code
    except DomainError as error:
        raise _staff_refusal(error) from error
    typer.echo(f"registration point {added} added")


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Argument(help="the sign-in name, e.g. aliyev.r")],
    role: Annotated[
        str, typer.Option(help="counter_agent, point_supervisor, back_office or admin")
    ],
    point: Annotated[
        str | None, typer.Option(help="the point's code (counter agents and supervisors)")
    ] = None,
) -> None:
    """Add a staff account. The password is MCQS_STAFF_PASSWORD if set, otherwise one is
    made and printed once (hand it over; it is never logged). The first sign-in enrols an
    authenticator app."""
    from mcqs.db import Database, utcnow
    from mcqs.errors import DomainError
    from mcqs.staff.models import StaffRole
    from mcqs.staff.passwords import new_password
    from mcqs.staff.service import add_account

    try:
        staff_role = StaffRole(role)
    except ValueError:
        choices = ", ".join(r.value for r in StaffRole)
        typer.secho(f"refused: --role is one of {choices}", fg="red", err=True)
        raise typer.Exit(2) from None
    given = os.environ.get("MCQS_STAFF_PASSWORD")
    password = given or new_password()
    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            account = add_account(
                session,
                by=_cli_actor(),
                username=username,
                password=password,
                role=staff_role,
                point_code=point,
                now=utcnow(),
                must_change_password=True,
            )
            added = account.username
    except DomainError as error:
        raise _staff_refusal(error) from error
    typer.echo(f"staff account {added} ({staff_role.value}) added")
    if not given:
        typer.echo(f"password={password}")
        typer.echo("The password is shown only now: hand it to its owner.")
    typer.echo("The first sign-in asks for a password of their own.")


@staff_app.command("unlock")
def staff_unlock(username: Annotated[str, typer.Argument(help="the account's username")]) -> None:
    """Let an account locked after 5 wrong passwords sign in again."""
    from mcqs.db import Database, utcnow
    from mcqs.errors import DomainError
    from mcqs.staff.service import unlock_account

    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            unlock_account(session, username=username, by=_cli_actor(), now=utcnow())
    except DomainError as error:
        raise _staff_refusal(error) from error
    typer.echo(f"staff account {username} unlocked")


@staff_app.command("reset-code")
def staff_reset_code(
    username: Annotated[str, typer.Argument(help="the account's username")],
) -> None:
    """A lost or new phone: the next sign-in enrols an authenticator app again."""
    from mcqs.db import Database, utcnow
    from mcqs.errors import DomainError
    from mcqs.staff.service import reset_second_factor

    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            reset_second_factor(session, username=username, by=_cli_actor(), now=utcnow())
    except DomainError as error:
        raise _staff_refusal(error) from error
    typer.echo(f"staff account {username}: the next sign-in enrols an authenticator app")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: OK, or the first broken entry (exit code 1)."""
    from mcqs.audit.service import verify_chain
    from mcqs.db import Database

    db = Database(load_settings().database_url)
    with db.reading() as session:
        broken, count = verify_chain(session), _audit_count(session)
    if broken is None:
        typer.echo(f"OK: {count} audit entries, chain intact")
        return
    typer.secho(f"BROKEN: {broken.describe()}", fg="red", err=True)
    raise typer.Exit(1)


@audit_app.command("restore-head")
def audit_restore_head() -> None:
    """After `mcqs audit verify` said head_missing and you have looked at why: make the
    chain head again from the last entry there is (recorded as audit.head_restored).
    Staff actions are refused until then."""
    from mcqs.audit.service import restore_head
    from mcqs.db import Database, utcnow

    db = Database(load_settings().database_url)
    try:
        with db.transaction() as session:
            sequence = restore_head(session, _cli_actor(), now=utcnow())
    except ValueError as error:
        typer.secho(str(error), fg="red", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"audit chain head restored at entry {sequence}; recorded as the next entry")


def _audit_count(session: object) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from mcqs.audit.models import AuditEntry

    assert isinstance(session, Session)
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


if __name__ == "__main__":
    app()
