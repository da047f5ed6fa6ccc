"""The operator simulator's page under ``/_sim/operator/``: press a button, and a day of an
operator's work runs against MCQS over HTTP (token, checks, upload, lists)."""

from __future__ import annotations

import datetime as dt
import html
import json

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from mcqs_simulators.operator.client import OperatorClient, run_day, subscribers

# TACs of the demo catalogue (Nokia 6300, Xiaomi Redmi 3S, Samsung SM-G920F).
DEMO_TACS = ["35393201", "86365703", "35592207"]


def create_app(*, mcqs_url: str, client_id: str, client_secret: str) -> Starlette:
    last: dict[str, object] = {}

    def index(request: Request) -> Response:
        shown = html.escape(json.dumps(last, indent=2, ensure_ascii=False)) if last else ""
        return HTMLResponse(
            "<h1>Operator simulator</h1>"
            f"<p>Client <code>{html.escape(client_id)}</code> of {html.escape(mcqs_url)}.</p>"
            '<form method="post" action="run-day"><button>Run a day</button></form>'
            f"<pre>{shown}</pre>"
        )

    def run(request: Request) -> Response:
        # Sync: runs in a thread, so it may call the server it is mounted in.
        with httpx.Client(timeout=60) as http:
            client = OperatorClient(
                mcqs_url, client_id=client_id, client_secret=client_secret, http=http
            )
            report = run_day(client, subscribers(20, tacs=DEMO_TACS), day=dt.date.today())
        last.clear()
        last.update(report.__dict__)
        return JSONResponse(last)

    return Starlette(routes=[Route("/", index), Route("/run-day", run, methods=["POST"])])
