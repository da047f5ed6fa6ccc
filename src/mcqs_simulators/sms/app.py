"""Simulator of the SMS centre: accepts messages over HTTP/JSON and keeps them.

Nothing is delivered. Every accepted message is kept (in ``sms.sqlite3`` under the state
directory, or in memory without one) and shown, newest first, on the index page (the
"outbox"), where a demo user reads the SMS MCQS would have sent; tests read them from
``GET /api/v1/messages``. A message sent again with the same ``Idempotency-Key`` is
accepted once. See ``docs/simulators/sms.md``.
"""

from __future__ import annotations

import secrets
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Header, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from jinja2 import Environment
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from mcqs.problems import problem_openapi, problem_response
from mcqs_simulators.state import SimulatorState, state_file

BAKU = ZoneInfo("Asia/Baku")
#: The outbox forgets the oldest messages beyond this many, so a long demo stays small.
OUTBOX_CAPACITY = 1000


class MessageCreate(BaseModel):
    to: str = Field(pattern=r"^\+[1-9][0-9]{7,14}$", description="E.164, e.g. +994501234567")
    text: str = Field(min_length=1, max_length=1600)
    sender: str = Field(min_length=1, max_length=11, description="Alphanumeric sender id")


class MessageAccepted(BaseModel):
    id: str
    status: str = "accepted"


class MessageRead(BaseModel):
    id: str
    to: str
    sender: str
    text: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class KeptMessage:
    id: str
    to: str
    sender: str
    text: str
    created_at: datetime  # UTC


_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    idempotency_key TEXT UNIQUE,
    recipient TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""


class IdempotencyKeyReused(Exception):
    """The key came with another message: a client bug, not a retry."""


