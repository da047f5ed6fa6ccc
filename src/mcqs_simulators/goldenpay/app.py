"""GoldenPay simulator: the merchant API and the card page, as DESIGN §3 describes them.

It is a separate party: it shares no code with our adapter (``mcqs.payments.goldenpay``)
and our adapter reaches it only over HTTP. Payment sessions and the latency setting live
in a SQLite file under the state directory (in memory without one), so every web process
of the demo sees the same payments and a restart loses none. A card number or CVV is
never kept, not even in memory: a paid session keeps only the masked number.

``POST sim/latency`` (not part of GoldenPay's API) delays the answers of getPaymentKey
and getPaymentResult, so tests and demos can see what a slow or hanging GoldenPay does.

Every JSON answer carries ``status.code`` (the HTTP status is always 200, as at the
real GoldenPay; the code in the body is what counts):

====  ==============================================================================
1     success (getPaymentKey) / paid (getPaymentResult)
801   invalid hash code
802   invalid or missing field (or a body that is not a JSON object)
803   unknown merchant
804   unknown payment key (getPaymentResult)
813   not paid: pay page not opened, waiting for payment, or the session expired
816   payment failed: card declined, insufficient funds, or cancelled by the cardholder
====  ==============================================================================

All links are relative, so the app works wherever it is mounted (``/_sim/goldenpay``
in the demo, ``/goldenpay`` in the tests, or the root of its own server).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from stdnum import luhn

from mcqs_simulators.state import SimulatorState, state_file

BAKU = ZoneInfo("Asia/Baku")

# status.code values
PAID = 1
INVALID_HASH = 801
INVALID_FIELD = 802
UNKNOWN_MERCHANT = 803
UNKNOWN_PAYMENT_KEY = 804
NOT_PAID = 813
FAILED = 816

CARD_TYPES = {"v": "Visa", "m": "MasterCard"}
LANGUAGES = ("lv", "en", "ru")
MAX_DESCRIPTION_LENGTH = 255


@dataclass(frozen=True)
class SimulatedCard:
    """A documented test card and what paying with it does."""

    number: str
    brand: str
    outcome: str  # approved | declined | insufficient_funds


TEST_CARDS = (
    SimulatedCard("4228650000018101", "Visa", "approved"),
    SimulatedCard("5401680000003106", "MasterCard", "approved"),
    SimulatedCard("4000000000000002", "Visa", "declined"),
    SimulatedCard("4000000000009995", "Visa", "insufficient_funds"),
)
_CARDS_BY_NUMBER = {card.number: card for card in TEST_CARDS}

_FAILURE_MESSAGES = {
    "declined": "Payment failed: card declined",
    "insufficient_funds": "Payment failed: insufficient funds",
    "cancelled": "Payment failed: cancelled by the cardholder",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def mask_card_number(number: str) -> str:
    """``4228650000018101`` → ``422865******8101``, the form GoldenPay reports."""
    return f"{number[:6]}******{number[-4:]}"


def format_amount(amount_qepik: int) -> str:
    whole, qepik = divmod(amount_qepik, 100)
    return f"{whole}.{qepik:02d} AZN"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


@dataclass
class PaymentSession:
    """One payment key and what became of it. Holds no card data beyond the masked number."""

    payment_key: str
    amount_qepik: int
    card_type: str
    description: str
    lang: str
    created_at: datetime
    expires_at: datetime
    page_opened: bool = False
    code: int = NOT_PAID
    failure_reason: str | None = None  # a key of _FAILURE_MESSAGES
    check_count: int = 0
    paid_at: datetime | None = None
    masked_card: str | None = None
    rrn: str | None = None

    def is_expired(self, now: datetime) -> bool:
        """Only a session still waiting for payment can expire."""
        return self.code == NOT_PAID and now >= self.expires_at

    def status_message(self, now: datetime) -> str:
        if self.code == PAID:
            return "success"
        if self.code == FAILED:
            return _FAILURE_MESSAGES[self.failure_reason or "declined"]
        if self.is_expired(now):
            return "Payment session expired"
        return "Waiting for payment" if self.page_opened else "Pay page not called"

    def state(self, now: datetime) -> str:
        """A one-word state for the index page."""
        if self.code == PAID:
            return "paid"
        if self.code == FAILED:
            return "failed"
        return "expired" if self.is_expired(now) else "waiting"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS payment_sessions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    payment_key TEXT NOT NULL UNIQUE,
    amount_qepik INTEGER NOT NULL,
    card_type TEXT NOT NULL,
    description TEXT NOT NULL,
    lang TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    page_opened INTEGER NOT NULL DEFAULT 0,
    code INTEGER NOT NULL,
    failure_reason TEXT,
    check_count INTEGER NOT NULL DEFAULT 0,
    paid_at TEXT,
    masked_card TEXT,
    rrn TEXT
);
CREATE TABLE IF NOT EXISTS latency (
    call TEXT PRIMARY KEY,
    seconds REAL NOT NULL
);
"""
#: The calls whose answer can be delayed, by the name the control endpoint uses.
DELAYABLE_CALLS = ("get_payment_key", "get_payment_result")
_CHANGEABLE = ("page_opened", "code", "failure_reason", "check_count", "paid_at", "masked_card",
               "rrn")  # fmt: skip


