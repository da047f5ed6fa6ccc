"""`make run` as a person runs it: a worker that falls silent makes /healthz answer 503;
killed, it is started again and /healthz answers 200 (issue 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from conftest import free_port


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def health(url: str) -> int:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


def worker_pids(demo_pid: int) -> list[int]:
    found = subprocess.run(
        ["pgrep", "-P", str(demo_pid), "-f", "mcqs.cli worker"], capture_output=True, text=True
    )
    return [int(pid) for pid in found.stdout.split()]


def test_the_demo_restarts_a_dead_worker_and_healthz_tells_meanwhile(
    db_url: str, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MCQS_DATABASE_URL": db_url,
        "MCQS_PORT": str(port),
        "MCQS_PUBLIC_URL": url,
        "MCQS_WEB_WORKERS": "1",
        "MCQS_SIM_STATE_DIR": str(tmp_path / "sim"),
        "MCQS_HEALTH_WORKER_SILENT_SECONDS": "3",
        "MCQS_WORKER_POLL_SECONDS": "0.2",
    }
    demo_script = Path(sys.executable).parent / "mcqs-demo"
    demo = subprocess.Popen(
        [str(demo_script)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: health(url) == 200, 60, "the demo with a beating worker")
        [worker] = worker_pids(demo.pid)
        os.kill(worker, signal.SIGSTOP)  # alive but silent: hung, or stuck on a party
        wait_for(lambda: health(url) == 503, 15, "/healthz to notice the silent worker")
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: worker_pids(demo.pid) not in ([], [worker]), 60, "a new worker")
        wait_for(lambda: health(url) == 200, 60, "/healthz to see the new worker")
        [restarted] = worker_pids(demo.pid)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    time.sleep(1)
    try:
        os.kill(restarted, 0)
    except ProcessLookupError:
        return
    state = Path(f"/proc/{restarted}/stat").read_text().split()[2]
    assert state == "Z", "the worker stops with the demo"
