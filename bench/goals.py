"""Benchmark: issue 10's goals, each figure next to its baseline from the same run.

MCQS runs as production runs it (separate processes on 127.0.0.1, PostgreSQL, the web
served by ``mcqs.cli.serve_factory`` with the simulators mounted, as in bench/serving.py),
and this script measures:

1. the receipt PDF request against the HTML receipt request (the PDF made once per
   receipt, then served as kept), and what making it the first time costs;
2. the check POST against a request doing one primary-key select, served the same way,
   beside the check's floor (``bench/check_floor_app.py``: the statements of its rules
   alone, hand-written, around the registry's answer);
3. the check's p99 with 200 citizens pausing about 10 s between steps;
4. whole flows/s at 32 citizens with 2 web processes and with 1, beside the flows/s the
   machine's cores could give at the CPU a flow cost the whole machine;
5. the web processes' memory after a soak of whole flows with PDF receipts, against the
   same processes fresh;
6. worker registrations/s (1 and 2 ``mcqs worker`` processes) against a bare
   one-job-per-transaction loop on the same database;
7. ``mcqs import-tac`` of 1 million rows against a bare ``COPY`` of the same file, as a
   command (what an operator runs) and in this process (the import's own work, timed as
   the ``COPY`` is), beside the command's start-up and the import in-process added.

    .venv/bin/python bench/goals.py [--postgres URL] [--soak-seconds 600]
    .venv/bin/python bench/goals.py --only worker [--runs 3] [--registrations 4000]
    .venv/bin/python bench/goals.py --only check [--runs 3] [--paused 200] [--parties apart]
    .venv/bin/python bench/goals.py --only flows [--runs 3] [--level-seconds 6]
    .venv/bin/python bench/goals.py --only tac [--runs 3] [--tac-rows 1000000]

Writes its section of docs/benchmarks.md (``--only worker``: the worker's figures alone,
a few minutes, in a section of their own, median of ``--runs`` rounds each holding the
bare loop, 1 worker and 2; ``--only check``: the check's figures alone, in a section of
their own, median of ``--runs`` rounds each holding the bare select, the checks, the
check's floor and the paused citizens, the simulated parties served in a process of their
own as production has them on other machines (``--parties mounted``: in the web processes,
as measured before); ``--only flows``: whole flows/s at 1 and 32 citizens with 2 web
processes and at 32 with 1, with the CPU each part of the machine used; ``--only tac``: the
TAC import alone, median of ``--runs`` rounds each holding a bare ``COPY`` of the file, its
import into the demo catalogue as a command and in this process, in turn first, its import
again and the command on a file of one row). ``--database-prefix`` names the database the
script makes (and drops). Every load loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from serving import (
    CARD,
    FIXED_CODE,
    SERVE,
    TLS,
    Citizens,
    checkpoint,
    csrf_token_of,
    environment,
    expect,
    failures_text,
    flows_level,
    mcqs_cli,
    measured,
    median,
    open_payment,
    parties_apart,
    process,
    quantile_ms,
    spread,
    wait_ready,
)
from sqlalchemy import func, select, text, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report import machine, write_section  # noqa: E402

from mcqs.applications.models import Application  # noqa: E402
from mcqs.db import Database, utcnow  # noqa: E402
from mcqs.devices.demo import example_imeis  # noqa: E402
from mcqs.devices.imei import imei_with_check_digit  # noqa: E402
from mcqs.devices.tac_import import import_tac_file  # noqa: E402
from mcqs.jobs.models import Job, WorkerHeartbeat  # noqa: E402

from conftest import create_postgres_database, drop_postgres_database, free_port  # noqa: E402, I001
from factories import create_paid_application  # noqa: E402

HEADING = "Issue 10's goals (`bench/goals.py`)"
WORKER_HEADING = "Issue 10's worker (`bench/goals.py --only worker`)"
CHECK_HEADING = "Issue 10's check (`bench/goals.py --only check`)"
FLOWS_HEADING = "Issue 10's whole flows (`bench/goals.py --only flows`)"
TAC_HEADING = "Issue 10's TAC import (`bench/goals.py --only tac`)"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
TODAY_FLOWS_PER_SECOND = 3.5  # issue 10's "today": whole flows/s at 32 citizens


# ---- processes ---------------------------------------------------------------------------


def serving_pids(web_pid: int) -> list[int]:
    """The processes that serve requests: uvicorn's children, or the process itself."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == web_pid:
                children.append(int(entry.name))
    return children or [web_pid]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class System:
    base: str
    env: dict[str, str]
    folder: Path
    web_pid: int
    worker_pid: int | None = None


@contextmanager
def mcqs(
    database_url: str,
    folder: Path,
    *,
    web_workers: int,
    worker: bool = True,
    parties_mounted: bool = True,
) -> Iterator[System]:
    """MCQS's web processes (and a worker). ``parties_mounted``: the simulators mounted in
    the web processes (``mcqs-demo``'s way, so their CPU is spent there); otherwise served
    in a process of their own and the web serves production's app (``mcqs serve``'s)."""
    port = free_port()
    env = environment(database_url, port, str(folder / "simulators"))
    env["MCQS_WEB_WORKERS"] = str(web_workers)
    with ExitStack() as stack:
        factory = "mcqs_simulators.demo:create_demo_app"
        if not parties_mounted:
            env.update(stack.enter_context(parties_apart(env, folder)))
            factory = "mcqs.app:create_app"
        serve = SERVE.format(factory=factory)
        web_pid = stack.enter_context(process("web", [sys.executable, "-c", serve], env, folder))
        worker_pid = None
        if worker:
            command = [sys.executable, "-m", "mcqs.cli", "worker", "--exit-with-parent"]
            worker_pid = stack.enter_context(process("worker", command, env, folder))
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/healthz" if worker else f"{base}/livez", folder, "web")
        yield System(base, env, folder, web_pid, worker_pid)


@contextmanager
def yardstick(
    name: str, factory: str, ready: str, env: dict[str, str], folder: Path, *, web_workers: int
) -> Iterator[str]:
    """One of the yardsticks in ``bench/`` (``factory``, an import string there) served as
    MCQS is; yields its base URL once ``ready`` (a path) answers 200."""
    port = free_port()
    env = {**env, "MCQS_PORT": str(port), "MCQS_WEB_WORKERS": str(web_workers)}
    env["PYTHONPATH"] = str(ROOT / "bench")
    serve = SERVE.format(factory=factory)
    with process(name, [sys.executable, "-c", serve], env, folder):
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}{ready}", folder, name)
        yield base


@contextmanager
def bare(database_url: str, folder: Path, *, web_workers: int) -> Iterator[str]:
    """``bench/bare_app.py``: one primary-key select a request."""
    env = environment(database_url, 0, str(folder / "simulators"))
    with yardstick(
        "bare", "bare_app:create_bare_app", "/item", env, folder, web_workers=web_workers
    ) as base:
        yield base


@contextmanager
def check_floor(system: System, *, web_workers: int) -> Iterator[str]:
    """``bench/check_floor_app.py``: the statements the check's rules require, sent by
    psycopg alone around a question to the same population registry as ``system``'s."""
    env = dict(system.env)
    env.setdefault("MCQS_POPULATION_BASE_URL", f"{system.base}/_sim/population")
    factory = "check_floor_app:create_check_floor_app"
    with yardstick(
        "floor", factory, "/openapi.json", env, system.folder, web_workers=web_workers
    ) as base:
        yield base


# ---- a citizen with a receipt --------------------------------------------------------------