def _session_from_row(row: sqlite3.Row) -> PaymentSession:
    def moment(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return PaymentSession(
        payment_key=row["payment_key"],
        amount_qepik=row["amount_qepik"],
        card_type=row["card_type"],
        description=row["description"],
        lang=row["lang"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        page_opened=bool(row["page_opened"]),
        code=row["code"],
        failure_reason=row["failure_reason"],
        check_count=row["check_count"],
        paid_at=moment(row["paid_at"]),
        masked_card=row["masked_card"],
        rrn=row["rrn"],
    )


class PaymentSessionStore:
    """All payment sessions, and the latency set for the merchant API, in SQLite.

    The demo serves requests from several threads and processes; each change is one
    ``BEGIN IMMEDIATE`` transaction, so a session is never changed by two at once.
    Every method returns a fresh copy. ``path`` None keeps everything in memory.
    """

    def __init__(
        self,
        *,
        lifetime: timedelta,
        now: Callable[[], datetime],
        path: Path | None = None,
        latency_seconds: dict[str, float] | None = None,
    ) -> None:
        self._lifetime = lifetime
        self._now = now
        self._state = SimulatorState(path, schema=_SCHEMA)
        if latency_seconds:
            self.set_latency(latency_seconds)

    def create(
        self, *, amount_qepik: int, card_type: str, description: str, lang: str
    ) -> PaymentSession:
        created_at = self._now()
        session = PaymentSession(
            payment_key=str(uuid.uuid4()),
            amount_qepik=amount_qepik,
            card_type=card_type,
            description=description,
            lang=lang,
            created_at=created_at,
            expires_at=created_at + self._lifetime,
        )
        with self._state.transaction() as db:
            db.execute(
                "INSERT INTO payment_sessions (payment_key, amount_qepik, card_type,"
                " description, lang, created_at, expires_at, code) VALUES (?,?,?,?,?,?,?,?)",
                (
                    session.payment_key,
                    amount_qepik,
                    card_type,
                    description,
                    lang,
                    session.created_at.isoformat(),
                    session.expires_at.isoformat(),
                    session.code,
                ),
            )
        return session

    def get(self, payment_key: str) -> PaymentSession | None:
        return self._change(payment_key, lambda _session: None)

    def recent(self, limit: int = 50) -> list[PaymentSession]:
        """The newest sessions first."""
        with self._state.transaction() as db:
            rows = db.execute(
                "SELECT * FROM payment_sessions ORDER BY seq DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_session_from_row(row) for row in rows]

    def open_page(self, payment_key: str) -> PaymentSession | None:
        def opened(session: PaymentSession) -> None:
            session.page_opened = True

        return self._change(payment_key, opened)

    def count_check(self, payment_key: str) -> PaymentSession | None:
        """A result call: counted, as GoldenPay's ``checkCount`` shows."""

        def counted(session: PaymentSession) -> None:
            session.check_count += 1

        return self._change(payment_key, counted)

    def settle(self, payment_key: str, card: SimulatedCard) -> PaymentSession | None:
        """Charge the card, or record its decline, once.

        A session that is no longer waiting (already paid, failed, or expired) comes
        back unchanged: a second submit never charges twice.
        """

        def charged(session: PaymentSession) -> None:
            now = self._now()
            if session.code != NOT_PAID or session.is_expired(now):
                return
            if card.outcome == "approved":
                session.code = PAID
                session.paid_at = now
                session.masked_card = mask_card_number(card.number)
                session.rrn = f"{secrets.randbelow(10**12):012d}"
            else:
                session.code = FAILED
                session.failure_reason = card.outcome

        return self._change(payment_key, charged)

    def cancel(self, payment_key: str) -> PaymentSession | None:
        """The cardholder gave up: a waiting session fails; any other stays as it is."""

        def cancelled(session: PaymentSession) -> None:
            if session.code == NOT_PAID and not session.is_expired(self._now()):
                session.code = FAILED
                session.failure_reason = "cancelled"

        return self._change(payment_key, cancelled)

    def _change(
        self, payment_key: str, change: Callable[[PaymentSession], None]
    ) -> PaymentSession | None:
        """Read a session, let ``change`` alter it, write it back: all under the write lock."""
        with self._state.transaction() as db:
            row = db.execute(
                "SELECT * FROM payment_sessions WHERE payment_key = ?", (payment_key,)
            ).fetchone()
            if row is None:
                return None
            session = _session_from_row(row)
            before = replace(session)
            change(session)
            if session != before:
                values = [getattr(session, name) for name in _CHANGEABLE]
                values = [v.isoformat() if isinstance(v, datetime) else v for v in values]
                assignments = ", ".join(f"{name} = ?" for name in _CHANGEABLE)
                db.execute(
                    f"UPDATE payment_sessions SET {assignments} WHERE payment_key = ?",
                    (*values, payment_key),
                )
        return session

    # -- latency of the merchant API, shared by every process of the simulator --

    def latency(self) -> dict[str, float]:
        with self._state.transaction() as db:
            rows = db.execute("SELECT call, seconds FROM latency").fetchall()
        seconds = {call: 0.0 for call in DELAYABLE_CALLS}
        seconds.update({row["call"]: row["seconds"] for row in rows})
        return seconds

    def set_latency(self, seconds: dict[str, float]) -> dict[str, float]:
        """Change the delay of the calls named; the others keep theirs."""
        with self._state.transaction() as db:
            db.executemany(
                "INSERT INTO latency (call, seconds) VALUES (?, ?)"
                " ON CONFLICT (call) DO UPDATE SET seconds = excluded.seconds",
                list(seconds.items()),
            )
        return self.latency()


# ---- the card page: labels and checks ---------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "lv": {
        "html_lang": "az",
        "title": "Kartla ödəniş",
        "merchant": "Satıcı",
        "amount": "Məbləğ",
        "description": "Təyinat",
        "card_type": "Kartın növü",
        "card_number": "Kartın nömrəsi",
        "expiry": "Etibarlılıq müddəti (AA/İİ)",
        "cvv": "CVV (kartın arxasındakı 3 rəqəm)",
        "cardholder": "Kart sahibi (istəyə görə)",
        "pay": "Ödə",
        "cancel": "Ləğv et",
        "test_cards": "Sınaq kartları",
        "test_cards_hint": "İstənilən gələcək tarix və istənilən 3 rəqəmli CVV işləyir.",
        "brand": "Növ",
        "outcome": "Nəticə",
        "approved": "Təsdiq edilir",
        "declined": "Rədd edilir",
        "insufficient_funds": "Vəsait çatışmır",
        "simulator_note": "Bu, GoldenPay simulyatorudur: real pul köçürülmür.",
        "card_number_invalid": "Kartın nömrəsi düzgün deyil.",
        "card_not_test": "Simulyator yalnız aşağıdakı sınaq kartlarını qəbul edir.",
        "expiry_invalid": "Müddəti AA/İİ şəklində yazın, məsələn 08/29.",
        "expiry_past": "Kartın etibarlılıq müddəti bitib.",
        "cvv_invalid": "CVV 3 rəqəmdən ibarətdir.",
        "form_has_errors": "Ödəniş edilmədi. Qeyd olunan sahələri düzəldin.",
        "session_expired": "Ödəniş sessiyasının vaxtı bitib. Satıcının saytına qayıdıb "
        "yenidən başlayın.",
        "already_paid": "Bu ödəniş artıq edilib.",
        "payment_failed": "Bu ödəniş alınmadı.",
        "unknown_key": "Belə ödəniş tapılmadı.",
        "back_to_merchant": "Satıcının saytına qayıt",
    },
    "en": {
        "html_lang": "en",
        "title": "Card payment",
        "merchant": "Merchant",
        "amount": "Amount",
        "description": "Description",
        "card_type": "Card type",
        "card_number": "Card number",
        "expiry": "Expiry date (MM/YY)",
        "cvv": "CVV (3 digits on the back of the card)",
        "cardholder": "Cardholder name (optional)",
        "pay": "Pay",
        "cancel": "Cancel",
        "test_cards": "Test cards",
        "test_cards_hint": "Any future expiry date and any 3-digit CVV will do.",
        "brand": "Brand",
        "outcome": "Outcome",
        "approved": "Approved",
        "declined": "Declined",
        "insufficient_funds": "Insufficient funds",
        "simulator_note": "This is the GoldenPay simulator: no real money moves.",
        "card_number_invalid": "The card number is not valid.",
        "card_not_test": "The simulator accepts only the test cards listed below.",
        "expiry_invalid": "Enter the expiry date as MM/YY, for example 08/29.",
        "expiry_past": "The card has expired.",
        "cvv_invalid": "The CVV is 3 digits.",
        "form_has_errors": "Nothing was charged. Please correct the marked fields.",
        "session_expired": "This payment session has expired. Return to the merchant and "
        "start again.",
        "already_paid": "This payment has already been made.",
        "payment_failed": "This payment did not go through.",
        "unknown_key": "No such payment.",
        "back_to_merchant": "Return to the merchant",
    },
    "ru": {
        "html_lang": "ru",
        "title": "Оплата картой",
        "merchant": "Продавец",
        "amount": "Сумма",
        "description": "Назначение",
        "card_type": "Тип карты",
        "card_number": "Номер карты",
        "expiry": "Срок действия (ММ/ГГ)",
        "cvv": "CVV (3 цифры на обороте карты)",
        "cardholder": "Владелец карты (необязательно)",
        "pay": "Оплатить",
        "cancel": "Отменить",
        "test_cards": "Тестовые карты",
        "test_cards_hint": "Подойдёт любой будущий срок и любой трёхзначный CVV.",
        "brand": "Тип",
        "outcome": "Результат",
        "approved": "Одобрено",
        "declined": "Отклонено",
        "insufficient_funds": "Недостаточно средств",
        "simulator_note": "Это симулятор GoldenPay: реальные деньги не списываются.",
        "card_number_invalid": "Неверный номер карты.",
        "card_not_test": "Симулятор принимает только тестовые карты, перечисленные ниже.",
        "expiry_invalid": "Введите срок в виде ММ/ГГ, например 08/29.",
        "expiry_past": "Срок действия карты истёк.",
        "cvv_invalid": "CVV состоит из 3 цифр.",
        "form_has_errors": "Оплата не выполнена. Исправьте отмеченные поля.",
        "session_expired": "Сессия оплаты истекла. Вернитесь на сайт продавца и начните заново.",
        "already_paid": "Этот платёж уже выполнен.",
        "payment_failed": "Этот платёж не прошёл.",
        "unknown_key": "Платёж не найден.",
        "back_to_merchant": "Вернуться на сайт продавца",
    },
}

_EXPIRY = re.compile(r"([0-9]{2})\s*/\s*([0-9]{2})")
_CVV = re.compile(r"[0-9]{3}")
_CARD_NUMBER = re.compile(r"[0-9]{12,19}")


def _form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def check_card_form(form: FormData, *, today: date) -> tuple[dict[str, str], SimulatedCard | None]:
    """Check what the cardholder typed: field → label key of the error, and the test card.

    ``today`` is the cardholder's date in Baku: a card is valid through the end of the
    month printed on it.
    """
    errors: dict[str, str] = {}
    card = None
    number = re.sub(r"[\s-]", "", _form_text(form, "card_number"))
    if not _CARD_NUMBER.fullmatch(number) or not luhn.is_valid(number):
        errors["card_number"] = "card_number_invalid"
    else:
        card = _CARDS_BY_NUMBER.get(number)
        if card is None:
            errors["card_number"] = "card_not_test"
    expiry = _EXPIRY.fullmatch(_form_text(form, "expiry"))
    if expiry is None or not 1 <= int(expiry.group(1)) <= 12:
        errors["expiry"] = "expiry_invalid"
    elif (2000 + int(expiry.group(2)), int(expiry.group(1))) < (today.year, today.month):
        errors["expiry"] = "expiry_past"
    if not _CVV.fullmatch(_form_text(form, "cvv")):
        errors["cvv"] = "cvv_invalid"
    return errors, card


def _group_digits(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


STATUS_CODES = (
    (PAID, "success / paid"),
    (INVALID_HASH, "invalid hash code"),
    (INVALID_FIELD, "invalid or missing field"),
    (UNKNOWN_MERCHANT, "unknown merchant"),
    (UNKNOWN_PAYMENT_KEY, "unknown payment key"),
    (NOT_PAID, "not paid: pay page not opened, waiting for payment, or session expired"),
    (FAILED, "payment failed: declined, insufficient funds, or cancelled"),
)

_FORM_FIELDS = (
    # name, label key, placeholder, autocomplete
    ("card_number", "card_number", "0000 0000 0000 0000", "cc-number"),
    ("expiry", "expiry", "MM/YY", "cc-exp"),
    ("cvv", "cvv", "", "cc-csc"),
    ("cardholder", "cardholder", "", "cc-name"),
)


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("mcqs_simulators.goldenpay", "templates"),
        autoescape=True,
    )
    env.filters["group_digits"] = _group_digits
    return env


def _with_payment_key(url: str, payment_key: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{urlencode({'payment_key': payment_key})}"


def _status(code: int, message: str, **fields: Any) -> JSONResponse:
    return JSONResponse({"status": {"code": code, "message": message}, **fields})


# ---- the app -----------------------------------------------------------------------------


class GoldenPaySimulator:
    """The merchant API and the card page for one merchant."""

    def __init__(
        self,
        *,
        merchant_name: str,
        auth_key: str,
        success_url: str,
        failure_url: str,
        session_minutes: int,
        now: Callable[[], datetime],
        state_path: Path | None,
        latency_seconds: dict[str, float],
    ) -> None:
        self.merchant_name = merchant_name
        self.auth_key = auth_key
        self.success_url = success_url
        self.failure_url = failure_url
        self.session_minutes = session_minutes
        self.now = now
        self.sessions = PaymentSessionStore(
            lifetime=timedelta(minutes=session_minutes),
            now=now,
            path=state_path,
            latency_seconds=latency_seconds,
        )
        self.templates = _templates()

    async def _delay(self, call: str) -> None:
        # Read on every call: another process may have changed it through sim/latency.
        seconds = self.sessions.latency()[call]
        if seconds > 0:
            await asyncio.sleep(seconds)

    # -- control of the simulator (not GoldenPay's API) --

    async def latency(self, request: Request) -> Response:
        """GET: the delays in seconds; POST a JSON object of some of them to change them."""
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict) or not body:
                return JSONResponse({"detail": "send a JSON object of delays"}, status_code=422)
            for call, seconds in body.items():
                if call not in DELAYABLE_CALLS:
                    return JSONResponse({"detail": f"unknown call: {call}"}, status_code=422)
                if (
                    isinstance(seconds, bool)
                    or not isinstance(seconds, int | float)
                    or not math.isfinite(seconds)
                    or seconds < 0
                ):
                    return JSONResponse(
                        {"detail": f"{call}: a number of seconds, 0 or more"}, status_code=422
                    )
            return JSONResponse(self.sessions.set_latency(body))
        return JSONResponse(self.sessions.latency())

    # -- merchant API --

    async def get_payment_key(self, request: Request) -> Response:
        await self._delay("get_payment_key")
        try:
            body = await request.json()
        except ValueError:
            return _status(INVALID_FIELD, "request body is not JSON", paymentKey=None)
        error = self._payment_key_request_error(body)
        if error is not None:
            return _status(*error, paymentKey=None)
        session = self.sessions.create(
            amount_qepik=body["amount"],
            card_type=body["cardType"],
            description=body["description"],
            lang=body["lang"],
        )
        return _status(PAID, "success", paymentKey=session.payment_key)

    def _payment_key_request_error(self, body: Any) -> tuple[int, str] | None:
        if not isinstance(body, dict):
            return INVALID_FIELD, "request body must be a JSON object"
        for name in ("merchantName", "amount", "cardType", "description", "lang", "hashCode"):
            if name not in body:
                return INVALID_FIELD, f"missing field: {name}"
        amount = body["amount"]
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            return INVALID_FIELD, "amount must be a positive integer number of qepik"
        if body["cardType"] not in CARD_TYPES:
            return INVALID_FIELD, "cardType must be 'v' or 'm'"
        if body["lang"] not in LANGUAGES:
            return INVALID_FIELD, "lang must be 'lv', 'en' or 'ru'"
        description = body["description"]
        if not isinstance(description, str) or not 0 < len(description) <= MAX_DESCRIPTION_LENGTH:
            return INVALID_FIELD, f"description must be 1 to {MAX_DESCRIPTION_LENGTH} characters"
        if not isinstance(body["hashCode"], str):
            return INVALID_FIELD, "hashCode must be a string"
        if body["merchantName"] != self.merchant_name:
            return UNKNOWN_MERCHANT, "unknown merchant"
        expected = _md5(
            f"{self.auth_key}{self.merchant_name}{body['cardType']}{amount}{description}"
        )
        if not hmac.compare_digest(body["hashCode"], expected):
            return INVALID_HASH, "invalid hash code"
        return None

    async def get_payment_result(self, request: Request) -> Response:
        await self._delay("get_payment_result")
        payment_key = request.query_params.get("payment_key", "")
        hash_code = request.query_params.get("hash_code", "")
        if not payment_key or not hash_code:
            return _status(
                INVALID_FIELD,
                "payment_key and hash_code are required",
                paymentKey=payment_key or None,
            )
        if not hmac.compare_digest(hash_code, _md5(self.auth_key + payment_key)):
            return _status(INVALID_HASH, "invalid hash code", paymentKey=payment_key)
        session = self.sessions.count_check(payment_key)
        if session is None:
            return _status(UNKNOWN_PAYMENT_KEY, "unknown payment key", paymentKey=payment_key)
        paid_at = session.paid_at
        return _status(
            session.code,
            session.status_message(self.now()),
            paymentKey=session.payment_key,
            merchantName=self.merchant_name,
            amount=session.amount_qepik,
            checkCount=session.check_count,
            paymentDate=paid_at.astimezone(BAKU).strftime("%Y-%m-%d %H:%M:%S") if paid_at else None,
            cardNumber=session.masked_card,
            language=session.lang,
            description=session.description,
            rrn=session.rrn,
        )

    # -- the card page --

    async def pay_page(self, request: Request) -> Response:
        payment_key = request.query_params.get("payment_key", "")
        if request.method == "GET":
            session = self.sessions.open_page(payment_key)
        else:
            session = self.sessions.get(payment_key)
        if session is None:
            return self._notice("lv", "unknown_key", status_code=404)

        form = await request.form() if request.method == "POST" else None
        if form is not None and form.get("action") == "cancel":
            session = self.sessions.cancel(payment_key) or session
            return self._redirect_back(session)

        if session.code != NOT_PAID:
            # A repeated submit (or the back button) after the payment was decided.
            if form is not None:
                return self._redirect_back(session)
            message = "already_paid" if session.code == PAID else "payment_failed"
            return self._notice(session.lang, message, back_url=self._back_url(session))
        if session.is_expired(self.now()):
            return self._expired_notice(session)
        if form is None:
            return self._render_pay_page(session, errors={}, values={})

        errors, card = check_card_form(form, today=self.now().astimezone(BAKU).date())
        if errors or card is None:
            # Echo what was typed so it can be corrected, except the CVV.
            values = {
                name: _form_text(form, name) for name in ("card_number", "expiry", "cardholder")
            }
            return self._render_pay_page(session, errors=errors, values=values)
        session = self.sessions.settle(payment_key, card) or session
        if session.code == NOT_PAID:  # expired between the check above and the charge
            return self._expired_notice(session)
        return self._redirect_back(session)

    def _expired_notice(self, session: PaymentSession) -> Response:
        return self._notice(
            session.lang, "session_expired", back_url=self._back_url(session), status_code=410
        )

    def _back_url(self, session: PaymentSession) -> str:
        base = self.success_url if session.code == PAID else self.failure_url
        return _with_payment_key(base, session.payment_key)

    def _redirect_back(self, session: PaymentSession) -> Response:
        return RedirectResponse(self._back_url(session), status_code=303)

    def _render_pay_page(
        self, session: PaymentSession, *, errors: dict[str, str], values: dict[str, str]
    ) -> Response:
        return self._render(
            "paypage.html",
            t=LABELS[session.lang],
            session=session,
            merchant_name=self.merchant_name,
            amount=format_amount(session.amount_qepik),
            card_type=CARD_TYPES[session.card_type],
            # Relative: the page itself is .../web/paypage, wherever the app is mounted.
            form_action="paypage?" + urlencode({"payment_key": session.payment_key}),
            fields=_FORM_FIELDS,
            errors=errors,
            values=values,
            test_cards=TEST_CARDS,
        )

    def _notice(
        self, lang: str, message: str, *, back_url: str | None = None, status_code: int = 200
    ) -> Response:
        return self._render(
            "notice.html",
            t=LABELS[lang],
            message=message,
            back_url=back_url,
            status_code=status_code,
        )

    # -- index --

    async def index(self, request: Request) -> Response:
        now = self.now()
        sessions = [
            {
                "created": s.created_at.astimezone(BAKU).strftime("%Y-%m-%d %H:%M:%S"),
                "key": s.payment_key,
                "pay_url": "web/paypage?" + urlencode({"payment_key": s.payment_key}),
                "amount": format_amount(s.amount_qepik),
                "card_type": CARD_TYPES[s.card_type],
                "state": s.state(now),
                "masked_card": s.masked_card,
                "check_count": s.check_count,
            }
            for s in self.sessions.recent()
        ]
        return self._render(
            "index.html",
            t=LABELS["en"],
            merchant_name=self.merchant_name,
            success_url=self.success_url,
            failure_url=self.failure_url,
            session_minutes=self.session_minutes,
            status_codes=STATUS_CODES,
            test_cards=TEST_CARDS,
            sessions=sessions,
        )

    def _render(self, template: str, *, status_code: int = 200, **context: Any) -> Response:
        html = self.templates.get_template(template).render(**context)
        return HTMLResponse(html, status_code=status_code)


def create_app(
    *,
    merchant_name: str,
    auth_key: str,
    success_url: str,
    failure_url: str,
    session_minutes: int = 15,
    now: Callable[[], datetime] | None = None,
    state_dir: Path | None = None,
    latency_seconds: dict[str, float] | None = None,
) -> Starlette:
    """The GoldenPay simulator for one merchant.

    ``success_url`` and ``failure_url`` are the merchant's return URLs (set per merchant
    at GoldenPay, not per request). ``now`` returns an aware datetime; tests pass a
    clock they control. ``state_dir`` holds ``goldenpay.sqlite3`` (None: in memory).
    ``latency_seconds`` delays ``get_payment_key`` / ``get_payment_result`` from the start;
    given, it replaces what the state directory remembers.
    """
    simulator = GoldenPaySimulator(
        merchant_name=merchant_name,
        auth_key=auth_key,
        success_url=success_url,
        failure_url=failure_url,
        session_minutes=session_minutes,
        now=now or _utcnow,
        state_path=state_file(state_dir, "goldenpay"),
        latency_seconds=latency_seconds or {},
    )
    app = Starlette(
        routes=[
            Route("/", simulator.index, name="goldenpay:index"),
            Route(
                "/web/service/merchant/getPaymentKey",
                simulator.get_payment_key,
                methods=["POST"],
                name="goldenpay:get_payment_key",
            ),
            Route(
                "/web/service/merchant/getPaymentResult",
                simulator.get_payment_result,
                methods=["GET"],
                name="goldenpay:get_payment_result",
            ),
            Route(
                "/web/paypage",
                simulator.pay_page,
                methods=["GET", "POST"],
                name="goldenpay:paypage",
            ),
            Route(
                "/sim/latency",
                simulator.latency,
                methods=["GET", "POST"],
                name="goldenpay:sim_latency",
            ),
        ]
    )
    app.state.goldenpay = simulator
    return app
