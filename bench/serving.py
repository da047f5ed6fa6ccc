"""Benchmark: MCQS served as production serves it, on PostgreSQL.

Real separate processes on 127.0.0.1: ``mcqs migrate`` and ``mcqs seed-demo`` into a new
PostgreSQL database, then the web served by uvicorn in ``MCQS_WEB_WORKERS`` processes
from the import-string factory ``mcqs_simulators.demo:create_demo_app`` (through
``mcqs.cli.serve_factory``, as ``mcqs-demo`` serves it: MCQS with the simulators under
``/_sim``), and one ``mcqs worker``. Then:

1. the flood: ``/healthz`` and ``/`` latency while 40 connections hammer one pending
   payment's GoldenPay return URL and GoldenPay answers in 1 s, next to no flood;
2. whole citizen flows per second at 1, 8 and 32 concurrent citizens, next to a bare
   FastAPI app doing one primary-key select per request, served the same way.

    .venv/bin/python bench/serving.py [--postgres URL] [--runs 3]

Writes its section of docs/benchmarks.md. Every load loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import itertools
import os
import re
import resource
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report import machine, write_section  # noqa: E402

from mcqs.db import Database  # noqa: E402
from mcqs.devices.demo import example_imeis  # noqa: E402
from mcqs.devices.imei import imei_with_check_digit  # noqa: E402
from mcqs_simulators.population.citizens import CITIZENS, Citizen  # noqa: E402

from conftest import FIXED_CODE, create_postgres_database, drop_postgres_database, free_port  # noqa: E402, I001

HEADING = "MCQS served as in production (`bench/serving.py`)"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
WEB_WORKERS = 2
AUTH_KEY = "bench-goldenpay-auth-key"
FLOOD_CONNECTIONS = 40
CONCURRENCIES = (1, 8, 32)
GOAL_MS = 100.0
# GET and POST /register, GET and POST /application, GET and POST the card page, return, receipt
REQUESTS_PER_FLOW = 9
MAX_FLOWS_PER_LEVEL = 5_000
MAX_BARE_REQUESTS_PER_LEVEL = 200_000
SERVE = (
    "from mcqs.cli import serve_factory; from mcqs.config import get_settings; "
    "serve_factory({factory!r}, get_settings())"
)
# httpx builds (and loads CA certificates into) a TLS context for every client it makes,
# ~50 ms of CPU: one shared context keeps that cost out of the load generator.
TLS = ssl.create_default_context()
CARD = {"card_number": "4228650000018101", "expiry": "12/30", "cvv": "123", "action": "pay"}


# ---- processes ---------------------------------------------------------------------------


def environment(database_url: str, port: int, state_dir: str) -> dict[str, str]:
    """What every process of the system is started with (nothing MCQS_ inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCQS_")}
    env.update(
        {
            "MCQS_ENV": "demo",
            "MCQS_HOST": "127.0.0.1",
            "MCQS_PORT": str(port),
            "MCQS_DATABASE_URL": database_url,
            "MCQS_WEB_WORKERS": str(WEB_WORKERS),
            "MCQS_SIM_STATE_DIR": state_dir,
            "MCQS_SECURITY_CODE_FIXED": FIXED_CODE,
            "MCQS_SECRET_KEY": "bench-secret-key-0123456789",
            "MCQS_GOLDENPAY_AUTH_KEY": AUTH_KEY,
            # Many flows per FİN in a few seconds; every citizen comes from its own address
            # (X-Forwarded-For), so the per-client limits, the return URL's included, stay
            # at their defaults and still apply to the flood.
            "MCQS_CHECK_LIMIT_PER_FIN": "1000000",
            "MCQS_CHECK_LIMIT_PER_CLIENT": "1000000",
            "MCQS_OPEN_APPLICATIONS_PER_FIN": "1000",
        }
    )
    return env


@contextmanager
def process(name: str, command: list[str], env: dict[str, str], folder: Path) -> Iterator[int]:
    """A child process, its output in ``folder/name.log``; SIGTERM (then SIGKILL) at the end."""
    with (folder / f"{name}.log").open("wb") as log:
        child = subprocess.Popen(command, env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield child.pid
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def wait_ready(url: str, folder: Path, log_name: str, seconds: float = 60) -> None:
    """Until ``url`` answers 200: the web is up (and, for /healthz, a worker beats)."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(url, timeout=5)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text[:200]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.3)
    tail = (folder / f"{log_name}.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{url} not ready after {seconds} s ({last}); log:\n{tail}")


@contextmanager
def parties_apart(env: dict[str, str], folder: Path) -> Iterator[dict[str, str]]:
    """The simulators (population registry, GoldenPay, SMS centre, e-gov) served in a
    process of their own, as the real parties are on machines of their own, so that their
    CPU is not spent in MCQS's web processes; yields the ``MCQS_…`` URLs that point MCQS at
    them (to add to the environment of MCQS's processes)."""
    port = free_port()
    own = {
        **env,
        "MCQS_PORT": str(port),
        "MCQS_WEB_WORKERS": "1",
        "MCQS_PUBLIC_URL": f"http://127.0.0.1:{env['MCQS_PORT']}",
    }
    serve = SERVE.format(factory="mcqs_simulators.app:create_simulators_alone")
    with process("simulators", [sys.executable, "-c", serve], own, folder):
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/", folder, "simulators")
        yield {
            "MCQS_PUBLIC_URL": own["MCQS_PUBLIC_URL"],
            "MCQS_POPULATION_BASE_URL": f"{base}/population",
            "MCQS_GOLDENPAY_BASE_URL": f"{base}/goldenpay",
            "MCQS_SMS_BASE_URL": f"{base}/sms",
            "MCQS_EGOV_DISCOVERY_URL": f"{base}/egov/.well-known/openid-configuration",
        }


def mcqs_cli(*args: str, env: dict[str, str], folder: Path) -> None:
    command = [sys.executable, "-m", "mcqs.cli", *args]
    subprocess.run(command, env=env, cwd=folder, check=True, capture_output=True, timeout=120)


def checkpoint(database_url: str) -> None:
    """A ``CHECKPOINT`` before a timed step, so that no step pays for the WAL the one before
    it wrote (a million rows rewritten are about a gigabyte: the next step would write its
    pages whole again after the checkpoint that starts meanwhile)."""
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
    finally:
        db.dispose()


# ---- CPU used, per process, read from /proc (to say where the time goes) -----------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a process, None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1 : raw.rindex(")")]
    rest = raw[raw.rindex(")") + 2 :].split()
    return name, int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK


def cpu_snapshot(
    web_pid: int, worker_pid: int | None, flooder_pid: int | None = None
) -> dict[str, float]:
    """CPU seconds used so far by the web processes, the worker, PostgreSQL's backends (those
    alive now) and the bench client (this process and the flooding one)."""
    used = {"web": 0.0, "worker": 0.0, "PostgreSQL": 0.0, "bench client": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None:
            continue
        name, parent, seconds = stat
        pid = int(entry.name)
        if pid == web_pid or parent == web_pid:
            used["web"] += seconds
        elif pid == worker_pid:
            used["worker"] += seconds
        elif pid == flooder_pid:
            used["bench client"] += seconds
        elif name == "postgres":
            used["PostgreSQL"] += seconds
    me = resource.getrusage(resource.RUSAGE_SELF)
    used["bench client"] += me.ru_utime + me.ru_stime
    used["machine"] = _busy_seconds()
    return used


def _busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (every process, every core)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / TICK


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per part between two snapshots; "other" is everything else the machine
    did meanwhile (other people's processes, and PostgreSQL backends that ended)."""
    used = {k: max(0.0, after[k] - before[k]) for k in before}
    machine = used.pop("machine")
    used["other"] = max(0.0, machine - sum(used.values()))
    return used


# ---- statistics --------------------------------------------------------------------------


def failures_text(errors: Counter[str], *, none: str = "No flow failed.") -> str:
    """The five commonest failures of a run, or ``none``."""
    if not errors:
        return none
    return "Failures: " + "; ".join(f"{n} × {e}" for e, n in errors.most_common(5)) + "."


def quantile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    """The median, with the lowest and highest of the runs when there are several."""
    shown = fmt.format(median(values))
    if len(values) > 1:
        shown += f" ({fmt.format(min(values))}–{fmt.format(max(values))})"
    return shown


# ---- a citizen's browser -----------------------------------------------------------------


def expect(answer: httpx.Response, status: int, what: str) -> httpx.Response:
    if answer.status_code != status:
        code = re.search(r'data-error="([a-z_]+)"|role="alert">\s*([^<]{1,100})', answer.text)
        said = (code.group(1) or code.group(2)).strip() if code else answer.text[:80]
        raise RuntimeError(f"{what}: HTTP {answer.status_code} ({said})")
    return answer


def csrf_token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if not found:
        raise RuntimeError("the form carries no CSRF token")
    return found.group(1)


async def open_payment(browser: httpx.AsyncClient, citizen: Citizen, imei: str) -> str:
    """Check, fill in the application and press "Təsdiqlə və ödəniş et"; returns the URL
    of GoldenPay's card page the browser is sent to."""
    page = expect(await browser.get("/register"), 200, "check form")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    if not code_id:
        raise RuntimeError("the check form carries no security code id")
    form = {
        "id_card": citizen.id_card,
        "fin": citizen.fin,
        "imei_1": imei,
        "security_code": FIXED_CODE,
        "security_code_id": code_id.group(1),
        "csrf_token": csrf_token_of(page.text),
    }
    expect(await browser.post("/register", data=form), 303, "check")
    application = expect(await browser.get("/application"), 200, "application form")
    code = re.search(r'name="code" value="([0-9A-Z]+)"', application.text)
    if not code:
        raise RuntimeError("the application form names no application")
    pay = {
        "code": code.group(1),
        "phone": "0501234567",
        "card_type": "v",
        "csrf_token": csrf_token_of(application.text),
    }
    confirmed = expect(await browser.post("/application", data=pay), 303, "confirm and pay")
    return confirmed.headers["location"]


async def citizen_flow(base: str, citizen: Citizen, imei: str, address: str) -> float:
    """One whole registration, from the check form to the receipt; returns its seconds.
    A fresh browser (cookies, connection) from its own address, as a real citizen."""
    start = time.perf_counter()
    headers = {"X-Forwarded-For": address}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=headers, verify=TLS) as browser:
        pay_page = await open_payment(browser, citizen, imei)
        expect(await browser.get(pay_page), 200, "GoldenPay card page")
        paid = expect(await browser.post(pay_page, data=CARD), 303, "pay at GoldenPay")
        back = expect(await browser.get(paid.headers["location"]), 303, "return")
        receipt = back.headers["location"]
        if "/receipts/" not in receipt:
            raise RuntimeError(f"the return did not lead to a receipt: {receipt}")
        expect(await browser.get(receipt), 200, "receipt")
    return time.perf_counter() - start


class Citizens:
    """Distinct valid IMEIs (catalogued TACs, serial numbers never used twice), citizens
    taken in turn, and a distinct client address per flow."""

    def __init__(self, tacs: list[str]) -> None:
        self.tacs = tacs
        self.people = [c for c in CITIZENS if c.id_card_valid_until > dt.date.today()]
        self.counter = itertools.count()

    def next(self) -> tuple[Citizen, str, str]:
        n = next(self.counter)
        tac = self.tacs[n % len(self.tacs)]
        imei = imei_with_check_digit(f"{tac}{n // len(self.tacs) + 100000:06d}")
        address = f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        return self.people[n % len(self.people)], imei, address


# ---- 1. the flood ------------------------------------------------------------------------


def flood(base: str, path: str, connections: int, seconds: float, many: bool) -> dict[str, Any]:
    """Run in a separate process (so its CPU and GIL do not sit in the probes' timings):
    ``connections`` keep-alive connections GET ``path`` back to back for ``seconds``.
    ``many``: every request from a different client address (X-Forwarded-For)."""
    return asyncio.run(_flood(base, path, connections, seconds, many))


async def _flood(
    base: str, path: str, connections: int, seconds: float, many: bool
) -> dict[str, Any]:
    answers: Counter[str] = Counter()
    start = time.monotonic()
    deadline = start + seconds

    async def hammer(slot: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=15, verify=TLS) as client:
            for n in range(1_000_000):
                if time.monotonic() >= deadline:
                    return
                headers = {"X-Forwarded-For": f"172.{16 + slot}.{n >> 8 & 255}.{n & 255}"}
                try:
                    answer = await client.get(path, headers=headers if many else None)
                    answers[str(answer.status_code)] += 1
                except httpx.HTTPError as error:
                    answers[type(error).__name__] += 1

    await asyncio.gather(*(hammer(slot) for slot in range(connections)))
    return {"answers": dict(answers), "seconds": time.monotonic() - start}


PROBED = ("/healthz", "/")


@dataclass
class Probes:
    times: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PROBED})
    statuses: Counter[str] = field(default_factory=Counter)


def probe(base: str, until: Future[Any] | float) -> Probes:
    """GET /healthz and / one after the other, each on a new connection (a new visitor),
    until the flood ``until`` is over, or for ``until`` seconds."""
    probes = Probes()
    hard_stop = time.monotonic() + (until if isinstance(until, float) else 120)
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base, timeout=30, limits=no_keepalive, verify=TLS) as client:
        while time.monotonic() < hard_stop:
            if isinstance(until, Future) and until.done():
                break
            for path in PROBED:
                start = time.perf_counter()
                answer = client.get(path)
                probes.times[path].append(time.perf_counter() - start)
                probes.statuses[f"{path} {answer.status_code}"] += 1
            time.sleep(0.01)
    return probes


def reuse_cost(base: str, path: str, count: int = 30) -> tuple[float, float]:
    """Median ms of GET ``path`` on a new connection each time, and on one keep-alive
    connection reused (what a browser does), one request after another."""
    found = []
    for limits in (httpx.Limits(max_keepalive_connections=0), httpx.Limits()):
        times = []
        with httpx.Client(base_url=base, timeout=30, limits=limits, verify=TLS) as client:
            client.get(path)
            for _ in range(count):
                start = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - start)
        found.append(quantile_ms(times, 0.5))
    return found[0], found[1]


