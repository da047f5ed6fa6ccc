"""The demo (``mcqs-demo``): its worker is restarted when it dies, and it refuses production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcqs.config import Settings
from mcqs_simulators.config import SimulatorSettings
from mcqs_simulators.demo import WorkerSupervisor, demo_app, restart_delay

# Stands in for `mcqs worker`: a process that runs until it is killed.
FAKE_WORKER = [sys.executable, "-c", "import time; time.sleep(60)"]


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_worker_is_started_again() -> None:
    supervisor = WorkerSupervisor(FAKE_WORKER, first_delay=0.1, poll_seconds=0.05)
    supervisor.start()
    try:
        first = supervisor.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: supervisor.pid not in (None, first))
        second = supervisor.pid
        assert second is not None
        os.kill(second, 0)  # alive
        assert supervisor.restarts == 1
    finally:
        supervisor.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)


def test_stop_ends_the_worker_and_starts_no_other() -> None:
    supervisor = WorkerSupervisor(FAKE_WORKER, first_delay=0.1, poll_seconds=0.05)
    supervisor.start()
    pid = supervisor.pid
    supervisor.stop()
    time.sleep(0.2)
    assert supervisor.pid == pid
    assert supervisor.restarts == 0


def test_a_worker_that_dies_at_once_is_restarted_ever_more_slowly() -> None:
    delays = [0.0]
    for _ in range(6):
        delays.append(restart_delay(0.1, delays[-1], first=1.0, maximum=30.0, quick=10.0))
    assert delays[1:] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    # One that ran a while is restarted at once, and the back-off starts again.
    assert restart_delay(600.0, 30.0, first=1.0, maximum=30.0, quick=10.0) == 0.0


def test_demo_serves_the_app_and_the_simulators(tmp_path: Path) -> None:
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{tmp_path / 'mcqs.sqlite3'}",
        public_url="http://testserver",
    )
    app = demo_app(settings, SimulatorSettings(state_dir=tmp_path / "sim"))
    with TestClient(app) as client:
        for path in ("/_sim/", "/_sim/goldenpay/", "/_sim/sms/", "/_sim/population/"):
            answer = client.get(path)
            assert answer.status_code == 200, path
            # The simulators' own policy (their pages have inline styles), not MCQS's.
            policy = answer.headers["content-security-policy"]
            assert "style-src 'self' 'unsafe-inline'" in policy, path
        assert "unsafe-inline" not in client.get("/").headers["content-security-policy"]
    assert (tmp_path / "sim" / "goldenpay.sqlite3").exists()
    assert (tmp_path / "sim" / "sms.sqlite3").exists()


PARTIES = ("population", "goldenpay", "sms")


def test_demo_refuses_production(tmp_path: Path) -> None:
    settings = Settings(
        env="production",
        secret_key="a-real-production-secret",
        **{f"{party}_base_url": f"https://{party}.example.az" for party in PARTIES},
        egov_discovery_url="https://login.example.az/.well-known/openid-configuration",
    )
    with pytest.raises(RuntimeError, match="production"):
        demo_app(settings, SimulatorSettings(state_dir=tmp_path))
    command = [sys.executable, "-c", "from mcqs_simulators.demo import main; main()"]
    refused = subprocess.run(
        command,
        env={**os.environ, "MCQS_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert refused.returncode == 1
    assert "refuses MCQS_ENV=production" in refused.stderr
    assert not (tmp_path / "var").exists()


def test_the_banner_suggests_an_imei_nobody_applied_for(flow, catalogue, demo_imeis) -> None:
    from mcqs_simulators.demo import unused_demo_imei
    from mcqs_simulators.population.citizens import CITIZENS

    with catalogue.transaction() as session:
        suggested = unused_demo_imei(session)
    assert suggested == demo_imeis[0]
    citizen = CITIZENS[0]
    checked = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(suggested,))
    assert checked.status_code == 303
    with catalogue.transaction() as session:
        next_suggested = unused_demo_imei(session)
    assert next_suggested not in (None, suggested)
    # ... and it goes through the check too.
    checked = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(next_suggested,))
    assert checked.status_code == 303


def test_the_demo_opened_as_localhost_sends_the_browser_to_its_public_url(tmp_path: Path) -> None:
    """Found when issue 6 was replayed: `localhost:8000` answered an English 400."""
    from mcqs_simulators.demo import SendLoopbackNamesHome

    settings = Settings(
        env="test",
        database_url=f"sqlite:///{tmp_path / 'mcqs.sqlite3'}",
        public_url="http://127.0.0.1:8000",
    )
    app = SendLoopbackNamesHome(
        demo_app(settings, SimulatorSettings(state_dir=tmp_path / "sim")),
        public_url=settings.public_url,
    )
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        answer = client.get(
            "/status?code=X", headers={"host": "localhost:8000"}, follow_redirects=False
        )
        assert answer.status_code == 307
        assert answer.headers["location"] == "http://127.0.0.1:8000/status?code=X"
        assert client.get("/", follow_redirects=False).status_code == 200
