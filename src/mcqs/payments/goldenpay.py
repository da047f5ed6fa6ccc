"""Our side of GoldenPay's merchant API (DESIGN §3): a small synchronous client.

GoldenPay answers every call with ``status.code`` in the JSON body; the HTTP status is
200 even for errors. Only the result call is trusted: the browser's return to our
success URL is unsigned.

Anything we cannot use — a network failure, a timeout, a body that is not the expected
JSON, an error code — raises ``ExternalServiceError("goldenpay_unavailable")`` with a
``detail`` for the log. The result codes 1 (paid), 813 (not paid yet) and 816 (failed)
are answers, not errors.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx

from mcqs.errors import ExternalServiceError
from mcqs.http_adapter import HttpAdapter
from mcqs.localtime import BAKU  # GoldenPay reports paymentDate in Baku wall-clock time

CODE_SUCCESS = 1
CODE_WAITING = 813
CODE_FAILED = 816
# GoldenPay does not know the key (the simulator's 804; set here for the real service's code
# once GoldenPay documents it). A key GoldenPay does not know was never paid.
CODE_UNKNOWN_KEY = 804
_RESULT_CODES = {CODE_SUCCESS, CODE_WAITING, CODE_FAILED, CODE_UNKNOWN_KEY}

PAYMENT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# The card page's language (getPaymentKey's ``lang``) for each of ours: GoldenPay's protocol
# calls Azerbaijani "lv".
PAGE_LANGUAGES: dict[str, str] = {"az": "lv", "en": "en", "ru": "ru"}

# Why a payment was not made: GoldenPay says it only in ``status.message`` (816 "Payment
# failed: card declined", "…: insufficient funds", "…: cancelled by the cardholder"; 813
# "Payment session expired"). Matched on words, case-insensitively; words we do not know
# give "failed", a message the citizen can still act on.
_FAILURE_WORDS = (
    ("insufficient", "insufficient_funds"),
    ("declined", "declined"),
    ("cancel", "cancelled"),
    ("expired", "expired"),
)


@dataclass(frozen=True)
class PaymentResult:
    """GoldenPay's answer to ``getPaymentResult``."""

    code: int  # 1 paid, 813 waiting, 816 failed
    message: str
    payment_key: str
    amount_qepik: int | None
    check_count: int | None
    paid_at: datetime | None  # aware UTC; set only when paid
    masked_card: str | None
    rrn: str | None
    raw: dict[str, Any]  # the JSON body as received, for our payment_events record

    @property
    def paid(self) -> bool:
        return self.code == CODE_SUCCESS

    @property
    def failed(self) -> bool:
        return self.code == CODE_FAILED

    @property
    def waiting(self) -> bool:
        return self.code == CODE_WAITING

    @property
    def unknown_key(self) -> bool:
        return self.code == CODE_UNKNOWN_KEY

    @property
    def session_expired(self) -> bool:
        """GoldenPay's own word that nobody can pay this session any more."""
        return self.waiting and failure_reason(self.code, self.message) == "expired"

    @property
    def failure_reason(self) -> str | None:
        """A ``FailureReason`` value when this answer says the payment was not made."""
        return failure_reason(self.code, self.message)


def failure_reason(code: int, message: str) -> str | None:
    """Why GoldenPay did not take a payment, from its result's code and message; None when
    it was paid or may still be."""
    words = message.lower()
    if code == CODE_FAILED:
        return next((reason for word, reason in _FAILURE_WORDS if word in words), "failed")
    if code == CODE_WAITING and "expired" in words:
        return "expired"
    return None


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def _unavailable(detail: str) -> ExternalServiceError:
    return ExternalServiceError("goldenpay_unavailable", detail=detail)


def parse_payment_date(value: str) -> datetime:
    """GoldenPay's ``paymentDate`` is Baku wall-clock time; we keep aware UTC."""
    local = datetime.strptime(value, PAYMENT_DATE_FORMAT).replace(tzinfo=BAKU)
    return local.astimezone(UTC)