def check_count(base: str, key: str) -> int:
    """GoldenPay's checkCount for ``key`` (this question included), asked as a merchant."""
    digest = hashlib.md5((AUTH_KEY + key).encode()).hexdigest()
    answer = httpx.get(
        f"{base}/_sim/goldenpay/web/service/merchant/getPaymentResult",
        params={"payment_key": key, "hash_code": digest},
        timeout=30,
    ).json()
    if answer["status"]["code"] not in (1, 813):
        raise RuntimeError(f"getPaymentResult refused: {answer}")
    return int(answer["checkCount"])


def set_latency(base: str, seconds: float) -> None:
    body = {"get_payment_key": seconds, "get_payment_result": seconds}
    answer = httpx.post(f"{base}/_sim/goldenpay/sim/latency", json=body, timeout=10)
    answer.raise_for_status()
    if answer.json() != body:
        raise RuntimeError(f"latency not set: {answer.text}")


@dataclass
class FloodRun:
    probes: Probes
    answers: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    result_calls: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # cores busy on average, per part


MODES = {
    "none": "no flood",
    "one": "flood from one client address",
    "many": "flood, every request from another address",
}


def flood_figures(
    base: str, key: str, *, runs: int, seconds: float, web_pid: int, worker_pid: int
) -> dict[str, list[FloodRun]]:
    found: dict[str, list[FloodRun]] = {mode: [] for mode in MODES}
    path = f"/payments/goldenpay/success?payment_key={key}"
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        flooder = pool.submit(os.getpid).result()  # the flooding process is up before timing

        def snapshot() -> dict[str, float]:
            return cpu_snapshot(web_pid, worker_pid, flooder)

        set_latency(base, 1.0)
        try:
            for _ in range(runs):
                before, start = snapshot(), time.monotonic()
                quiet = FloodRun(probe(base, float(seconds)))
                quiet.cpu = cores(before, snapshot(), time.monotonic() - start)
                found["none"].append(quiet)
                for mode in ("one", "many"):
                    count_before = check_count(base, key)
                    before, start = snapshot(), time.monotonic()
                    running = pool.submit(
                        flood, base, path, FLOOD_CONNECTIONS, seconds, mode == "many"
                    )
                    probes = probe(base, running)
                    done = running.result(timeout=60)
                    busy = cores(before, snapshot(), time.monotonic() - start)
                    calls = check_count(base, key) - count_before - 1
                    total = sum(done["answers"].values())
                    rate = total / done["seconds"]
                    found[mode].append(FloodRun(probes, done["answers"], rate, calls, busy))
        finally:
            set_latency(base, 0.0)
    return found