async def paid(base: str, citizens: Citizens) -> tuple[httpx.AsyncClient, str]:
    """A browser that went through a whole flow and owns its receipt: (browser, receipt URL)."""
    citizen, imei, address = citizens.next()
    browser = httpx.AsyncClient(
        base_url=base, timeout=60, headers={"X-Forwarded-For": address}, verify=TLS
    )
    pay_page = await open_payment(browser, citizen, imei)
    paid_ = expect(await browser.post(pay_page, data=CARD), 303, "pay at GoldenPay")
    back = expect(await browser.get(paid_.headers["location"]), 303, "return")
    return browser, back.headers["location"]


@dataclass
class Receipts:
    first_pdf: list[float]  # seconds of each receipt's first PDF request (made then)
    html_rate: float  # HTML receipt requests/s
    pdf_rate: float  # PDF receipt requests/s (the kept PDF)
    html_times: list[float]
    pdf_times: list[float]


async def receipts_figures(base: str, citizens: Citizens, seconds: float) -> Receipts:
    owners = [await paid(base, citizens) for _ in range(12)]
    first = []
    for browser, url in owners:
        start = time.perf_counter()
        pdf = expect(await browser.get(f"{url}/pdf"), 200, "PDF receipt")
        first.append(time.perf_counter() - start)
        if not pdf.content.startswith(b"%PDF"):
            raise RuntimeError("the PDF receipt is not a PDF")

    async def rate(suffix: str) -> tuple[float, list[float]]:
        times: list[float] = []
        deadline = time.monotonic() + seconds

        async def loop(browser: httpx.AsyncClient, url: str) -> None:
            while time.monotonic() < deadline and len(times) < 100_000:
                begin = time.perf_counter()
                expect(await browser.get(url + suffix), 200, f"receipt{suffix}")
                times.append(time.perf_counter() - begin)

        start = time.monotonic()
        await asyncio.gather(*(loop(b, u) for b, u in owners[:4]))
        return len(times) / (time.monotonic() - start), times

    html_rate, html_times = await rate("")
    pdf_rate, pdf_times = await rate("/pdf")
    for browser, _url in owners:
        await browser.aclose()
    return Receipts(first, html_rate, pdf_rate, html_times, pdf_times)


# ---- the check ---------------------------------------------------------------------------


async def check_times(base: str, citizens: Citizens, count: int) -> list[float]:
    """One citizen after another: GET the form, then the timed POST /register."""
    times = []
    for _ in range(count):
        citizen, imei, address = citizens.next()
        headers = {"X-Forwarded-For": address}
        async with httpx.AsyncClient(
            base_url=base, timeout=30, headers=headers, verify=TLS
        ) as browser:
            page = expect(await browser.get("/register"), 200, "check form")
            form = check_form(page.text, citizen, imei)
            start = time.perf_counter()
            expect(await browser.post("/register", data=form), 303, "check")
            times.append(time.perf_counter() - start)
    return times


def check_form(html: str, citizen: Any, imei: str) -> dict[str, str]:
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', html)
    if not code_id:
        raise RuntimeError("the check form carries no security code id")
    return {
        "id_card": citizen.id_card,
        "fin": citizen.fin,
        "imei_1": imei,
        "security_code": FIXED_CODE,
        "security_code_id": code_id.group(1),
        "csrf_token": csrf_token_of(html),
    }


async def floor_times(base: str, citizens: Citizens, count: int) -> list[float]:
    """``bench/check_floor_app.py``'s check, one after another on one connection."""
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30, verify=TLS) as client:
        for _ in range(count):
            citizen, imei, address = citizens.next()
            code_id = expect(await client.get("/code"), 200, "the floor's security code").text
            form = {"fin": citizen.fin, "imei": imei, "client": address, "code_id": code_id}
            start = time.perf_counter()
            expect(await client.post("/check", data=form), 303, "the check's floor")
            times.append(time.perf_counter() - start)
    return times


async def bare_times(base: str, count: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30, verify=TLS) as client:
        for _ in range(count):
            start = time.perf_counter()
            expect(await client.get("/item"), 200, "bare select")
            times.append(time.perf_counter() - start)
    return times


@dataclass
class Paused:
    checks: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    flows: int = 0
    errors: Counter[str] = field(default_factory=Counter)


async def paused_citizens(
    base: str, citizens: Citizens, count: int, seconds: float, pause: float
) -> Paused:
    """``count`` citizens, each pausing ``pause`` s (±20%) between the steps of whole flows
    (reading the page, typing), for ``seconds``; they start spread over the first pause."""
    found = Paused()
    deadline = time.monotonic() + seconds

    async def think() -> None:
        await asyncio.sleep(pause * random.uniform(0.8, 1.2))

    async def timed(what: str, call: Any, status: int) -> httpx.Response:
        start = time.perf_counter()
        answer = expect(await call, status, what)
        (found.checks if what == "check" else found.steps).append(time.perf_counter() - start)
        return answer

    async def citizen_loop() -> None:
        await asyncio.sleep(random.uniform(0, pause))
        while time.monotonic() < deadline:
            citizen, imei, address = citizens.next()
            headers = {"X-Forwarded-For": address}
            try:
                async with httpx.AsyncClient(
                    base_url=base, timeout=60, headers=headers, verify=TLS
                ) as b:
                    page = await timed("check form", b.get("/register"), 200)
                    await think()
                    form = check_form(page.text, citizen, imei)
                    await timed("check", b.post("/register", data=form), 303)
                    await think()
                    application = await timed("application form", b.get("/application"), 200)
                    await think()
                    code = re.search(r'name="code" value="([0-9A-Z]+)"', application.text)
                    pay = {
                        "code": code.group(1) if code else "",
                        "phone": "0501234567",
                        "card_type": "v",
                        "csrf_token": csrf_token_of(application.text),
                    }
                    confirmed = await timed("pay", b.post("/application", data=pay), 303)
                    pay_page = confirmed.headers["location"]
                    await think()
                    done = await timed("card", b.post(pay_page, data=CARD), 303)
                    back = await timed("return", b.get(done.headers["location"]), 303)
                    await timed("receipt", b.get(back.headers["location"]), 200)
                    found.flows += 1
                    await think()
            except (RuntimeError, httpx.HTTPError, KeyError) as error:
                found.errors[str(error)[:100]] += 1

    await asyncio.gather(*(citizen_loop() for _ in range(count)))
    return found


# ---- memory under receipt load -------------------------------------------------------------


async def receipt_soak(
    base: str, citizens: Citizens, concurrency: int, seconds: float, pids: list[int]
) -> tuple[int, float, list[float]]:
    """Whole flows, each ending with the PDF receipt asked twice, for ``seconds``; returns
    (flows, highest RSS seen in MB summed over ``pids``, RSS samples)."""
    deadline = time.monotonic() + seconds
    flows = itertools.count()
    samples: list[float] = []

    async def loop() -> None:
        while time.monotonic() < deadline:
            browser, url = await paid(base, citizens)
            try:
                expect(await browser.get(url), 200, "receipt")
                for _ in range(2):
                    expect(await browser.get(f"{url}/pdf"), 200, "PDF receipt")
            finally:
                await browser.aclose()
            next(flows)

    async def sample() -> None:
        while time.monotonic() < deadline:
            samples.append(sum(rss_mb(pid) for pid in pids))
            await asyncio.sleep(2)

    await asyncio.gather(sample(), *(loop() for _ in range(concurrency)))
    return next(flows), max(samples), samples


# ---- the worker --------------------------------------------------------------------------


