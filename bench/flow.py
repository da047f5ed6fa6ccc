"""Benchmark: the citizen's flow without login, step by step, on SQLite and PostgreSQL.

Runs the whole system in this process (web app and simulators on one uvicorn server, as
``make run`` does), drives N complete registrations over real HTTP, and runs the worker
after each payment. Reports the latency of every step and writes docs/benchmarks.md.

    .venv/bin/python bench/flow.py [--runs 40] [--postgres postgresql://postgres@127.0.0.1/postgres]

There is no target figure yet: these are the baseline later work is compared with.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from report import machine, write_section  # noqa: E402

from mcqs.devices.demo import example_imeis  # noqa: E402
from mcqs.devices.imei import imei_with_check_digit  # noqa: E402
from mcqs.services import Services  # noqa: E402
from mcqs.wiring import connect  # noqa: E402
from mcqs.worker import work_once  # noqa: E402
from mcqs_simulators.population.citizens import CITIZENS, Citizen  # noqa: E402

from conftest import (  # noqa: E402
    create_postgres_database,
    csrf_token_of,
    drop_postgres_database,
    whole_system,
)

STEPS = ("open check form", "check", "application form", "confirm and pay", "pay at GoldenPay",
         "return and settle", "receipt", "receipt PDF", "worker: register + SMS")  # fmt: skip


def run_flows(database_url: str, runs: int) -> dict[str, list[float]]:
    limits = {
        "check_limit_per_client": 10**6,
        "check_limit_per_fin": 10**6,
        "return_limit_per_client": 10**6,  # every flow comes back from 127.0.0.1
        "security_code_limit_per_client": 10**6,
    }
    timings: dict[str, list[float]] = defaultdict(list)
    with whole_system(database_url, **limits) as system:
        with system.db.transaction() as session:
            tacs = [imei[:8] for imei, _brand, _model in example_imeis(session, count=10)]
        services = Services.from_settings(system.settings)
        citizens = [c for c in CITIZENS if c.id_card_valid_until > dt.date.today()]
        connect()
        for n in range(runs):
            imei = imei_with_check_digit(f"{tacs[n % len(tacs)]}{n + 100000:06d}")
            with httpx.Client(base_url=system.url, timeout=30) as browser:
                one_flow(browser, citizens[n % len(citizens)], imei, timings)
            with timed(timings, "worker: register + SMS"):
                assert work_once(system.db, services) >= 2
    return timings


@contextmanager
def timed(timings: dict[str, list[float]], step: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    timings[step].append(time.perf_counter() - start)


def one_flow(
    browser: httpx.Client, citizen: Citizen, imei: str, timings: dict[str, list[float]]
) -> None:
    """What a citizen's browser does, from the check form to the PDF receipt."""
    with timed(timings, "open check form"):
        page = browser.get("/register")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    assert code_id
    form = {
        "id_card": citizen.id_card,
        "fin": citizen.fin,
        "imei_1": imei,
        "security_code": "12345",
        "security_code_id": code_id.group(1),
        "csrf_token": csrf_token_of(page.text),
    }
    with timed(timings, "check"):
        checked = browser.post("/register", data=form)
    assert checked.status_code == 303, checked.text[:300]
    with timed(timings, "application form"):
        application = browser.get("/application")
    code = re.search(r'name="code" value="([0-9A-Z]+)"', application.text)
    assert code
    pay = {
        "code": code.group(1),
        "phone": "0501234567",
        "card_type": "v",
        "csrf_token": csrf_token_of(application.text),
    }
    with timed(timings, "confirm and pay"):
        confirmed = browser.post("/application", data=pay)
    card = {"card_number": "4228650000018101", "expiry": "12/30", "cvv": "123", "action": "pay"}
    with timed(timings, "pay at GoldenPay"):
        paid = browser.post(confirmed.headers["location"], data=card)
    with timed(timings, "return and settle"):
        back = browser.get(paid.headers["location"])
    assert back.status_code == 303, f"return: {back.status_code} {back.text[:300]}"
    receipt_url = back.headers["location"]
    with timed(timings, "receipt"):
        assert browser.get(receipt_url).status_code == 200
    with timed(timings, "receipt PDF"):
        assert browser.get(f"{receipt_url}/pdf").content.startswith(b"%PDF")


def ms(values: list[float], q: float) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgres", default=os.environ.get("MCQS_TEST_POSTGRES_URL", ""))
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()

    results: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["SQLite"] = run_flows(f"sqlite:///{folder}/bench.sqlite3", args.runs)
    if args.postgres:
        url = create_postgres_database(args.postgres, prefix="mcqs_bench")
        try:
            results["PostgreSQL"] = run_flows(url, args.runs)
        finally:
            drop_postgres_database(args.postgres, url)

    kinds = list(results)
    header = "| step | " + " | ".join(f"{k} p50 ms | {k} p95 ms" for k in kinds) + " |"
    lines = [header, "|---|" + "---:|---:|" * len(kinds)]
    for name in STEPS:
        cells = " | ".join(
            f"{ms(results[k][name], 0.5)} | {ms(results[k][name], 0.95)}" for k in kinds
        )
        lines.append(f"| {name} | {cells} |")
    totals = " | ".join(
        f"{sum(statistics.fmean(results[k][s]) for s in STEPS) * 1000:.0f} (mean) | " for k in kinds
    )
    lines.append(f"| **whole flow** | {totals} |")
    table = "\n".join(lines)
    command = f"make bench  (bench/flow.py --runs {args.runs})"
    report = f"""Measured on {dt.date.today().isoformat()}: {machine()}.
`{command}`, PostgreSQL {"included" if args.postgres else "not set (MCQS_TEST_POSTGRES_URL)"}.

{args.runs} complete registrations, one after another, over real HTTP to one uvicorn server
that serves the app and the simulators (as `make run` does); the worker runs in the same
process after each payment. Latency per step, as the citizen's browser sees it; the
GoldenPay, population-registry and SMS calls go over loopback HTTP to the simulators.

{table}

No issue names a target for these yet; they are the baseline to compare with. Compare
figures of one run only: this shared machine's speed differs from day to day (the receipt
PDF, whose code did not change, took 124 ms on 2026-11-25 and 268 ms on 2026-11-29).
"""
    write_section(Path(args.output), "Citizen flow without login (`bench/flow.py`)", report)
    print(report)


if __name__ == "__main__":
    main()
