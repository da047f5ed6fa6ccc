"""Benchmark: the EIR at national scale, on PostgreSQL.

A new database with a registry of ``--imeis`` (10 million) IMEIs made from the real TACs
of the demo catalogue (a tenth stolen, a tenth inside their grace period, the rest
registered), then:

1. single checks (TS 29.511 ``GET /n5g-eir-eic/v1/equipment-status``, random IMEIs of the
   registry, a bearer token) under ``wrk`` (Debian's; 64 connections, a second process on
   this machine; one thread, then two), next to ``/raw``, a minimal raw ASGI endpoint
   served by the same server processes in the same run (``bench/eir_app.py``); MCQS
   served by ``serve_factory`` as ``mcqs serve`` does, ``MCQS_WEB_WORKERS`` processes;
2. resident memory (VmRSS) of each serving process after the load;
3. bulk status: IMEIs/s of a 100,000-IMEI request;
4. network import: rows/s of a ``--import-rows`` (10 million) file (validate, merge,
   detect), next to a bare ``COPY`` of the same file into an unindexed table: three pairs
   after a small one not timed (:func:`warm_up`), each step after a ``CHECKPOINT``, the
   registry put back as it was before each import; the median ratio is the figure;
5. full list generation with the registry's million stolen IMEIs.

    .venv/bin/python bench/eir.py [--postgres URL] [--imeis 10000000] [--import-rows 10000000]

Smaller runs while iterating: ``MCQS_BENCH_EIR_IMEIS``, ``MCQS_BENCH_EIR_IMPORT_ROWS`` and
``MCQS_BENCH_EIR_SECONDS`` (of wrk per endpoint) set the defaults.

Writes its section of docs/benchmarks.md.

Only the import against a registry built once and kept (the registry takes minutes to
build; the import's figure seconds):

    .venv/bin/python bench/eir.py --only import --registry URL [--runs 3]

builds the registry in the database ``URL`` names the first time (it must exist; it is
kept), then, after a small pair not timed (:func:`warm_up`), for each run puts the registry
back as it was before the import (see :func:`undo_import`) and times a bare ``COPY`` and
the import of the same file, one after the other. Prints the figures, with the load
average; writes nothing to the docs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from report import machine, write_section  # noqa: E402
from serving import checkpoint, process, wait_ready  # noqa: E402

from conftest import create_postgres_database, drop_postgres_database, free_port  # noqa: E402, I001

WEB_WORKERS = int(os.environ.get("MCQS_WEB_WORKERS", "2"))
IMPORT_RUNS = 3  # COPY and import pairs; the median ratio is the figure
DURATION = int(os.environ.get("MCQS_BENCH_EIR_SECONDS", "20"))  # seconds of wrk per endpoint
CONNECTIONS = 64
WRK_THREADS = (1, 2)
CHECK = "/n5g-eir-eic/v1/equipment-status"
SECRET = "bench-operator-secret"


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def build_registry(url: str, imeis: int) -> list[str]:
    """COPY ``imeis`` rows into eir_imeis; returns the TACs used."""
    from mcqs.db import Database
    from mcqs.devices.demo import seed_demo_catalogue
    from mcqs.migrate import upgrade_database

    upgrade_database(url)
    db = Database(url)
    seed_demo_catalogue(db)
    db.dispose()
    with psycopg.connect(libpq(url)) as conn:
        tacs = [row[0] for row in conn.execute("SELECT tac FROM tac_models ORDER BY tac")]
        tacs = tacs[:500]
        now = dt.datetime.now(dt.UTC)
        grace = (now + dt.timedelta(days=20)).isoformat()
        seen = now.isoformat()
        stamp = now.isoformat()
        started = time.perf_counter()
        with conn.cursor().copy(
            "COPY eir_imeis (imei_norm, registered, first_seen_at, grace_until, clone, "
            "blacklist_reason, blacklisted_at, blacklist_source, updated_at) FROM STDIN"
        ) as copy:
            chunk = io.StringIO()
            for i in range(imeis):
                key = f"{tacs[i % len(tacs)]}{i // len(tacs):06d}"
                kind = i % 10
                if kind == 0:
                    line = f"{key}\tf\t\\N\t\\N\tf\tstolen\t{stamp}\tbench\t{stamp}\n"
                elif kind == 1:
                    line = f"{key}\tf\t{seen}\t{grace}\tf\t\\N\t\\N\t\\N\t{stamp}\n"
                else:
                    line = f"{key}\tt\t\\N\t\\N\tf\t\\N\t\\N\t\\N\t{stamp}\n"
                chunk.write(line)
                if i % 200_000 == 199_999:
                    copy.write(chunk.getvalue())
                    chunk = io.StringIO()
            copy.write(chunk.getvalue())
        conn.commit()
        # As autovacuum does soon after a bulk load: statistics, and the visibility map
        # that lets a look-up by key read the index alone.
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) eir_imeis")
        conn.execute("CHECKPOINT")  # the build's WAL written out before anything is timed
        print(f"registry: {imeis} IMEIs in {time.perf_counter() - started:.0f} s", flush=True)
    return tacs


def key_of(i: int, tacs: list[str]) -> str:
    return f"{tacs[i % len(tacs)]}{i // len(tacs):06d}"


def wrk(
    url: str, *, threads: int, script: Path | None, headers: dict[str, str]
) -> dict[str, float]:
    command = ["wrk", f"-t{threads}", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        found = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert rps, out
    return {
        "rps": float(rps.group(1)),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def lua_script(folder: Path, tacs: list[str], imeis: int, *, path: str) -> Path:
    """Each request asks ``path`` about a random IMEI of the registry (the check digit is
    not checked on the network side, so 0 will do). The raw endpoint gets the same script
    with its own path, so that wrk does the same work for both."""
    tac_list = ",".join(f'"{t}"' for t in tacs)
    script = folder / f"random_imei{path.replace('/', '_')}.lua"
    script.write_text(
        f"local tacs = {{{tac_list}}}\n"
        f"local n = {imeis}\n"
        "math.randomseed(os.time())\n"
        "request = function()\n"
        "  local i = math.random(0, n - 1)\n"
        "  local tac = tacs[(i % #tacs) + 1]\n"
        "  local serial = string.format('%06d', math.floor(i / #tacs))\n"
        f"  return wrk.format('GET', '{path}?pei=imei-' .. tac .. serial .. '0')\n"
        "end\n"
    )
    return script


def rss_mb(parent: int) -> dict[int, float]:
    """VmRSS of the serving processes: the parent's children (uvicorn's workers)."""
    children = subprocess.run(
        ["pgrep", "-P", str(parent)], capture_output=True, text=True
    ).stdout.split()
    sizes = {}
    for pid in [int(p) for p in children] or [parent]:
        status = Path(f"/proc/{pid}/status").read_text()
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        if found:
            sizes[pid] = int(found.group(1)) / 1024
    return sizes


def network_file(path: Path, rows: int, tacs: list[str], imeis: int) -> None:
    """A day of ``rows`` sightings: mostly registered phones, one in a thousand new."""
    day = dt.date.today().isoformat()
    with path.open("w") as out:
        out.write("date,imei,imsi,msisdn,rat\n")
        for n in range(rows):
            if n % 1000 == 999:
                key = f"{tacs[n % len(tacs)]}9{n % 100000:05d}"
            else:
                i = (n * 7919) % imeis
                i = i - (i % 10) + 2  # a registered one
                key = key_of(i, tacs)
            out.write(f"{day},{key}0,40001{n:010d},99450{n % 10**7:07d},4G\n")


def copy_seconds(url: str, day: Path) -> float:
    """A bare ``COPY`` of the file into a new unindexed table of text columns."""
    with psycopg.connect(libpq(url)) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute(
            "CREATE TABLE bench_copy (date text, imei text, imsi text, msisdn text, rat text)"
        )
        started = time.perf_counter()
        with (
            conn.cursor().copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            day.open("rb") as source,
        ):
            while block := source.read(1 << 20):
                copy.write(block)
        conn.commit()
        return time.perf_counter() - started


def add_bench_operator(db: Any) -> None:
    """The operator whose day the bench imports (once per database)."""
    from mcqs.eir.operators import add_operator, operator_by_code

    with db.transaction() as session:
        if operator_by_code(session, "azercell") is None:
            add_operator(
                session,
                code="azercell",
                name="Azercell",
                imsi_prefixes=["40001"],
                client_id="bench",
                client_secret=SECRET,
            )


def copy_and_import(db: Any, url: str, day: Path, settings: Any) -> tuple[float, float, Any]:
    """Seconds of a bare ``COPY`` of the file, then of its import (each after a
    checkpoint), and the import's report."""
    from mcqs.eir.network_import import import_network_file

    checkpoint(url)
    copied = copy_seconds(url, day)
    checkpoint(url)
    started = time.perf_counter()
    report = import_network_file(
        db,
        operator_code="azercell",
        content=day.read_bytes(),
        filename="day.csv",
        settings=settings,
        started_by="bench",
    )
    return copied, time.perf_counter() - started, report