def cores(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    return {k: v / wall for k, v in cpu_used(before, after).items()}


# ---- 2. flows per second -----------------------------------------------------------------


@dataclass
class Level:
    done: int
    seconds: float
    times: list[float]
    errors: Counter[str]
    cpu: dict[str, float]

    @property
    def rate(self) -> float:
        return self.done / self.seconds


async def flows_level(base: str, citizens: Citizens, concurrency: int, seconds: float) -> Level:
    """``concurrency`` citizens, each doing whole flows one after another for ``seconds``."""
    times: list[float] = []
    errors: Counter[str] = Counter()
    started = itertools.count()
    deadline = time.monotonic() + seconds

    async def citizen_loop() -> None:
        while time.monotonic() < deadline and next(started) < MAX_FLOWS_PER_LEVEL:
            citizen, imei, address = citizens.next()
            try:
                times.append(await citizen_flow(base, citizen, imei, address))
            except (RuntimeError, httpx.HTTPError) as error:
                errors[str(error)[:120]] += 1

    start = time.monotonic()
    await asyncio.gather(*(citizen_loop() for _ in range(concurrency)))
    return Level(len(times), time.monotonic() - start, times, errors, {})


async def bare_level(base: str, concurrency: int, seconds: float) -> Level:
    """``concurrency`` clients, each GETting /item back to back on a keep-alive connection."""
    times: list[float] = []
    errors: Counter[str] = Counter()
    started = itertools.count()
    deadline = time.monotonic() + seconds

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30, verify=TLS) as client:
            while time.monotonic() < deadline and next(started) < MAX_BARE_REQUESTS_PER_LEVEL:
                begin = time.perf_counter()
                try:
                    expect(await client.get("/item"), 200, "bare select")
                    times.append(time.perf_counter() - begin)
                except (RuntimeError, httpx.HTTPError) as error:
                    errors[str(error)[:120]] += 1

    start = time.monotonic()
    await asyncio.gather(*(client_loop() for _ in range(concurrency)))
    return Level(len(times), time.monotonic() - start, times, errors, {})