class GoldenPayClient(HttpAdapter):
    """Talks to GoldenPay (or its simulator) at ``base_url`` for one merchant.

    Holds one HTTP connection pool; call ``close()`` (or use it as a context manager)
    when done.
    """

    def __init__(
        self,
        *,
        base_url: str,
        merchant_name: str,
        auth_key: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.merchant_name = merchant_name
        self._auth_key = auth_key
        # Requests go to absolute URLs built from ``self.base_url``.
        super().__init__(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )

    def get_payment_key(
        self, *, amount_qepik: int, card_type: str, description: str, lang: str
    ) -> str:
        """Open a payment session; the citizen then pays at ``pay_page_url(key)``."""
        hash_code = _md5(
            f"{self._auth_key}{self.merchant_name}{card_type}{amount_qepik}{description}"
        )
        body = self._call(
            "getPaymentKey",
            "POST",
            json={
                "merchantName": self.merchant_name,
                "amount": amount_qepik,
                "cardType": card_type,
                "description": description,
                "lang": lang,
                "hashCode": hash_code,
            },
        )
        code, message = _status(body, "getPaymentKey")
        if code != CODE_SUCCESS:
            raise _unavailable(f"getPaymentKey answered {code}: {message}")
        payment_key = body.get("paymentKey")
        if not isinstance(payment_key, str) or not payment_key:
            raise _unavailable("getPaymentKey answered success without a paymentKey")
        return payment_key

    def get_payment_result(self, payment_key: str) -> PaymentResult:
        """Ask whether a payment went through. Each call raises GoldenPay's ``checkCount``."""
        body = self._call(
            "getPaymentResult",
            "GET",
            params={"payment_key": payment_key, "hash_code": _md5(self._auth_key + payment_key)},
        )
        code, message = _status(body, "getPaymentResult")
        if code not in _RESULT_CODES:
            raise _unavailable(f"getPaymentResult answered {code}: {message}")
        answered_key = body.get("paymentKey")
        if answered_key is not None and answered_key != payment_key:
            raise _unavailable("getPaymentResult answered about another payment key")
        paid_at = None
        if code == CODE_SUCCESS:
            payment_date = body.get("paymentDate")
            try:
                paid_at = parse_payment_date(str(payment_date))
            except ValueError as exc:
                raise _unavailable(f"paid, but paymentDate is {payment_date!r}") from exc
        return PaymentResult(
            code=code,
            message=message,
            payment_key=payment_key,
            amount_qepik=_int_or_none(body.get("amount")),
            check_count=_int_or_none(body.get("checkCount")),
            paid_at=paid_at,
            masked_card=_str_or_none(body.get("cardNumber")),
            rrn=_str_or_none(body.get("rrn")),
            raw=body,
        )

    def pay_page_url(self, payment_key: str) -> str:
        """Where to send the citizen's browser to enter the card."""
        return f"{self.base_url}/web/paypage?{urlencode({'payment_key': payment_key})}"

    def _call(self, operation: str, method: str, **kwargs: Any) -> dict[str, Any]:
        url = f"{self.base_url}/web/service/merchant/{operation}"
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise _unavailable(f"{operation}: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code != 200:
            raise _unavailable(f"{operation}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise _unavailable(f"{operation}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise _unavailable(f"{operation}: the answer is not a JSON object")
        return body


def _status(body: dict[str, Any], operation: str) -> tuple[int, str]:
    status = body.get("status")
    if not isinstance(status, dict):
        raise _unavailable(f"{operation}: the answer has no status")
    code, message = status.get("code"), status.get("message")
    if isinstance(code, bool) or not isinstance(code, int):
        raise _unavailable(f"{operation}: the answer has no status code")
    return code, message if isinstance(message, str) else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    # Lenient: an rrn sent as a JSON number is still the rrn.
    if isinstance(value, int | str) and not isinstance(value, bool):
        return str(value)
    return None