def warm_up(db: Any, url: str, folder: Path, tacs: list[str], imeis: int, settings: Any) -> None:
    """A small pair, not timed, before the timed ones. A process's first import pays once
    for what a serving process (the worker, the API) did long before: SQLAlchemy compiling
    its statements, the look-ups' pooled connections, psycopg's adapters — 0.2–0.35 s of
    CPU, a tenth of the import, that the bare ``COPY`` (a new connection, one statement)
    never pays. Without it the first pair of a run was the slowest; with it every pair
    measures both the same way: warm code, after a checkpoint, the registry put back."""
    warm = folder / "warm.csv"
    network_file(warm, 10_000, tacs, imeis)
    undo_import(url)
    copy_and_import(db, url, warm, settings)


def undo_import(url: str) -> None:
    """The registry as it was before the bench's imports: their runs, appended rows,
    folded sightings, SMS and jobs gone, and the IMEIs they made (the file's new ones, all
    with serial numbers from 900000, which the registry's never reach) deleted."""
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("TRUNCATE network_activity, network_sightings_folded, sms_messages, jobs")
        conn.execute("DELETE FROM operator_runs WHERE kind = 'import-network'")
        conn.execute("DELETE FROM eir_imeis WHERE substr(imei_norm, 9, 1) = '9'")
        conn.execute("VACUUM ANALYZE eir_imeis")
        conn.execute("DROP TABLE IF EXISTS bench_copy")