def measured(run: Any, web_pid: int, worker_pid: int | None) -> Level:
    before = cpu_snapshot(web_pid, worker_pid)
    level: Level = asyncio.run(run)
    level.cpu = cpu_used(before, cpu_snapshot(web_pid, worker_pid))
    return level


# ---- the run -----------------------------------------------------------------------------


@dataclass
class Results:
    flood: dict[str, list[FloodRun]]
    flows: dict[int, list[Level]]
    bare: dict[int, list[Level]]
    postgres_version: str
    started: float
    load: float
    # (new connection, reused connection) median ms: MCQS /healthz, the bare app served
    # the same way, the bare app in one process.
    reuse: dict[str, tuple[float, float]] = field(default_factory=dict)
    finished: float = 0.0


def run(server_url: str, runs: int, flood_seconds: float, level_seconds: float) -> Results:
    database_url = create_postgres_database(server_url, prefix="mcqs_bench_serving")
    started = time.monotonic()
    load = os.getloadavg()[0]
    try:
        db = Database(database_url)
        with db.engine.connect() as conn:
            version = str(conn.execute(text("SHOW server_version")).scalar_one()).split()[0]
        db.dispose()
        with tempfile.TemporaryDirectory(prefix="mcqs-bench-") as temp, ExitStack() as stack:
            folder = Path(temp)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = environment(database_url, port, str(folder / "simulators"))
            mcqs_cli("migrate", env=env, folder=folder)
            mcqs_cli("seed-demo", env=env, folder=folder)
            db = Database(database_url)
            with db.transaction() as session:
                tacs = [imei[:8] for imei, _b, _m in example_imeis(session, count=10)]
            db.dispose()
            citizens = Citizens(tacs)

            serve = SERVE.format(factory="mcqs_simulators.demo:create_demo_app")
            web_pid = stack.enter_context(
                process("web", [sys.executable, "-c", serve], env, folder)
            )
            worker = [sys.executable, "-m", "mcqs.cli", "worker", "--exit-with-parent"]
            worker_pid = stack.enter_context(process("worker", worker, env, folder))
            wait_ready(f"{base}/healthz", folder, "web")
            print(f"MCQS up on {base} (web pid {web_pid}, worker pid {worker_pid})", flush=True)

            # Warm both web processes (templates, connections) with a few whole flows.
            measured(flows_level(base, citizens, 4, 2.0), web_pid, worker_pid)
            reuse = {"MCQS": reuse_cost(base, "/healthz")}

            # 1. The flood, on one payment a citizen left open at GoldenPay's card page.
            async def pending_payment() -> str:
                citizen, imei, address = citizens.next()
                headers = {"X-Forwarded-For": address}
                async with httpx.AsyncClient(
                    base_url=base, timeout=30, headers=headers, verify=TLS
                ) as b:
                    pay_page = await open_payment(b, citizen, imei)
                    expect(await b.get(pay_page), 200, "GoldenPay card page")
                return str(httpx.URL(pay_page).params["payment_key"])

            key = asyncio.run(pending_payment())
            print("flood...", flush=True)
            flood_found = flood_figures(
                base, key, runs=runs, seconds=flood_seconds, web_pid=web_pid, worker_pid=worker_pid
            )

            # 2. Whole flows per second (GoldenPay answering at once again).
            flows: dict[int, list[Level]] = {c: [] for c in CONCURRENCIES}
            for n in range(runs):
                for concurrency in CONCURRENCIES:
                    print(f"flows, run {n + 1}, {concurrency} citizens...", flush=True)
                    level = measured(
                        flows_level(base, citizens, concurrency, level_seconds),
                        web_pid,
                        worker_pid,
                    )
                    flows[concurrency].append(level)
            stack.close()  # MCQS and its worker stop before the bare app starts

            bare_env = dict(env, PYTHONPATH=str(ROOT / "bench"))
            serve = SERVE.format(factory="bare_app:create_bare_app")
            bare_pid = stack.enter_context(
                process("bare", [sys.executable, "-c", serve], bare_env, folder)
            )
            wait_ready(f"{base}/item", folder, "bare")
            measured(bare_level(base, 4, 1.0), bare_pid, None)
            bare: dict[int, list[Level]] = {c: [] for c in CONCURRENCIES}
            for n in range(runs):
                for concurrency in CONCURRENCIES:
                    print(f"bare app, run {n + 1}, {concurrency} clients...", flush=True)
                    level = measured(
                        bare_level(base, concurrency, level_seconds / 2), bare_pid, None
                    )
                    bare[concurrency].append(level)
            reuse["bare"] = reuse_cost(base, "/item")
            stack.close()

            # The same bare app in a single uvicorn process, for the keep-alive comparison.
            one_env = dict(bare_env, MCQS_WEB_WORKERS="1")
            stack.enter_context(process("bare-one", [sys.executable, "-c", serve], one_env, folder))
            wait_ready(f"{base}/item", folder, "bare-one")
            reuse["bare, one process"] = reuse_cost(base, "/item")
    finally:
        drop_postgres_database(server_url, database_url)
    return Results(
        flood_found, flows, bare, version, started, load, finished=time.monotonic(), reuse=reuse
    )


