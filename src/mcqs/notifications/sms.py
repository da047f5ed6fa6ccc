"""Adapter for the SMS centre's HTTP/JSON API (``POST /api/v1/messages``).

A message carries a phone number and often a code or a name, so neither the number
nor the text is ever logged. The API is described in ``docs/simulators/sms.md``; a
production SMSC speaking SMPP would get an adapter with the same ``send``.
"""

from __future__ import annotations

import logging

import httpx
from pydantic import BaseModel, Field, ValidationError

from mcqs.errors import ExternalServiceError
from mcqs.http_adapter import HttpAdapter

logger = logging.getLogger(__name__)

UNAVAILABLE = "sms_unavailable"


class _Accepted(BaseModel):
    id: str = Field(min_length=1)


class SmsClient(HttpAdapter):
    """Client of the SMS centre, safe to share between threads."""

    def __init__(self, *, base_url: str, api_key: str, sender: str, timeout: float = 10.0) -> None:
        self._sender = sender
        super().__init__(
            base_url=base_url,
            headers={"X-Api-Key": api_key, "Accept": "application/json"},
            timeout=timeout,
        )

    def send(self, *, to: str, text: str, idempotency_key: str) -> str:
        """Hand one message to the SMS centre; returns its id for the message.

        ``to`` is E.164 (``+994501234567``). The SMS centre keeps one message per
        ``idempotency_key``: a repeated send answers the first one's id (200) and
        delivers nothing again. Any failure — network, timeout, refused key,
        a rejected message, a reply without an id — raises
        ``ExternalServiceError("sms_unavailable")``; the caller's job retries.
        """
        try:
            response = self._http.post(
                "/api/v1/messages",
                json={"to": to, "text": text, "sender": self._sender},
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.HTTPError as exc:
            logger.warning("SMS centre unreachable: %s", type(exc).__name__)
            raise ExternalServiceError(UNAVAILABLE) from None
        if response.status_code not in (200, 201):
            logger.warning("SMS centre answered HTTP %s", response.status_code)
            raise ExternalServiceError(UNAVAILABLE)
        try:
            accepted = _Accepted.model_validate_json(response.content)
        except ValidationError:
            logger.warning("SMS centre accepted a message but answered no message id")
            raise ExternalServiceError(UNAVAILABLE) from None
        return accepted.id