def import_only(url: str, *, imeis: int, rows: int, runs: int) -> None:
    """The import's figure against the registry kept in ``url`` (built there if empty)."""
    from mcqs.config import Settings
    from mcqs.db import Database
    from mcqs.migrate import upgrade_database
    from mcqs.wiring import connect

    upgrade_database(url)
    with psycopg.connect(libpq(url)) as conn:
        held = conn.execute("SELECT count(*) FROM eir_imeis").fetchone()
        tacs = [row[0] for row in conn.execute("SELECT tac FROM tac_models ORDER BY tac")][:500]
    if not held or not held[0]:
        tacs = build_registry(url, imeis)
    elif held[0] < imeis:
        sys.exit(f"{url} holds a registry of {held[0]:,} IMEIs, fewer than {imeis:,}")
    db = Database(url)
    add_bench_operator(db)
    connect()
    settings = Settings(env="test", database_url=url, secret_key="bench-secret-key-01")
    with tempfile.TemporaryDirectory(prefix="mcqs-bench-eir-") as folder_name:
        day = Path(folder_name) / "day.csv"
        network_file(day, rows, tacs, imeis)
        warm_up(db, url, Path(folder_name), tacs, imeis, settings)
        for run in range(runs):
            undo_import(url)
            load = os.getloadavg()[0]
            copied, took, report = copy_and_import(db, url, day, settings)
            steps = ", ".join(f"{step} {seconds:.2f}" for step, seconds in report.seconds.items())
            print(
                f"run {run + 1}: load {load:.1f}; import {took:.2f} s ({rows / took:,.0f} rows/s), "
                f"COPY {copied:.2f} s ({rows / copied:,.0f} rows/s): {copied / took:.0%} of COPY; "
                f"steps {steps}; {report.summary()}",
                flush=True,
            )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=os.environ.get("MCQS_TEST_POSTGRES_URL", ""))
    parser.add_argument(
        "--imeis", type=int, default=int(os.environ.get("MCQS_BENCH_EIR_IMEIS", 10_000_000))
    )
    parser.add_argument(
        "--import-rows",
        type=int,
        default=int(os.environ.get("MCQS_BENCH_EIR_IMPORT_ROWS", 10_000_000)),
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--only", choices=["import"], help="only this figure (see above)")
    parser.add_argument("--registry", help="with --only import: the database to keep it in")
    parser.add_argument("--runs", type=int, default=3, help="with --only import")
    args = parser.parse_args()
    if args.only == "import":
        if not args.registry:
            parser.error("--only import needs --registry URL")
        import_only(args.registry, imeis=args.imeis, rows=args.import_rows, runs=args.runs)
        return
    server_url = args.postgres or "postgresql://postgres@127.0.0.1:5432/postgres"
    url = create_postgres_database(server_url, prefix="mcqs_bench_eir")
    figures: dict[str, object] = {}
    try:
        tacs = build_registry(url, args.imeis)
        from mcqs.config import Settings
        from mcqs.db import Database

        db = Database(url)
        add_bench_operator(db)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "MCQS_ENV": "test",
            "MCQS_DATABASE_URL": libpq(url),
            "MCQS_PORT": str(port),
            "MCQS_WEB_WORKERS": str(WEB_WORKERS),
            "MCQS_SECRET_KEY": "bench-secret-key-0123456789",
            "PYTHONPATH": str(ROOT / "bench"),
        }
        with tempfile.TemporaryDirectory(prefix="mcqs-bench-eir-") as folder_name:
            folder = Path(folder_name)
            started_web = time.monotonic()
            with process(
                "web", [sys.executable, str(ROOT / "bench" / "eir_app.py")], env, folder
            ) as parent:
                wait_ready(f"{base}/raw", folder, "web", seconds=900)
                waited = time.monotonic()
                while len(list(folder.glob("ready-*"))) < WEB_WORKERS:
                    assert time.monotonic() - waited < 900, "the snapshots did not load"
                    time.sleep(0.5)
                figures["snapshot_seconds"] = time.monotonic() - started_web
                print("snapshots loaded", figures["snapshot_seconds"], flush=True)
                token = httpx.post(
                    f"{base}/oauth2/token",
                    data={"grant_type": "client_credentials"},
                    auth=("bench", SECRET),
                ).json()["access_token"]
                auth = {"Authorization": f"Bearer {token}"}
                probe = httpx.get(
                    f"{base}/n5g-eir-eic/v1/equipment-status",
                    params={"pei": f"imei-{key_of(2, tacs)}0"},
                    headers=auth,
                )
                assert probe.json() == {"status": "WHITELISTED"}, probe.text
                figures["rss_before"] = rss_mb(parent)
                figures["load"] = os.getloadavg()[0]
                script = lua_script(folder, tacs, args.imeis, path=CHECK)
                raw_script = lua_script(folder, tacs, args.imeis, path="/raw")
                # wrk with one thread and with two: on two cores its second thread takes
                # a core's share from the servers, and the tail shows it.
                for threads in WRK_THREADS:
                    raw = wrk(f"{base}/raw", threads=threads, script=raw_script, headers={})
                    print("raw", threads, raw, flush=True)
                    eir = wrk(
                        f"{base}{CHECK}",
                        threads=threads,
                        script=script,
                        headers=auth,
                    )
                    print("eir", threads, eir, flush=True)
                    figures[f"raw_t{threads}"], figures[f"eir_t{threads}"] = raw, eir
                figures["rss"] = rss_mb(parent)
                peis = [f"imei-{key_of(n * 97, tacs)}0" for n in range(100_000)]
                # Encoded once, as an operator's system would send a prepared file: the
                # figure is the server's, not this client's JSON encoder's.
                body = json.dumps({"peis": peis}).encode()
                times = []
                figures["load_bulk"] = os.getloadavg()[0]
                with httpx.Client(timeout=120) as http:
                    for _ in range(5):
                        started = time.perf_counter()
                        answer = http.post(
                            f"{base}/operator-api/v1/equipment-status",
                            content=body,
                            headers={**auth, "Content-Type": "application/json"},
                        )
                        times.append(time.perf_counter() - started)
                        assert answer.status_code == 200, answer.text[:300]
                        assert len(answer.json()["results"]) == len(peis)
                figures["bulk_seconds"] = statistics.median(times)
                print("bulk", times, flush=True)

            # Network import vs a bare COPY of the same file, in the same run: IMPORT_RUNS
            # pairs after a small one not timed (warm_up), the registry put back as it was
            # before each import (the last import stays, for the lists).
            day = folder / "day.csv"
            network_file(day, args.import_rows, tacs, args.imeis)
            from mcqs.wiring import connect

            connect()
            settings = Settings(env="test", database_url=url, secret_key="bench-secret-key-01")
            warm_up(db, url, folder, tacs, args.imeis, settings)
            figures["load_import"] = os.getloadavg()[0]
            pairs: list[tuple[float, float]] = []
            for _ in range(IMPORT_RUNS):
                undo_import(url)
                copied, took, report = copy_and_import(db, url, day, settings)
                pairs.append((copied, took))
                print("import", pairs[-1], report.summary(), report.seconds, flush=True)
            figures["import_pairs"] = pairs
            figures["import_report"] = report.summary()
            figures["import_steps"] = report.seconds

        from mcqs.eir.lists import generate_lists
        from mcqs.eir.operators import operator_by_code

        figures["load_lists"] = os.getloadavg()[0]
        started = time.perf_counter()
        with db.transaction() as session:
            operator = operator_by_code(session, "azercell")
            assert operator is not None
            generate_lists(session, operator=operator, now=dt.datetime.now(dt.UTC))
        figures["lists_seconds"] = time.perf_counter() - started
        print("lists", figures["lists_seconds"], flush=True)
        db.dispose()
    finally:
        if not args.keep:
            drop_postgres_database(server_url, url)
    write_report(figures, imeis=args.imeis, rows=args.import_rows)