# ---- the report --------------------------------------------------------------------------


def answers_text(found: list[FloodRun]) -> str:
    total: Counter[str] = Counter()
    for one in found:
        total.update(one.answers)
    names = {"202": "202 pending", "429": "429 limited", "503": "503 GoldenPay too slow"}
    return ", ".join(f"{names.get(k, k)}: {v}" for k, v in sorted(total.items()))


def flood_table(found: dict[str, list[FloodRun]]) -> tuple[str, list[str]]:
    lines = [
        "| condition | /healthz p50 ms | /healthz p99 ms | / p50 ms | / p99 ms "
        "| flood requests/s | getPaymentResult calls per run |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    for mode, label in MODES.items():
        runs = found[mode]
        cells = []
        for path in PROBED:
            p50 = [quantile_ms(r.probes.times[path], 0.5) for r in runs]
            p99 = [quantile_ms(r.probes.times[path], 0.99) for r in runs]
            cells += [spread(p50, "{:.1f}"), spread(p99, "{:.1f}")]
            if mode != "none":
                met = "met" if median(p99) <= GOAL_MS else "**missed**"
                verdicts.append(f"`{path}` p99 {median(p99):.1f} ms {label}: goal {met}")
        rate = spread([r.rate for r in runs]) if mode != "none" else "—"
        calls = ", ".join(str(r.result_calls) for r in runs) if mode != "none" else "—"
        lines.append(f"| {label} | {' | '.join(cells)} | {rate} | {calls} |")
    return "\n".join(lines), verdicts


def flows_table(results: Results) -> str:
    lines = [
        "| concurrent citizens | MCQS flows/s | flow p50 ms | flow p99 ms | MCQS requests/s "
        "| bare app requests/s | bare p99 ms | bare requests/s ÷ MCQS flows/s "
        "| bare ÷ MCQS requests/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in CONCURRENCIES:
        flows, bare = results.flows[c], results.bare[c]
        rate = [r.rate for r in flows]
        bare_rate = [r.rate for r in bare]
        p50 = [quantile_ms(r.times, 0.5) for r in flows]
        p99 = [quantile_ms(r.times, 0.99) for r in flows]
        bare_p99 = [quantile_ms(r.times, 0.99) for r in bare]
        ratio = median(bare_rate) / median(rate)
        request_ratio = ratio / REQUESTS_PER_FLOW
        lines.append(
            f"| {c} | {spread(rate, '{:.1f}')} | {spread(p50)} | {spread(p99)} "
            f"| {median(rate) * REQUESTS_PER_FLOW:.0f} | {spread(bare_rate)} "
            f"| {spread(bare_p99, '{:.1f}')} | {ratio:.0f} | {request_ratio:.1f} |"
        )
    return "\n".join(lines)


def cpu_table(results: Results) -> str:
    """CPU seconds each part used per flow (MCQS) or per request (bare), at 32 citizens."""
    c = CONCURRENCIES[-1]
    flows, bare = results.flows[c], results.bare[c]
    parts = ["web", "worker", "PostgreSQL", "bench client", "other"]
    lines = [
        "| at 32 concurrent | " + " | ".join(parts) + " | wall seconds |",
        "|---|" + "---:|" * (len(parts) + 1),
    ]
    for label, levels in (("MCQS, ms per flow", flows), ("bare app, ms per request", bare)):
        done = sum(level.done for level in levels)
        cells = [f"{sum(level.cpu[p] for level in levels) / done * 1000:.1f}" for p in parts]
        wall = sum(level.seconds for level in levels)
        lines.append(f"| {label} | {' | '.join(cells)} | {wall:.0f} |")
    return "\n".join(lines)


def cpu_line(label: str, busy: list[dict[str, float]]) -> str:
    parts = ["web", "worker", "PostgreSQL", "bench client", "other"]
    cells = [f"{median([b[p] for b in busy]):.2f}" for p in parts]
    return f"| {label} | {' | '.join(cells)} |"


def flood_cpu_table(found: dict[str, list[FloodRun]]) -> str:
    lines = [
        "| cores busy (of 2) | web | worker | PostgreSQL | bench client | other |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [cpu_line(label, [r.cpu for r in found[mode]]) for mode, label in MODES.items()]
    return "\n".join(lines)


def reuse_text(reuse: dict[str, tuple[float, float]]) -> str:
    lines = [
        "| server | new connection per request, p50 ms | reused keep-alive connection, p50 ms |",
        "|---|---:|---:|",
    ]
    names = {
        "MCQS": f"MCQS `/healthz`, {WEB_WORKERS} processes (`serve_factory`)",
        "bare": f"bare app, {WEB_WORKERS} processes (`serve_factory`)",
        "bare, one process": "bare app, 1 process (`MCQS_WEB_WORKERS=1`)",
    }
    for key, (fresh, reused) in reuse.items():
        lines.append(f"| {names[key]} | {fresh:.1f} | {reused:.1f} |")
    return "\n".join(lines)


def report(results: Results, args: argparse.Namespace) -> str:
    flood_found = results.flood
    table, verdicts = flood_table(flood_found)
    errors: Counter[str] = Counter()
    for levels in (*results.flows.values(), *results.bare.values()):
        for level in levels:
            errors.update(level.errors)
    health: Counter[str] = Counter()
    for runs in flood_found.values():
        for one in runs:
            health.update(one.probes.statuses)
    samples = [len(r.probes.times["/healthz"]) for r in flood_found["many"]]
    error_text = failures_text(errors, none="None of the flows or bare requests failed.")
    command = (
        f"make bench  (bench/serving.py --runs {args.runs} --flood-seconds {args.flood_seconds:g} "
        f"--level-seconds {args.level_seconds:g})"
    )
    other = [
        level.cpu["other"] / level.seconds for c in CONCURRENCIES for level in results.flows[c]
    ]
    other += [r.cpu["other"] for runs in flood_found.values() for r in runs]
    fresh, reused = results.reuse["MCQS"]
    one_fresh, one_reused = results.reuse["bare, one process"]
    nagle = reused - fresh > 20 and one_reused - one_fresh < 10
    reuse_finding = (
        f"""**Keep-alive costs about {reused - fresh:.0f} ms a request under `mcqs serve`.** A
request on a reused connection waits for the client's delayed ACK (Nagle's algorithm is left
on), in uvicorn's multi-process mode only: its supervisor binds the listening socket itself
with `proto` 0, so asyncio never sets `TCP_NODELAY` on accepted connections (uvicorn issue
[#3149](https://github.com/Kludex/uvicorn/issues/3149), open for the version pinned here).
A browser reuses its connection for every request after the first, so each of the 8 later
requests of a flow pays it: about {8 * (reused - fresh):.0f} ms of every flow below, and most
of the 1-citizen flow time. The bare app pays the same, being served the same way."""
        if nagle
        else "Reused keep-alive connections cost no more than new ones here."
    )
    goal_met = all(v.endswith("met") for v in verdicts)
    return f"""Measured on {dt.date.today().isoformat()}: {machine()}, PostgreSQL \
{results.postgres_version} on the same machine. `{command}`; the script took \
{results.finished - results.started:.0f} s; load average {results.load:.1f} when it started.

**How to read it.** The system runs as production runs it, in separate processes on
127.0.0.1: the web served by uvicorn in {WEB_WORKERS} processes (`MCQS_WEB_WORKERS={WEB_WORKERS}`,
the import-string factory `mcqs_simulators.demo:create_demo_app` through
`mcqs.cli.serve_factory`, access log on), one `mcqs worker`, and a new PostgreSQL database
migrated and seeded by `mcqs migrate` and `mcqs seed-demo`. The simulators are mounted in the
same web processes, as in `mcqs-demo`, so GoldenPay's and the population registry's work is
done on the same CPUs. Each figure is the median of {args.runs} runs, the lowest and highest in
brackets. **The load generator shares the machine's {os.cpu_count()} cores with the server,
the worker and PostgreSQL**, and so did whatever else ran on the machine: the "cores busy"
tables say how much each used ("other": processes not ours, on average
{median(other):.2f} cores, at most {max(other):.2f}, during the measurements). On a server of
its own every MCQS figure would be better.

{reuse_text(results.reuse)}

{reuse_finding}

### 1. `/healthz` and the home page while one payment's return URL is flooded

GoldenPay's latency set to 1 s (`POST /_sim/goldenpay/sim/latency`) in all three rows. A
citizen opens a payment and leaves it at GoldenPay's card page; then {FLOOD_CONNECTIONS}
keep-alive connections (from a separate process) GET
`/payments/goldenpay/success?payment_key=…` for that payment back to back for
{args.flood_seconds:g} s, while the bench process GETs `/healthz` and `/` one after the other,
each on a new connection, 10 ms apart (about {median(samples):.0f} of each per run under the
heavier flood). "From one client address": every request from 127.0.0.1, so the return
URL's per-client limit (`MCQS_RETURN_LIMIT_PER_CLIENT`, 30 a minute per web process) answers
429 after the first ones. "Every request from another address" (`X-Forwarded-For`, which the
server believes from 127.0.0.1) passes that limit, as a flood from many machines would.
"getPaymentResult calls" is how many result questions GoldenPay received for that key
during each flood: the simulator's `checkCount` read before and after (our own reads taken
out); it counts every caller, the worker's sweep included.

{table}

Flood answers, all runs together: from one address {answers_text(flood_found["one"])}; from
many addresses {answers_text(flood_found["many"])}. Probe answers:
{", ".join(f"`{k}`: {v}" for k, v in sorted(health.items()))}.

{flood_cpu_table(found=flood_found)}

**Against issue 5's goal** (p99 ≤ {GOAL_MS:.0f} ms for `/healthz` and `/` under the flood):
{"met" if goal_met else "**missed**"}. {"; ".join(verdicts)}. The coalescing works: GoldenPay
is asked about the flooded key a few times per flood, not once per request (the issue saw
157 questions in 8 s before it).

### 2. Whole citizen flows per second, next to a bare FastAPI app

GoldenPay answering at once again. Each citizen is a new browser (cookies, keep-alive
connection) from its own address and does a whole registration: GET and POST `/register`
(security code fixed by `MCQS_SECURITY_CODE_FIXED`), GET and POST `/application`, GET and
POST GoldenPay's card page (approved Visa), the return URL (GoldenPay asked, the payment
settled) and the receipt page: {REQUESTS_PER_FLOW} requests, with a distinct valid IMEI each;
the worker registers the devices and sends the SMS meanwhile. Each level runs
{args.level_seconds:g} s a run (a flow under way at the end is finished and counted). The bare
app (`bench/bare_app.py`: one synchronous route doing one primary-key `SELECT` through a
SQLAlchemy pool on the same PostgreSQL) is served the same way ({WEB_WORKERS} uvicorn
processes through `serve_factory`) once MCQS is stopped, {args.level_seconds / 2:g} s a level,
each client on one keep-alive connection. MCQS requests/s is flows/s × {REQUESTS_PER_FLOW}.

{flows_table(results)}

{error_text} "bare requests/s ÷ MCQS flows/s": one citizen's whole registration costs about
as much as that many bare selects; the last column compares request for request. Issue 5
sets no target for these figures.

CPU per flow and per bare request at 32 concurrent, in ms (all runs; PostgreSQL counts the
backends alive at both ends of a level; the worker's share is registering the devices and
sending the SMS):

{cpu_table(results)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    server = os.environ.get("MCQS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    parser.add_argument("--postgres", default=server)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--flood-seconds", type=float, default=8.0)
    parser.add_argument("--level-seconds", type=float, default=6.0)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    results = run(args.postgres, args.runs, args.flood_seconds, args.level_seconds)
    text = report(results, args)
    write_section(Path(args.output), HEADING, text)
    print(text)


if __name__ == "__main__":
    main()
