"""The TS 29.511 single check's lean path: a raw ASGI answer for the common case.

An operator's EIR asks about every attach, so this one route skips the site's FastAPI
machinery (dependency injection, exception middleware, a thread hop) when it can answer
for certain: the query is valid (the same :func:`mcqs.eir.status.check_query`), the bearer
token is valid with the scope (checked by :func:`mcqs.eir.operators.verify_token`, then
remembered by the token for a minute, never past its expiry) and the IMEI is known and not
a clone (whose answer depends on the pairing list). Everything else — a malformed query, no
or a bad token, unknown equipment, a clone — goes on to the FastAPI route, which answers as
it always did (ProblemDetails, first sighting); so the two cannot disagree on an error.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from mcqs.db import Database
from mcqs.eir.models import EquipmentStatus
from mcqs.eir.operators import SCOPE_EIR, OperatorAuthError, verify_token
from mcqs.eir.snapshot import (
    CLONE,
    GRACE,
    STATUS_OF_CODE,
    STOLEN,
    StatusSnapshot,
    decide_code,
    micros,
)
from mcqs.eir.status import check_query, equipment_status

log = logging.getLogger(__name__)

CHECK_PATH = "/n5g-eir-eic/v1/equipment-status"
_TOKEN_MEMORY_SECONDS = 60.0
_TOKEN_MEMORY_SIZE = 10_000
_BODIES = {status: f'{{"status":"{status.value}"}}'.encode() for status in EquipmentStatus}


class FastStatusCheck:
    """``await check(scope)``: the status when it can answer for certain, else None."""

    def __init__(
        self,
        *,
        secret_key: str,
        db: Database,
        snapshot: StatusSnapshot | None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.secret_key = secret_key
        self.db = db
        self.snapshot = snapshot
        self.clock = clock
        # Authorization header → (remembered until, monotonic seconds; expires at, epoch s)
        self._tokens: dict[bytes, tuple[float, float]] = {}

    async def __call__(self, scope: Scope) -> EquipmentStatus | None:
        """The status to answer with, or None to go the long way."""
        params = _query(scope["query_string"])
        given = dict(params)
        if len(given) != len(params):
            return None  # a repeated parameter: the framework's reading of it decides
        imei_norm, imsi, msisdn, wrong = check_query(
            given.get("pei"), given.get("supi"), given.get("gpsi")
        )
        if wrong or imei_norm is None:
            return None
        now = self.clock()
        if not self._authorised(scope, now):
            return None
        return await self._status(imei_norm, imsi, msisdn, now)

    def _authorised(self, scope: Scope, now: dt.datetime) -> bool:
        header = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        known = self._tokens.get(header)
        if known is not None and known[0] > time.monotonic() and known[1] > now.timestamp():
            return True
        kind, _, token_bytes = header.partition(b" ")
        if kind.lower() != b"bearer":
            return False
        token = token_bytes.strip().decode("latin-1")
        if not token:
            return False
        try:
            who = verify_token(token, secret_key=self.secret_key, now=now)
        except OperatorAuthError:
            return False
        if SCOPE_EIR not in who.scopes:
            return False
        if len(self._tokens) >= _TOKEN_MEMORY_SIZE:
            self._tokens.clear()
        self._tokens[header] = (time.monotonic() + _TOKEN_MEMORY_SECONDS, who.expires_at)
        return True

    async def _status(
        self, imei_norm: str, imsi: str | None, msisdn: str | None, now: dt.datetime
    ) -> EquipmentStatus | None:
        snapshot = self.snapshot
        if snapshot is not None:
            if not snapshot.ready:
                snapshot.start_once()
            if snapshot.ready:
                found = snapshot.lookup(int(imei_norm))
                if found is None:
                    return None  # unknown: the route answers 404 or starts a grace period
                flags, grace_us = found
                if not (flags & CLONE) or flags & STOLEN:
                    now_us = micros(now) if flags & GRACE else 0
                    return STATUS_OF_CODE[decide_code(flags, grace_us, now_us)]
        return await run_in_threadpool(self._from_database, imei_norm, imsi, msisdn, now)

    def _from_database(
        self, imei_norm: str, imsi: str | None, msisdn: str | None, now: dt.datetime
    ) -> EquipmentStatus | None:
        with self.db.reading() as session:
            return equipment_status(session, imei_norm=imei_norm, imsi=imsi, msisdn=msisdn, now=now)


def _query(raw: bytes) -> list[tuple[str, str]]:
    """``parse_qsl(…, keep_blank_values=True)`` of a query string; split by hand when it
    has nothing to decode (an operator's ``pei=imei-…``), at a third of the cost."""
    text = raw.decode("latin-1")
    if "%" in text or "+" in text:
        return parse_qsl(text, keep_blank_values=True)
    return [
        (name, value)
        for name, _, value in (part.partition("=") for part in text.split("&") if part)
    ]


class FrontDoor:
    """The site's outermost ASGI layer: a GET of the single check is answered here, before
    any middleware, when :class:`FastStatusCheck` can answer it; every other request, and
    a check it cannot answer, goes on to ``app`` (the whole stack, where the operator API
    answers it). ``headers`` are what the site's middleware would have added to the answer
    (security headers, ``no-store``); ``allowed_hosts`` is the site's list: a request for
    a host not named in it exactly goes on, to be refused there."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        check: FastStatusCheck,
        allowed_hosts: list[str],
        headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.app = app
        self.check = check
        self.any_host = "*" in allowed_hosts
        self.hosts = frozenset(host.lower().encode("latin-1") for host in allowed_hosts)
        self.answers = {
            status: [
                *headers,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            for status, body in _BODIES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == CHECK_PATH
            and scope["method"] == "GET"
            and self._host_allowed(scope)
        ):
            try:
                status = await self.check(scope)
            except Exception:  # the long way answers it, with its ProblemDetails
                log.exception("the single check's lean path failed; going the long way")
                status = None
            if status is not None:
                await send(
                    {"type": "http.response.start", "status": 200, "headers": self.answers[status]}
                )
                await send({"type": "http.response.body", "body": _BODIES[status]})
                return
        await self.app(scope, receive, send)

    def _host_allowed(self, scope: Scope) -> bool:
        if self.any_host:
            return True
        for name, value in scope["headers"]:
            if name == b"host":
                return value.partition(b":")[0].lower() in self.hosts
        return False
