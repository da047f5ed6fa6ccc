"""Access logs without personal data.

uvicorn's access log prints every request's path and query: ``/receipts/<code>``,
``/status?code=…`` and ``/verify/<code>`` carry notification codes (a receipt's code opens
its status), GoldenPay's return carries a payment key, and in the demo the simulated
population registry's URLs carry FİNs. The filter masks them and keeps the rest of the
line, so that operators still see which page answered what.

An operator's single EIR check answered 200 is not logged at all: the networks ask
thousands of times a second, each line would name an IMEI, and writing them cost the
check a fifth of its time (docs/benchmarks.md). A check that failed (a bad token, unknown
equipment, a malformed query) is logged like any request."""

from __future__ import annotations

import logging
import re

MASK = "***"
_SECRET_SEGMENT = re.compile(r"(/(?:receipts|verify|persons|id-cards)/)[^/?#\s]+")
# uvicorn's access record: (client, method, path with query, HTTP version, status code)
_UNLOGGED_WHEN_ANSWERED = "/n5g-eir-eic/v1/equipment-status?"
_SECRET_QUERY = re.compile(r"([?&](?:code|payment_key|fin|pei)=)[^&#\s]*", re.IGNORECASE)


def mask_path(path: str) -> str:
    return _SECRET_QUERY.sub(rf"\g<1>{MASK}", _SECRET_SEGMENT.sub(rf"\g<1>{MASK}", path))


class MaskPersonalData(logging.Filter):
    """Rewrites uvicorn's access-log record (its third argument is the path with query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            if args[2].startswith(_UNLOGGED_WHEN_ANSWERED) and args[-1] == 200:
                return False
            record.args = (*args[:2], mask_path(args[2]), *args[3:])
        return True


def mask_access_log() -> None:
    """Install the filter on uvicorn's access logger (once per process)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskPersonalData) for f in logger.filters):
        logger.addFilter(MaskPersonalData())