def write_report(figures: dict[str, object], *, imeis: int, rows: int) -> None:
    rss = figures["rss"]
    assert isinstance(rss, dict)
    bulk = 100_000 / float(figures["bulk_seconds"])  # type: ignore[arg-type]
    pairs = figures["import_pairs"]
    assert isinstance(pairs, list)
    ratios = sorted(copied / imported for copied, imported in pairs)
    ratio_copy = statistics.median(ratios)
    copied, imported = min(pairs, key=lambda pair: abs(pair[0] / pair[1] - ratio_copy))
    import_rate, copy_rate = rows / imported, rows / copied
    runs_text = ", ".join(f"{c:.2f} s / {i:.2f} s" for c, i in pairs)
    sizes = ", ".join(f"{v:.0f}" for v in rss.values())
    taken = figures["import_steps"]
    assert isinstance(taken, dict)
    steps = ", ".join(f"{step} {seconds:.2f}" for step, seconds in taken.items())
    rows_table = ["| figure | MCQS | baseline | goal |", "|---|---|---|---|"]
    for threads in WRK_THREADS:
        raw, eir = figures[f"raw_t{threads}"], figures[f"eir_t{threads}"]
        assert isinstance(raw, dict) and isinstance(eir, dict)
        ratio_rps = eir["rps"] / raw["rps"]
        rows_table += [
            f"| single check, requests/s (wrk, {threads} thread{'s' * (threads > 1)}) "
            f"| {eir['rps']:,.0f} | raw ASGI `/raw`, same server: {raw['rps']:,.0f} "
            f"({ratio_rps:.0%}) | ≥ 50 % of raw |",
            f"| single check p50 / p99 ms (wrk, {threads} thread{'s' * (threads > 1)}) "
            f"| {eir['p50']:.1f} / {eir['p99']:.1f} | raw: {raw['p50']:.1f} / {raw['p99']:.1f} "
            "| p99 ≤ 5 ms |",
            f"| non-2xx answers under load | {eir['non2xx']:.0f} | | 0 |",
        ]
    rows_table += [
        f"| RSS per serving process, MB | {sizes} | | ≤ 300 |",
        f"| bulk status, IMEIs/s (100,000 in one request) | {bulk:,.0f} | | ≥ 500,000 |",
        f"| network import, rows/s ({rows:,} rows; the median of {len(pairs)} runs) "
        f"| {import_rate:,.0f} | bare `COPY`: {copy_rate:,.0f} ({ratio_copy:.0%}; "
        f"{ratios[0]:.0%}–{ratios[-1]:.0%}) | ≥ 50 % of COPY |",
        f"| full lists with {imeis // 10:,} stolen IMEIs, s "
        f"| {float(figures['lists_seconds']):.1f} | | ≤ 10 |",  # type: ignore[arg-type]
    ]
    body = (
        f"`bench/eir.py` ({dt.date.today().isoformat()}; {machine()}; PostgreSQL; "
        f"`make bench-eir`). A registry of {imeis:,} IMEIs from the demo catalogue's real "
        "TACs (a tenth stolen, a tenth in grace, the rest registered). MCQS served by "
        f"`serve_factory` in {WEB_WORKERS} processes; `wrk` with {CONNECTIONS} connections "
        f"for {DURATION} s from a second process on the same cores, with one thread and "
        "then two (on two cores its second thread takes the servers' share), the same "
        "script for both endpoints; random IMEIs of the "
        f"registry. Load average (1 min) as the load began: {figures['load']:.1f} on "
        f"{os.cpu_count()} cores: other work on the machine lowers both columns; the "
        "ratios to the baselines of the same run are what compare.\n\n"
        + "\n".join(rows_table)
        + "\n\nRSS: each process under the supervisor (uvicorn's workers, and "
        "multiprocessing's resource tracker, the small one).\n"
        + f"\nLoad average (1 min) as each part began: wrk {figures['load']:.1f}, bulk "
        f"{figures['load_bulk']:.1f}, import {figures['load_import']:.1f}, lists "
        f"{figures['load_lists']:.1f}. Bulk: the median of 5 requests, the body encoded once "
        "beforehand.\n"
        + f"\nImport: {len(pairs)} runs, each a bare `COPY` of the file then its import "
        "(after a small pair not timed, which warms both; the registry put back as it was before "
        "each import); bare `COPY` / "
        f"import: {runs_text}. The last: {figures['import_report']}; its steps, s: {steps}.\n"
    )
    write_section(ROOT / "docs" / "benchmarks.md", "EIR at national scale", body)
    print(body)


if __name__ == "__main__":
    main()