def fill_queue(database_url: str, tacs: list[str], count: int, start: int) -> list[int]:
    """``count`` paid applications with their registration jobs queued, distinct IMEIs;
    the jobs held back (due in a day) until :func:`drain` releases them. Returns the
    applications' ids."""
    db = Database(database_url)
    ids: list[int] = []
    try:
        for first in range(0, count, 200):
            with db.transaction() as session:
                for n in range(start + first, start + min(count, first + 200)):
                    imei = imei_with_check_digit(f"{tacs[n % len(tacs)]}{n:06d}")
                    app = create_paid_application(session, imeis=(imei,), fin=f"Q{n % 10**6:06d}")
                    ids.append(app.id)
        with db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.status == "queued")
                .values(run_after=func.now() + dt.timedelta(days=1))
            )
    finally:
        db.dispose()
    return ids


@dataclass
class Drained:
    applications: int
    decided_seconds: float  # until every application was registered or rejected
    drained_seconds: float  # until no job was left (the SMS sent too)
    worker_cpu: float  # CPU seconds of the worker processes until every one was decided
    web_cpu: float  # the same for the web process (the simulators, the EIR's snapshot)


DRAIN_POLL_SECONDS = 0.01


def drain(system: System, database_url: str, workers: int, ids: list[int]) -> Drained:
    """Start ``workers`` ``mcqs worker`` processes, wait until each has beaten once (so
    start-up is not counted), then make the held-back jobs due and time how long until
    every application is decided, and until no job is left (each registration and the SMS
    it queues, sent to the simulator over HTTP)."""
    db = Database(database_url)
    decided = (
        select(func.count())
        .select_from(Application)
        .where(Application.id.in_(ids), Application.status.in_(["registered", "rejected"]))
    )
    # A batch's registration jobs are marked done in the transaction that decides them:
    # none left unfinished is every application decided. Each look is one EXISTS on a
    # connection of its own in autocommit (no ping, BEGIN or COMMIT): a hundred looks a
    # second must not take the CPU the workers are measured on.
    any_job = "SELECT EXISTS (SELECT 1 FROM jobs WHERE status IN ('queued', 'running'){})"
    undecided = text(any_job.format(" AND task = 'registrations.register_application'"))
    unfinished = text(any_job.format(""))
    # Both polls at 0.01 s: the worker decides 1000 applications in a few tenths of a
    # second, so a 0.05 s poll (the worker's wake-up, this loop's look) was up to a third
    # of what it measured, and more of the two workers' shorter time than of one's.
    env = {**system.env, "MCQS_WORKER_POLL_SECONDS": str(DRAIN_POLL_SECONDS)}
    try:
        with ExitStack() as stack:
            command = [sys.executable, "-m", "mcqs.cli", "worker", "--exit-with-parent"]
            launched = utcnow()
            pids = [
                stack.enter_context(process(f"worker-{n}", command, env, system.folder))
                for n in range(workers)
            ]
            ready = (
                select(func.count())
                .select_from(WorkerHeartbeat)
                .where(WorkerHeartbeat.started_at >= launched)
            )
            deadline = time.monotonic() + 120
            while True:
                with db.transaction() as session:
                    if (session.scalar(ready) or 0) >= len(pids):
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start in 120 s")
                time.sleep(0.05)
            time.sleep(2.0)  # past their first sweep
            with db.transaction() as session:
                session.execute(
                    update(Job).where(Job.status == "queued").values(run_after=func.now())
                )
            look = stack.enter_context(
                db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            )
            start = time.monotonic()
            web = serving_pids(system.web_pid)
            cpu_before = cpu_seconds(pids), cpu_seconds(web)
            decided_seconds = worker_cpu = web_cpu = 0.0
            deadline = start + 600
            while time.monotonic() < deadline:
                if not decided_seconds and not look.scalar(undecided):
                    decided_seconds = time.monotonic() - start
                    worker_cpu = cpu_seconds(pids) - cpu_before[0]
                    web_cpu = cpu_seconds(web) - cpu_before[1]
                if decided_seconds and not look.scalar(unfinished):
                    drained = time.monotonic() - start
                    with db.transaction() as session:
                        assert session.scalar(decided) == len(ids), "all decided"
                    return Drained(len(ids), decided_seconds, drained, worker_cpu, web_cpu)
                time.sleep(DRAIN_POLL_SECONDS)
            raise RuntimeError("the queue was not drained in 600 s")
    finally:
        db.dispose()


def bare_job_loop(database_url: str, count: int) -> float:
    """Jobs/s of the yardstick: a table of ``count`` queued jobs, each claimed (``FOR UPDATE
    SKIP LOCKED``) and marked done in a transaction of its own, one after another."""
    db = Database(database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bare_jobs"))
            conn.execute(text("CREATE TABLE bare_jobs (id serial PRIMARY KEY, status text)"))
            conn.execute(text("CREATE INDEX ON bare_jobs (status, id)"))
            conn.execute(
                text("INSERT INTO bare_jobs (status) SELECT 'queued' FROM generate_series(1, :n)"),
                {"n": count},
            )
        claim = text(
            "SELECT id FROM bare_jobs WHERE status = 'queued' ORDER BY id LIMIT 1 "
            "FOR UPDATE SKIP LOCKED"
        )
        done = text("UPDATE bare_jobs SET status = 'done' WHERE id = :id")
        start = time.monotonic()
        for _ in range(count):
            with db.engine.begin() as conn:
                job_id = conn.execute(claim).scalar_one()
                conn.execute(done, {"id": job_id})
        return count / (time.monotonic() - start)
    finally:
        db.dispose()


def _spin(_: int) -> float:
    started = time.process_time()
    total = 0
    for n in range(3 * 10**6):
        total += n
    return time.process_time() - started


def cores_to_give() -> float:
    """How many cores the machine gave two CPU-bound processes just now: the time of a
    loop alone against two copies at once, times two (2.0 on an idle 2-core machine). Two
    workers can be no more than this many times faster than one."""
    import multiprocessing

    started = time.monotonic()
    _spin(0)
    alone = time.monotonic() - started
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [0, 0])  # the pool started and warm
        started = time.monotonic()
        pool.map(_spin, [0, 1])
        both = time.monotonic() - started
    return 2 * alone / both


def in_rounds(runs: int, one_round: Callable[[int, dict[str, Any]], str]) -> list[dict[str, Any]]:
    """``runs`` rounds of ``one_round(n, found)``, which fills ``found`` with its figures and
    says what it found (printed as each round ends, with the load average at the round's start,
    ``load``, and end, ``load_after``, both kept in ``found``)."""
    rounds: list[dict[str, Any]] = []
    for n in range(runs):
        found: dict[str, Any] = {"load": os.getloadavg()[0]}
        said = one_round(n, found)
        found["load_after"] = os.getloadavg()[0]
        rounds.append(found)
        print(
            f"  round {n + 1}: {said} (load {found['load']:.1f}–{found['load_after']:.1f})",
            flush=True,
        )
    return rounds