def _message_from_row(row: sqlite3.Row) -> KeptMessage:
    return KeptMessage(
        id=row["id"],
        to=row["recipient"],
        sender=row["sender"],
        text=row["text"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class Outbox:
    """Every accepted message, in SQLite, shared by every process of the simulator."""

    def __init__(self, path: Path | None = None, *, capacity: int = OUTBOX_CAPACITY) -> None:
        self._state = SimulatorState(path, schema=_SCHEMA)
        self._capacity = capacity

    def keep(
        self, *, to: str, sender: str, text: str, idempotency_key: str | None = None
    ) -> tuple[KeptMessage, bool]:
        """The message, and whether it is new: a repeat of an accepted key is not kept
        again (a client retrying after a lost answer must not send the SMS twice)."""
        with self._state.transaction() as db:
            if idempotency_key is not None:
                row = db.execute(
                    "SELECT * FROM messages WHERE idempotency_key = ?", (idempotency_key,)
                ).fetchone()
                if row is not None:
                    earlier = _message_from_row(row)
                    if (earlier.to, earlier.sender, earlier.text) != (to, sender, text):
                        raise IdempotencyKeyReused
                    return earlier, False
            message = KeptMessage(
                id=str(uuid.uuid4()), to=to, sender=sender, text=text, created_at=datetime.now(UTC)
            )
            db.execute(
                "INSERT INTO messages (id, idempotency_key, recipient, sender, text, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (message.id, idempotency_key, to, sender, text, message.created_at.isoformat()),
            )
            # Forget the oldest beyond the capacity, so a long demo stays small.
            db.execute(
                "DELETE FROM messages WHERE seq <= (SELECT MAX(seq) FROM messages) - ?",
                (self._capacity,),
            )
        return message, True

    def newest_first(self, *, to: str | None = None) -> list[KeptMessage]:
        with self._state.transaction() as db:
            rows = db.execute(
                "SELECT * FROM messages WHERE ? IS NULL OR recipient = ? ORDER BY seq DESC",
                (to, to),
            ).fetchall()
        return [_message_from_row(row) for row in rows]


def _recipient_filter(to: str | None) -> str | None:
    # In a typed URL "?to=+994…" arrives as " 994…": a query string's "+" is a space.
    if to is None or not to.strip():
        return None
    return "+" + to.strip().lstrip("+")


_PROBLEM_RESPONSES = problem_openapi(401, 422)

_OUTBOX_PAGE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!doctype html>
<html lang="az">
<head>
<meta charset="utf-8">
<title>SMS mərkəzi — simulyator</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; }
 table { border-collapse: collapse; }
 th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
 td.text { white-space: pre-wrap; max-width: 40rem; }
</style>
</head>
<body>
<h1>SMS mərkəzi — simulyator</h1>
<p>SMS centre simulator: nothing is delivered; every message MCQS sent is kept here,
newest first.</p>
<form method="get" action="">
<label>Nömrə / number <input name="to" value="{{ to or '' }}" placeholder="+994501234567">
</label>
<button>Göstər / show</button> <a href="?">hamısı / all</a>
</form>
{% if messages %}
<table>
<thead><tr><th>Vaxt (Bakı)</th><th>Kimə / to</th><th>Göndərən / sender</th><th>Mətn / text</th>
</tr></thead>
<tbody>
{% for m in messages %}
<tr>
<td>{{ m.created_at.astimezone(baku).strftime("%Y-%m-%d %H:%M:%S") }}</td>
<td>{{ m.to }}</td>
<td>{{ m.sender }}</td>
<td class="text">{{ m.text }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p>Mesaj yoxdur. / No messages yet.</p>
{% endif %}
</body>
</html>
"""
)


def create_app(*, api_key: str, state_dir: Path | None = None) -> FastAPI:
    """The SMS centre simulator; every ``/api/v1`` call needs ``X-Api-Key: <api_key>``.
    ``state_dir`` holds ``sms.sqlite3`` (None: in memory)."""
    outbox = Outbox(state_file(state_dir, "sms"))
    api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False)

    def require_api_key(given: str | None = Security(api_key_header)) -> None:
        # Compare bytes: compare_digest refuses non-ASCII str, and a header may hold any.
        if given is None or not secrets.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(401, "A valid X-Api-Key header is required.")

    api = APIRouter(
        prefix="/api/v1", dependencies=[Security(require_api_key)], responses=_PROBLEM_RESPONSES
    )

    @api.post(
        "/messages",
        status_code=201,
        response_model=MessageAccepted,
        responses={
            200: {"model": MessageAccepted, "description": "Already accepted with this key"},
            **problem_openapi(409),
        },
    )
    def accept_message(
        message: MessageCreate,
        response: Response,
        idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
    ) -> MessageAccepted:
        """Accept a message; with ``Idempotency-Key``, a repeat answers 200 and the same id."""
        try:
            kept, is_new = outbox.keep(
                to=message.to,
                sender=message.sender,
                text=message.text,
                idempotency_key=idempotency_key,
            )
        except IdempotencyKeyReused:
            raise HTTPException(
                409, "This Idempotency-Key was already used for another message."
            ) from None
        if not is_new:
            response.status_code = 200
        return MessageAccepted(id=kept.id)

    @api.get("/messages", response_model=list[MessageRead])
    def list_messages(to: str | None = None) -> list[MessageRead]:
        """Kept messages, newest first; ``to`` keeps only those sent to that number."""
        return [
            MessageRead(
                id=m.id,
                to=m.to,
                sender=m.sender,
                text=m.text,
                status="accepted",
                created_at=m.created_at,
            )
            for m in outbox.newest_first(to=_recipient_filter(to))
        ]

    app = FastAPI(title="SMS centre (simulator)", version="1")
    app.include_router(api)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def outbox_page(to: str | None = None) -> HTMLResponse:
        recipient = _recipient_filter(to)
        messages = outbox.newest_first(to=recipient)
        return HTMLResponse(_OUTBOX_PAGE.render(messages=messages, to=recipient, baku=BAKU))

    @app.exception_handler(HTTPException)
    async def http_problem(_request: Request, exc: HTTPException) -> JSONResponse:
        return problem_response(exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Where and why only: echoing the input would copy message text into logs.
        errors: list[dict[str, object]] = [
            {"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        return problem_response(422, "The message is malformed.", errors=errors)

    return app
