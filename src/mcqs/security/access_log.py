"""The site's access log, without personal data.

A line per request, in uvicorn's shape (client, request line, status), written by the site
itself (:class:`AccessLog`, the layer just inside the front door; ``serve_factory`` turns
uvicorn's own off and sends ``mcqs.access`` to uvicorn's access handler).

Paths and queries carry secrets: ``/receipts/<code>``, ``/status?code=…`` and
``/verify/<code>`` carry notification codes (a receipt's code opens its status), GoldenPay's
return carries a payment key, and in the demo the simulated population registry's URLs
carry FİNs. They are masked before the line is made, and the rest kept, so that operators
still see which page answered what.

An operator's single EIR check answered 200 writes no line: the networks ask thousands of
times a second and each line would name an IMEI. Most are answered by the front door
(``eir.fast_check.FrontDoor``) before this layer, at no cost at all (uvicorn's own log cost
the check a third of its throughput: docs/benchmarks.md); a check answered by the operator
API behind it (a clone, a first sighting) is left out here. A check refused or failed is
logged like any request."""

from __future__ import annotations

import logging
import re
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MASK = "***"
LOGGER = "mcqs.access"
log = logging.getLogger(LOGGER)

_SECRET_SEGMENT = re.compile(r"(/(?:receipts|verify|persons|id-cards)/)[^/?#\s]+")
_SECRET_QUERY = re.compile(r"([?&](?:code|payment_key|fin|pei)=)[^&#\s]*", re.IGNORECASE)


def mask_path(path: str) -> str:
    return _SECRET_QUERY.sub(rf"\g<1>{MASK}", _SECRET_SEGMENT.sub(rf"\g<1>{MASK}", path))


class AccessLog:
    """Logs each HTTP request as its answer starts (see the module); a request for
    ``unlogged_when_answered`` (the single EIR check's path) only when it was not 200."""

    def __init__(self, app: ASGIApp, *, unlogged_when_answered: str) -> None:
        self.app = app
        self.unlogged_when_answered = unlogged_when_answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                if not (status == 200 and scope["path"] == self.unlogged_when_answered):
                    log.info(*access_record(scope, status))
            await send(message)

        await self.app(scope, receive, send_logged)


def access_record(scope: Scope, status: int) -> tuple[str, str, str, str, str, int]:
    """The message and arguments of a request's line, as uvicorn makes them (its access
    formatter reads the five arguments), the path and query masked."""
    client = scope.get("client")
    path = quote(scope["path"])
    if scope["query_string"]:
        path = f"{path}?{scope['query_string'].decode('latin-1')}"
    return (
        '%s - "%s %s HTTP/%s" %d',
        f"{client[0]}:{client[1]}" if client else "",
        scope["method"],
        mask_path(path),
        scope["http_version"],
        status,
    )