def worker_figures(
    database_url: str, folder: Path, tacs: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """``args.runs`` rounds (at most 4), each: the bare loop, then 1 worker, then 2 workers on a new
    queue of ``args.registrations`` paid applications each (all on the same database, so
    every ratio compares figures of the same minute)."""
    with mcqs(database_url, folder, web_workers=1, worker=False) as system:

        def one_round(run_: int, found: dict[str, Any]) -> str:
            found["bare"] = bare_job_loop(database_url, args.registrations * 2)
            for workers in (1, 2):
                # Serial numbers of their own: 200000 up (the citizens' are 100000 up).
                start = (run_ * 2 + workers + 1) * 10**5
                ids = fill_queue(database_url, tacs, args.registrations, start=start)
                if workers == 2:
                    found["cores"] = cores_to_give()
                found[workers] = drain(system, database_url, workers, ids)
            return (
                f"bare {found['bare']:.0f} jobs/s, "
                f"1 worker {registrations_per_second(found[1]):.0f}/s, "
                f"2 workers {registrations_per_second(found[2]):.0f}/s "
                f"(cores to give: {found['cores']:.2f})"
            )

        return {"rounds": in_rounds(args.runs, one_round)}


def check_figures(
    database_url: str, folder: Path, citizens: Citizens, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``args.runs`` rounds, each: the bare select served alone, then MCQS (2 web processes,
    one ``mcqs worker``) for the timed checks and the paused citizens, so that each round's
    ratio compares figures of the same few minutes."""

    def one_round(_run: int, found: dict[str, Any]) -> str:
        with bare(database_url, folder, web_workers=2) as base:
            asyncio.run(bare_times(base, 50))
            found["bare"] = asyncio.run(bare_times(base, args.checks))
        mounted = args.parties == "mounted"
        with mcqs(database_url, folder, web_workers=2, parties_mounted=mounted) as system:
            asyncio.run(flows_level(system.base, citizens, 4, 3.0))
            asyncio.run(check_times(system.base, citizens, 20))
            found["check"] = asyncio.run(check_times(system.base, citizens, args.checks))
            with check_floor(system, web_workers=2) as floor:
                asyncio.run(floor_times(floor, citizens, 50))
                found["floor"] = asyncio.run(floor_times(floor, citizens, args.checks))
            found["paused"] = asyncio.run(
                paused_citizens(system.base, citizens, args.paused, args.paused_seconds, args.pause)
            )
        return (
            f"parties {args.parties}: check p50 {quantile_ms(found['check'], 0.5):.1f} ms, "
            f"floor p50 {quantile_ms(found['floor'], 0.5):.1f} ms, "
            f"bare p50 {quantile_ms(found['bare'], 0.5):.1f} ms, paused check p99 "
            f"{quantile_ms(found['paused'].checks, 0.99):.0f} ms"
        )

    return in_rounds(args.runs, one_round)


def check_rows(rounds: list[dict[str, Any]], args: argparse.Namespace) -> list[tuple[str, ...]]:
    check = [quantile_ms(r["check"], 0.5) for r in rounds]
    bare_ = [quantile_ms(r["bare"], 0.5) for r in rounds]
    ratio = [c / b for c, b in zip(check, bare_, strict=True)]
    floor = [quantile_ms(r["floor"], 0.5) for r in rounds]
    floor_ratio = [f / b for f, b in zip(floor, bare_, strict=True)]
    p99 = [quantile_ms(r["paused"].checks, 0.99) for r in rounds]
    p50 = [quantile_ms(r["paused"].checks, 0.5) for r in rounds]
    return [
        (
            "check POST, p50 ms (one client)",
            f"one PK select served the same way: {spread(bare_, '{:.1f}')} ms",
            f"{spread(check, '{:.1f}')} ms",
            spread(ratio, "{:.1f}×"),
            "≤ 3×",
            verdict(median(ratio) <= 3),
        ),
        (
            "the check's floor: the 9 statements and 2 commits of its rules, hand-written "
            "and sent by psycopg alone, around the registry's answer "
            "(`bench/check_floor_app.py`), p50 ms",
            f"the same PK select: {spread(bare_, '{:.1f}')} ms",
            f"{spread(floor, '{:.1f}')} ms",
            spread(floor_ratio, "{:.1f}×"),
            "—",
            "—",
        ),
        (
            f"check p99, {args.paused} citizens pausing ~{args.pause:g} s",
            "—",
            f"{spread(p99, '{:.0f}')} ms (p50 {spread(p50, '{:.0f}')} ms)",
            "—",
            "≤ 300 ms",
            verdict(median(p99) <= 300),
        ),
    ]


def check_method(rounds: list[dict[str, Any]], args: argparse.Namespace) -> str:
    steps = [quantile_ms(r["paused"].steps, 0.99) for r in rounds]
    errors: Counter[str] = Counter()
    for r in rounds:
        errors.update(r["paused"].errors)
    counts = ", ".join(
        f"{len(r['paused'].checks)} checks, {r['paused'].flows} flows" for r in rounds
    )
    served = (
        "MCQS (2 web processes serving production's app, `mcqs.app:create_app`; the "
        "simulated parties — population registry, GoldenPay, SMS centre, e-gov — in a "
        "process of their own, as the real ones are on other machines, so their CPU is not "
        "counted in the web's; one `mcqs worker`)"
        if args.parties == "apart"
        else "MCQS (2 web processes with the simulators mounted, `mcqs-demo`'s way: the "
        "population registry's answers are served by the same processes as the check; one "
        "`mcqs worker`)"
    )
    return f"""- **Check**: {rounds_text(rounds)} Each round: the bare app
  (`bench/bare_app.py`, one primary-key select) served alone as MCQS is (2 processes,
  `serve_factory`), {args.checks} GETs one after another on one connection; then {served},
  warmed by a few whole flows: {args.checks} checks one after another, each a new browser
  (GET the form, then the timed POST); then the check's floor (`bench/check_floor_app.py`,
  served as the bare app is, asking the same registry): the database and registry work the
  check's rules require and nothing else, its statements written by hand and sent by psycopg
  alone, {args.checks} POSTs one after another on one connection; then {args.paused}
  citizens doing whole flows for {args.paused_seconds:g} s, pausing {args.pause:g} s (±20%)
  between steps, their checks timed ({counts}; other steps' p99 {spread(steps, "{:.0f}")}
  ms). {failures_text(errors)}"""


def check_report(found: Results, args: argparse.Namespace) -> str:
    rounds = found.figures["check_rounds"]
    command = (
        f"bench/goals.py --only check --runs {args.runs} --checks {args.checks} "
        f"--paused {args.paused} --paused-seconds {args.paused_seconds:g} --pause {args.pause:g} "
        f"--parties {args.parties}"
    )
    return part_report(found, command, rounds, check_rows(rounds, args), check_method(rounds, args))


def flows_figures(
    database_url: str, folder: Path, citizens: Citizens, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``args.runs`` rounds, each: MCQS with 2 web processes (whole flows at 1 citizen, then
    at 32), then with 1 web process (at 32), each warmed by a few flows first; the CPU each
    part of the machine used during each level (serving.measured)."""

    def one_round(_run: int, found: dict[str, Any]) -> str:
        for processes in (2, 1):
            with mcqs(database_url, folder, web_workers=processes) as system:
                asyncio.run(flows_level(system.base, citizens, 4, 3.0))
                for concurrency in (1, 32) if processes == 2 else (32,):
                    level = flows_level(system.base, citizens, concurrency, args.level_seconds)
                    found[(processes, concurrency)] = measured(
                        level, system.web_pid, system.worker_pid
                    )
        return (
            f"2 processes {found[(2, 1)].rate:.1f} flows/s at 1 citizen, "
            f"{found[(2, 32)].rate:.1f} at 32; 1 process {found[(1, 32)].rate:.1f} at 32"
        )

    return in_rounds(args.runs, one_round)


def flows_rows(rounds: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    one_citizen = [r[(2, 1)].rate for r in rounds]
    two = [r[(2, 32)].rate for r in rounds]
    one = [r[(1, 32)].rate for r in rounds]
    growth = [r[(2, 32)].rate / r[(2, 1)].rate for r in rounds]
    today = [t / TODAY_FLOWS_PER_SECOND for t in two]
    scaling = [t / o for t, o in zip(two, one, strict=True)]
    # The most flows/s the machine could give, every core busy at the CPU a flow cost with
    # 2 web processes (the load generator's, the simulators', PostgreSQL's included).
    ceiling = [
        len(os.sched_getaffinity(0)) * r[(2, 32)].done / sum(r[(2, 32)].cpu.values())
        for r in rounds
    ]
    return [
        (
            "whole flows/s at 32 citizens, 2 web processes",
            f"1 citizen: {spread(one_citizen, '{:.1f}')}; the issue's today: "
            f"{TODAY_FLOWS_PER_SECOND:g}",
            spread(two, "{:.1f}"),
            f"{spread(growth, '{:.1f}×')} of 1 citizen; {spread(today, '{:.1f}×')} of today",
            "≥ 5× today",
            verdict(median(today) >= 5),
        ),
        (
            "2 web processes against 1, at 32 citizens",
            f"1 process: {spread(one, '{:.1f}')} flows/s",
            f"{spread(two, '{:.1f}')} flows/s",
            spread(scaling, "{:.2f}×"),
            "≥ 1.7×",
            verdict(median(scaling) >= 1.7),
        ),
        (
            "the machine's ceiling: flows/s with every core busy at the whole machine's CPU "
            "a flow (2 web processes, the load generator's included), against 1 process",
            f"1 process: {spread(one, '{:.1f}')} flows/s",
            f"{spread(ceiling, '{:.1f}')} flows/s",
            spread([c / o for c, o in zip(ceiling, one, strict=True)], "{:.2f}×"),
            "—",
            "—",
        ),
    ]


def flows_method(rounds: list[dict[str, Any]], args: argparse.Namespace) -> str:
    parts = ("web", "worker", "PostgreSQL", "bench client", "other")
    cpu_rows = []
    for key, label in (((2, 32), "2 web processes"), ((1, 32), "1 web process")):
        per_flow = {
            part: median([1000 * r[key].cpu.get(part, 0.0) / r[key].done for r in rounds])
            for part in parts
        }
        busy = median([sum(r[key].cpu.values()) / r[key].seconds for r in rounds])
        cpu_rows.append(
            f"  | {label} | " + " | ".join(f"{per_flow[p]:.1f}" for p in parts) + f" | {busy:.2f} |"
        )
    errors: Counter[str] = Counter()
    for r in rounds:
        for key in ((2, 1), (2, 32), (1, 32)):
            errors.update(r[key].errors)
    return f"""- **Flows/s**: {rounds_text(rounds)} Each round: MCQS (the simulators mounted, one
  `mcqs worker`) with 2 web processes, warmed by a few flows, then whole flows (the 9
  requests of `bench/serving.py`'s flow, each citizen a new browser) by 1 citizen and by 32
  for {args.level_seconds:g} s each; then the same with 1 web process at 32 citizens.
  {failures_text(errors)} CPU per flow at 32 citizens, ms (median of the rounds; "busy" is
  the cores the whole machine used, of {os.cpu_count()}):

  | at 32 citizens | {" | ".join(parts)} | busy |
  |---|---:|---:|---:|---:|---:|---:|
{chr(10).join(cpu_rows)}"""


def flows_report(found: Results, args: argparse.Namespace) -> str:
    rounds = found.figures["flow_rounds"]
    command = (
        f"bench/goals.py --only flows --runs {args.runs} --level-seconds {args.level_seconds:g}"
    )
    return part_report(found, command, rounds, flows_rows(rounds), flows_method(rounds, args))


def registrations_per_second(drained: Drained) -> float:
    return drained.applications / drained.decided_seconds


# ---- the TAC import ----------------------------------------------------------------------


def tac_file(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.write("Osmocom TAC database under CC-BY-SA v3.0 (c) Harald Welte 2016\n")
        file.write("tac,name,name,contributor,comment,gsmarena,gsmarena,aka\n")
        for n in range(rows):
            brand = ("Samsung", "Nokia", "Apple", "Xiaomi", "Oppo")[n % 5]
            file.write(f"{10_000_000 + n * 7},{brand},Model {n} Pro,someone,,,,\n")


def bare_copy_seconds(database_url: str, path: Path) -> float:
    """A bare ``COPY`` of the file's rows (all eight columns, as text) into a plain table."""
    columns = "tac, brand, model, contributor, comment, gsmarena1, gsmarena2, aka"
    db = Database(database_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS bare_tac"))
            conn.execute(text(f"CREATE TABLE bare_tac ({columns.replace(',', ' text,')} text)"))
    finally:
        db.dispose()

    def blocks() -> Iterator[bytes]:
        with path.open("rb") as file:
            file.readline(), file.readline()  # the banner and the header
            while block := file.read(1 << 20):
                yield block

    return timed_copy(database_url, f"COPY bare_tac ({columns}) FROM STDIN (FORMAT csv)", blocks())


def catalogue_copy_seconds(database_url: str, path: Path) -> float:
    """A ``COPY`` of the file's rows, as the import sends new ones (TAC, brand, model,
    source; ``imported_at`` left to its default), straight into the catalogue, committed;
    its text made before the clock starts: what PostgreSQL alone needs to put them into
    ``tac_models`` through its primary key's index, the floor of an import that writes them
    there one at a time (the import builds the key again in bulk instead: a first load)."""
    with path.open("rb") as file:
        file.readline(), file.readline()  # the banner and the header
        lines = file.read().decode().splitlines()
    rows = "".join(
        f"{tac}\t{brand}\t{model}\tosmocom\n"
        for tac, brand, model, *_ in (line.split(",") for line in lines)
    ).encode()
    del lines
    blocks = (rows[at : at + (1 << 20)] for at in range(0, len(rows), 1 << 20))
    statement = "COPY tac_models (tac, brand, model, source) FROM STDIN"
    return timed_copy(database_url, statement, blocks)


def timed_copy(database_url: str, statement: str, blocks: Iterator[bytes]) -> float:
    """Seconds from the ``COPY`` statement's start to its commit, ``blocks`` sent as data."""
    db = Database(database_url)
    try:
        raw = db.engine.raw_connection()
        try:
            start = time.monotonic()
            cursor: Any = raw.cursor()
            with cursor, cursor.copy(statement) as copy:
                for block in blocks:
                    copy.write(block)
            raw.commit()
            return time.monotonic() - start
        finally:
            raw.close()
    finally:
        db.dispose()


def import_run(env: dict[str, str], path: Path, folder: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MB) of ``mcqs import-tac`` on the file, as its own process.

    The peak is the child's ``VmHWM``, read until it exits: ``wait4``'s ``ru_maxrss`` would
    carry this (larger) process's own size over the fork."""
    command = [sys.executable, "-m", "mcqs.cli", "import-tac", str(path)]
    start = time.monotonic()
    child = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL)
    peak = 0.0
    while child.poll() is None:
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            pass
        time.sleep(0.02)
    seconds = time.monotonic() - start
    if child.returncode != 0:
        raise RuntimeError(f"import-tac failed with status {child.returncode}")
    return seconds, peak


def import_here_seconds(database_url: str, path: Path) -> float:
    """Seconds of the import's own work: ``import_tac_file`` called in this process, timed
    as :func:`bare_copy_seconds` times its ``COPY`` (no Python start-up, no imports; the
    run's ledger included)."""
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:  # the pool's connection made before the clock starts
            conn.execute(text("SELECT 1"))
        start = time.monotonic()
        import_tac_file(db, path, started_by="bench")
        return time.monotonic() - start
    finally:
        db.dispose()


def start_up_seconds(env: dict[str, str], folder: Path) -> float:
    """Seconds of ``mcqs import-tac`` on a file of one row (a TAC the big file does not
    hold, so the big file's TACs all stay new): what the command costs before and after
    the rows, start-up and imports first."""
    path = folder / "tac-one.csv"
    tac_file(path, 0)
    with path.open("a", encoding="utf-8") as file:
        file.write("99999999,Nokia,One row,someone,,,,\n")
    return import_run(env, path, folder)[0]


def fresh_catalogue(database_url: str, env: dict[str, str], folder: Path) -> None:
    """The catalogue emptied and the demo's seeded again: every TAC of the big file new."""
    db = Database(database_url)
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE tac_models"))
    db.dispose()
    mcqs_cli("seed-demo", env=env, folder=folder)


def tac_figures(
    database_url: str, env: dict[str, str], folder: Path, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """``args.runs`` rounds, each: a bare ``COPY`` of the file, its import into the demo
    catalogue (223 TACs: the 1 million are new), then the same file imported again (all
    of it known). The catalogue is emptied and the demo seeded again between rounds."""
    path = folder / "tac-1m.csv"
    tac_file(path, args.tac_rows)

    def one_round(run_: int, found: dict[str, Any]) -> str:
        if run_:
            fresh_catalogue(database_url, env, folder)
            found["load"] = os.getloadavg()[0]  # after the seeding, as before each round
        # While the catalogue holds only the demo's TACs: the command's cost before and after
        # the rows (reading a catalogue of a million TACs would be in it too).
        found["start_up"] = start_up_seconds(env, folder)
        checkpoint(database_url)
        found["copy_seconds"] = bare_copy_seconds(database_url, path)
        checkpoint(database_url)
        found["floor"] = catalogue_copy_seconds(database_url, path)
        # The import as a command and in this process, in turn first, each into the demo
        # catalogue: every TAC of the file new.
        for how in ("command", "here") if run_ % 2 == 0 else ("here", "command"):
            fresh_catalogue(database_url, env, folder)
            checkpoint(database_url)
            if how == "command":
                found["import"] = import_run(env, path, folder)
            else:
                found["import_here"] = import_here_seconds(database_url, path)
        checkpoint(database_url)
        found["again"] = import_run(env, path, folder)  # every TAC now known
        copy = found["copy_seconds"]
        return (
            f"bare COPY {copy:.2f} s, COPY into the catalogue {found['floor']:.2f} s "
            f"({copy / found['floor']:.0%}), import as a command {found['import'][0]:.2f} s "
            f"({copy / found['import'][0]:.0%}), in-process {found['import_here']:.2f} s "
            f"({copy / found['import_here']:.0%}), peak {found['import'][1]:.0f} MB, "
            f"again {found['again'][0]:.2f} s, one-row command {found['start_up']:.2f} s"
        )

    return in_rounds(args.runs, one_round)


def tac_rows(rounds: list[dict[str, Any]], args: argparse.Namespace) -> list[tuple[str, ...]]:
    copy = [r["copy_seconds"] for r in rounds]
    seconds = [r["import"][0] for r in rounds]
    peak = [r["import"][1] for r in rounds]
    share = [r["copy_seconds"] / r["import"][0] for r in rounds]
    here = [r["import_here"] for r in rounds]
    here_share = [r["copy_seconds"] / r["import_here"] for r in rounds]
    again = [r["again"][0] for r in rounds]
    again_share = [r["copy_seconds"] / r["again"][0] for r in rounds]
    floor = [r["floor"] for r in rounds]
    floor_share = [r["copy_seconds"] / r["floor"] for r in rounds]
    least = [r["start_up"] + r["import_here"] for r in rounds]
    least_share = [r["copy_seconds"] / s for r, s in zip(rounds, least, strict=True)]
    return [
        (
            f"`mcqs import-tac`, {args.tac_rows:,} new rows, as a command",
            f"bare `COPY` of the file: {spread(copy, '{:.2f}')} s",
            f"{spread(seconds, '{:.2f}')} s, peak {spread(peak)} MB",
            f"{median(share):.0%} ({min(share):.0%}–{max(share):.0%}) of COPY's speed",
            "≥ 40%, ≤ 150 MB",
            verdict(median(share) >= 0.4 and max(peak) <= 150),
        ),
        (
            "the same import in-process (timed as the `COPY` is)",
            f"bare `COPY`: {spread(copy, '{:.2f}')} s",
            f"{spread(here, '{:.2f}')} s",
            f"{median(here_share):.0%} ({min(here_share):.0%}–{max(here_share):.0%})",
            "≥ 40%",
            verdict(median(here_share) >= 0.4),
        ),
        (
            "the command's start-up (the command on a one-row file) and the import "
            "in-process, added (an estimate: both count the run's ledger)",
            f"bare `COPY`: {spread(copy, '{:.2f}')} s",
            f"{spread(least, '{:.2f}')} s",
            f"{median(least_share):.0%} ({min(least_share):.0%}–{max(least_share):.0%})",
            "—",
            "—",
        ),
        (
            "PostgreSQL alone: the import's rows `COPY`'d through the catalogue's key",
            f"bare `COPY`: {spread(copy, '{:.2f}')} s",
            f"{spread(floor, '{:.2f}')} s",
            f"{median(floor_share):.0%} ({min(floor_share):.0%}–{max(floor_share):.0%})",
            "—",
            "—",
        ),
        (
            "the same file imported again (every row known), as a command",
            f"bare `COPY`: {spread(copy, '{:.2f}')} s",
            f"{spread(again, '{:.2f}')} s, peak {spread([r['again'][1] for r in rounds])} MB",
            f"{median(again_share):.0%} ({min(again_share):.0%}–{max(again_share):.0%})",
            "—",
            "—",
        ),
    ]


def tac_method(rounds: list[dict[str, Any]], args: argparse.Namespace) -> str:
    start_up = [r["start_up"] for r in rounds]
    return f"""- **TAC import**: {rounds_text(rounds)} Each round: a bare
  `COPY … FROM STDIN (FORMAT csv)` of the generated Osmocom file ({args.tac_rows:,} distinct
  TACs, 5 brands) into a new table of eight text columns, timed in this process; the same
  rows as the import sends new ones (TAC, brand, model, source) `COPY`'d straight into the
  migrated demo catalogue (223 TACs) through its primary key's index, timed the same way: the
  floor of an import that puts them into the key one at a time (the import, a first load
  here, builds the key again in bulk instead); then the
  import of the file into the demo catalogue twice, in turn first:
  `python -m mcqs.cli import-tac FILE` as its own process (start-up included: what an
  operator runs), its peak RSS the process's `VmHWM`, and `import_tac_file` called in this
  process, timed from its call to its return as the `COPY` is (the import's own work, the
  run's ledger included); then the command again, every row now known. Each starts after a
  `CHECKPOINT`, so that none pays for the WAL the one before wrote, and each import into the
  catalogue emptied and seeded again. The command on a file of one row took
  {spread(start_up, "{:.2f}")} s: its start-up, imports and ledger, which the in-process
  figure does not hold."""


def tac_report(found: Results, args: argparse.Namespace) -> str:
    rounds = found.figures["tac_rounds"]
    command = f"bench/goals.py --only tac --runs {args.runs} --tac-rows {args.tac_rows}"
    return part_report(found, command, rounds, tac_rows(rounds, args), tac_method(rounds, args))


# ---- the run -----------------------------------------------------------------------------


@dataclass
class Results:
    figures: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    load: float = field(default_factory=lambda: os.getloadavg()[0])
    finished: float = 0.0


def run(args: argparse.Namespace) -> Results:
    found = Results()
    f = found.figures
    database_url = create_postgres_database(args.postgres, prefix=args.database_prefix)
    try:
        with tempfile.TemporaryDirectory(prefix="mcqs-goals-") as temp:
            folder = Path(temp)
            env = environment(database_url, 0, str(folder / "simulators"))
            mcqs_cli("migrate", env=env, folder=folder)
            mcqs_cli("seed-demo", env=env, folder=folder)
            db = Database(database_url)
            with db.transaction() as session:
                tacs = [imei[:8] for imei, _b, _m in example_imeis(session, count=10)]
            db.dispose()
            citizens = Citizens(tacs)
            if args.only == "worker":
                print("worker...", flush=True)
                f["worker"] = worker_figures(database_url, folder, tacs, args)
                found.finished = time.monotonic()
                return found
            if args.only == "check":
                print(
                    "the check POST against one PK select; the simulated parties "
                    + (
                        "in a process of their own (as production has them)"
                        if args.parties == "apart"
                        else "mounted in MCQS's web processes (mcqs-demo's way)"
                    ),
                    flush=True,
                )
                f["check_rounds"] = check_figures(database_url, folder, citizens, args)
                found.finished = time.monotonic()
                return found
            if args.only == "flows":
                f["flow_rounds"] = flows_figures(database_url, folder, citizens, args)
                found.finished = time.monotonic()
                return found
            if args.only == "tac":
                f["tac_rounds"] = tac_figures(database_url, env, folder, args)
                found.finished = time.monotonic()
                return found

            # Everything: the receipts and the memory soak (measured only here), then each
            # part exactly as its --only run measures it.
            f["receipts_soak"] = receipts_and_soak(database_url, folder, citizens, args)
            print("the check...", flush=True)
            f["check_rounds"] = check_figures(database_url, folder, citizens, args)
            print("whole flows...", flush=True)
            f["flow_rounds"] = flows_figures(database_url, folder, citizens, args)
            print("worker...", flush=True)
            f["worker"] = worker_figures(database_url, folder, tacs, args)
            print("TAC import...", flush=True)
            f["tac_rounds"] = tac_figures(database_url, env, folder, args)
    finally:
        drop_postgres_database(args.postgres, database_url)
    found.finished = time.monotonic()
    return found


# ---- the report --------------------------------------------------------------------------


def goals_table(rows: list[tuple[str, ...]]) -> str:
    """The figures beside their baselines and goals, as a Markdown table."""
    return "\n".join(
        [
            "| figure | baseline, same run | measured | ratio | goal | |",
            "|---|---|---|---|---|---|",
            *("| " + " | ".join(row) + " |" for row in rows),
        ]
    )


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def rounds_text(rounds: list[dict[str, Any]]) -> str:
    loads = ", ".join(f"{r['load']:.1f}–{r['load_after']:.1f}" for r in rounds)
    how_many = (
        f"median of {len(rounds)} rounds (lowest–highest in brackets)"
        if len(rounds) > 1
        else "one round"
    )
    return f"{how_many.capitalize()}; load average at each round's start and end: {loads}."


def part_report(
    found: Results,
    command: str,
    rounds: list[dict[str, Any]],
    rows: list[tuple[str, ...]],
    method: str,
) -> str:
    """One part's section (``--only``): the run, its table, how it was measured."""
    return f"""Measured on {dt.date.today().isoformat()}: {machine()}, PostgreSQL on the same \
machine. `{command}`; the script took {found.finished - found.started:.0f} s (the machine may
be shared: compare the ratios, each taken within one round, more than the times).

{goals_table(rows)}

{method}
"""


def receipts_rows(found: dict[str, Any], args: argparse.Namespace) -> list[tuple[str, ...]]:
    receipts: Receipts = found["receipts"]
    pdf_cost = receipts.html_rate / receipts.pdf_rate
    html_p50 = quantile_ms(receipts.html_times, 0.5)
    first_p50 = quantile_ms(receipts.first_pdf, 0.5)
    fresh, after, peak = found["rss_fresh"], found["rss_after"], found["rss_peak"]
    return [
        (
            "receipt PDF request (the kept PDF), requests/s",
            f"HTML receipt request: {receipts.html_rate:.0f}/s",
            f"{receipts.pdf_rate:.0f}/s",
            f"{pdf_cost:.2f}× the HTML's cost",
            "≤ 2×",
            verdict(pdf_cost <= 2),
        ),
        (
            "receipt PDF, first request (made then), p50 ms",
            f"HTML receipt p50 {html_p50:.1f} ms",
            f"{first_p50:.0f} ms",
            f"{first_p50 / html_p50:.0f}×",
            "once per receipt",
            "—",
        ),
        (
            f"web RSS (2 processes) after {args.soak_seconds / 60:g} min of receipt load",
            f"the same processes fresh: {fresh:.0f} MB",
            f"{after:.0f} MB (highest {peak:.0f} MB)",
            f"{after / fresh:.2f}×",
            "≤ 1.5×",
            verdict(after / fresh <= 1.5 and peak / fresh <= 1.5),
        ),
    ]


def receipts_method(found: dict[str, Any], args: argparse.Namespace) -> str:
    samples = found["rss_samples"]
    sampled = ", ".join(f"{s:.0f}" for s in samples[:: max(1, len(samples) // 10)])
    return f"""- **Receipts**: MCQS with 2 web processes (the simulators mounted, one `mcqs
  worker`); 12 citizens go through a whole flow; each asks for its PDF once (made then: the "first
  request" row), then 4 of them ask for their receipt page, and then for their PDF, back to
  back for 8 s each, one keep-alive connection each.
- **Memory**: resident set of the same 2 web processes after start-up and a few flows
  ({found["rss_started"]:.0f} MB just started, {found["rss_fresh"]:.0f} MB "fresh" after
  warming up), then after {args.soak_seconds:g} s of 8 citizens doing whole flows, each
  asking for its PDF twice ({found["soak_flows"]} flows). Sampled every 2 s (every tenth
  shown): {sampled} MB."""


def receipts_and_soak(
    database_url: str, folder: Path, citizens: Citizens, args: argparse.Namespace
) -> dict[str, Any]:
    """The receipts' rates, then the web processes' memory before and after the soak."""
    found: dict[str, Any] = {}
    with mcqs(database_url, folder, web_workers=2) as system:
        pids = serving_pids(system.web_pid)
        found["rss_started"] = sum(rss_mb(pid) for pid in pids)
        print("warming up...", flush=True)
        asyncio.run(flows_level(system.base, citizens, 4, 3.0))
        asyncio.run(receipts_figures(system.base, citizens, 1.0))
        found["rss_fresh"] = sum(rss_mb(pid) for pid in pids)
        print("receipts...", flush=True)
        found["receipts"] = asyncio.run(receipts_figures(system.base, citizens, 8.0))
        print(f"receipt soak, {args.soak_seconds:g} s...", flush=True)
        flows, peak, samples = asyncio.run(
            receipt_soak(system.base, citizens, 8, args.soak_seconds, pids)
        )
        found.update(
            soak_flows=flows,
            rss_peak=peak,
            rss_samples=samples,
            rss_after=sum(rss_mb(pid) for pid in pids),
        )
    return found


def report(found: Results, args: argparse.Namespace) -> str:
    """Every figure of issue 10 from this one run: the goals' table, then how each part
    was measured (each part as its ``--only`` run measures it)."""
    f = found.figures
    rows = [
        *receipts_rows(f["receipts_soak"], args),
        *check_rows(f["check_rounds"], args),
        *flows_rows(f["flow_rounds"]),
        *worker_rows(f["worker"]),
        *tac_rows(f["tac_rounds"], args),
    ]
    command = (
        f"make bench  (bench/goals.py --runs {args.runs} --level-seconds {args.level_seconds:g} "
        f"--soak-seconds {args.soak_seconds:g} --checks {args.checks} --paused {args.paused} "
        f"--paused-seconds {args.paused_seconds:g} --pause {args.pause:g} "
        f"--parties {args.parties} --registrations {args.registrations} "
        f"--tac-rows {args.tac_rows})"
    )
    methods = "\n".join(
        [
            receipts_method(f["receipts_soak"], args),
            check_method(f["check_rounds"], args),
            flows_method(f["flow_rounds"], args),
            worker_method(f["worker"], args),
            tac_method(f["tac_rounds"], args),
        ]
    )
    return f"""Measured on {dt.date.today().isoformat()}: {machine()}, PostgreSQL on the same \
machine. `{command}`; the script took {found.finished - found.started:.0f} s; load average \
{found.load:.1f} when it started.

Every figure is from this one run, next to its baseline measured in the same run (each
ratio taken within one round, then the median of the rounds). MCQS runs as production runs
it: separate processes, `serve_factory`, PostgreSQL, `mcqs worker`; the load generator
shares the machine's {os.cpu_count()} cores with them. Where a goal is missed, "Issue 10:
what was met, what was not, and why" below gives the profile.

{goals_table(rows)}

How each is measured:
{methods}
"""


def worker_rows(worker: dict[str, Any]) -> list[tuple[str, ...]]:
    """The worker's rows of the goals' table: medians of the rounds, each ratio taken
    within its round first."""
    rounds = worker["rounds"]
    bare = [r["bare"] for r in rounds]
    one = [registrations_per_second(r[1]) for r in rounds]
    two = [registrations_per_second(r[2]) for r in rounds]
    to_bare = [registrations_per_second(r[1]) / r["bare"] for r in rounds]
    scaling = [registrations_per_second(r[2]) / registrations_per_second(r[1]) for r in rounds]
    whole_1 = [r[1].applications / r[1].drained_seconds for r in rounds]
    whole_2 = [r[2].applications / r[2].drained_seconds for r in rounds]
    return [
        (
            "worker registrations/s, 1 `mcqs worker`",
            f"bare one-job-per-transaction loop: {spread(bare)} jobs/s",
            f"{spread(one)}/s",
            f"{median(to_bare):.0%} ({min(to_bare):.0%}–{max(to_bare):.0%})",
            "≥ 100%",
            verdict(median(to_bare) >= 1),
        ),
        (
            "worker registrations/s, 2 `mcqs worker` against 1",
            f"1 worker: {spread(one)}/s",
            f"{spread(two)}/s",
            f"{median(scaling):.2f}× ({min(scaling):.2f}–{max(scaling):.2f})",
            "≥ 1.8×",
            verdict(median(scaling) >= 1.8),
        ),
        (
            "worker, registrations with their SMS sent, per second (1 / 2 workers)",
            f"bare loop: {spread(bare)} jobs/s",
            f"{spread(whole_1)}/s / {spread(whole_2)}/s",
            f"{median(whole_1) / median(bare):.0%} / {median(whole_2) / median(bare):.0%}",
            "—",
            "—",
        ),
    ]


def worker_method(worker: dict[str, Any], args: argparse.Namespace) -> str:
    rounds = worker["rounds"]
    decided = "; ".join(
        f"{r[1].applications} in {r[1].decided_seconds:.2f} s (1 worker) and "
        f"{r[2].decided_seconds:.2f} s (2), all jobs done in {r[1].drained_seconds:.1f} s and "
        f"{r[2].drained_seconds:.1f} s"
        for r in rounds
    )
    cpu = "; ".join(
        f"{r[1].worker_cpu / r[1].decided_seconds:.2f} and "
        f"{r[2].worker_cpu / r[2].decided_seconds:.2f} cores"
        for r in rounds
    )
    per_registration = median(
        [r[w].worker_cpu / r[w].applications * 1000 for r in rounds for w in (1, 2)]
    )
    web_per_registration = median(
        [r[w].web_cpu / r[w].applications * 1000 for r in rounds for w in (1, 2)]
    )
    cores = ", ".join(f"{r['cores']:.2f}" for r in rounds)
    return f"""- **Worker**: {rounds_text(rounds)} Each round: the bare loop claims and marks done
  {args.registrations * 2} rows of a one-column table, a transaction each; then
  {args.registrations} paid applications are queued (their jobs held back), 1 `mcqs worker`
  process is started (polling every {DRAIN_POLL_SECONDS} s, as this script polls) and,
  once it has beaten and swept, the jobs are made due: registrations/s is the time until
  every application is registered or rejected (no registration job left: a batch's jobs
  are marked done with its decisions), then the same with 2 processes on a new queue of
  as many. "With their SMS sent": until no job is left (each SMS a job of its own, a batch's
  sent to the simulator over HTTP `MCQS_SMS_SENDS_AT_ONCE` (8) at a time; the simulator is
  served by the web processes on the same cores).
  Per round: {decided}. The worker processes used, while registering, {cpu} (1 worker
  and 2, per round): {per_registration:.2f} ms of worker CPU per registration (median), and
  {web_per_registration:.1f} ms of the web process's (the simulators, the EIR snapshot).
  Cores the machine had to give two processes, measured just before each round's two
  workers (a CPU-bound loop alone against two copies at once; 2.00 on an idle 2-core
  machine, and two workers can be no more than that many times faster than one): {cores}."""


def worker_report(found: Results, args: argparse.Namespace) -> str:
    worker = found.figures["worker"]
    command = (
        f"bench/goals.py --only worker --runs {args.runs} --registrations {args.registrations}"
    )
    return part_report(
        found, command, worker["rounds"], worker_rows(worker), worker_method(worker, args)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    server = os.environ.get("MCQS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    parser.add_argument("--postgres", default=server)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--level-seconds", type=float, default=6.0)
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--paused", type=int, default=200)
    parser.add_argument("--paused-seconds", type=float, default=60.0)
    parser.add_argument("--pause", type=float, default=10.0)
    parser.add_argument("--registrations", type=int, default=4000)
    parser.add_argument("--tac-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database-prefix",
        default="mcqs_bench_goals",
        help="name of the (new, dropped at the end) database: this prefix and a random suffix",
    )
    parser.add_argument(
        "--parties",
        choices=["apart", "mounted"],
        default="apart",
        help="--only check: the simulated parties in a process of their own (as production "
        "has them, on other machines) or mounted in the web processes (mcqs-demo's way, "
        "the check's measure before 2026-11-30)",
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument(
        "--only",
        choices=["all", "worker", "check", "flows", "tac"],
        default="all",
        help="'worker', 'check', 'flows' or 'tac': only those figures (minutes), in a section "
        "of their own",
    )
    args = parser.parse_args()
    found = run(args)
    if args.only == "worker":
        text_ = worker_report(found, args)
        write_section(Path(args.output), WORKER_HEADING, text_)
    elif args.only == "check":
        text_ = check_report(found, args)
        write_section(Path(args.output), CHECK_HEADING, text_)
    elif args.only == "flows":
        text_ = flows_report(found, args)
        write_section(Path(args.output), FLOWS_HEADING, text_)
    elif args.only == "tac":
        text_ = tac_report(found, args)
        write_section(Path(args.output), TAC_HEADING, text_)
    else:
        text_ = report(found, args)
        write_section(Path(args.output), HEADING, text_)
    print(text_)


if __name__ == "__main__":
    main()
