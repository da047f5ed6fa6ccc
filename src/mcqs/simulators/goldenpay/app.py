"""GoldenPay simulator: the merchant API and the card page, as DESIGN §3 describes them.

It is a separate party: it shares no code with our adapter (``mcqs.payments.goldenpay``)
and our adapter reaches it only over HTTP. State lives in memory for the life of the
process. A card number or CVV is never kept, not even in memory: a paid session keeps
only the masked number.

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

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from jinja2 import DictLoader, Environment
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from stdnum import luhn

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


class PaymentSessionStore:
    """All payment sessions, behind one lock: the demo serves requests from several threads.

    Every method returns a copy, so nothing outside reads a session while another
    thread changes it.
    """

    def __init__(self, *, lifetime: timedelta, now: Callable[[], datetime]) -> None:
        self._lifetime = lifetime
        self._now = now
        self._lock = threading.Lock()
        self._sessions: dict[str, PaymentSession] = {}

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
        with self._lock:
            self._sessions[session.payment_key] = session
            return replace(session)

    def get(self, payment_key: str) -> PaymentSession | None:
        with self._lock:
            session = self._sessions.get(payment_key)
            return replace(session) if session else None

    def recent(self, limit: int = 50) -> list[PaymentSession]:
        """The newest sessions first (a dict keeps them in the order they were created)."""
        with self._lock:
            return [replace(s) for s in islice(reversed(self._sessions.values()), limit)]

    def open_page(self, payment_key: str) -> PaymentSession | None:
        with self._lock:
            session = self._sessions.get(payment_key)
            if session is None:
                return None
            session.page_opened = True
            return replace(session)

    def count_check(self, payment_key: str) -> PaymentSession | None:
        """A result call: counted, as GoldenPay's ``checkCount`` shows."""
        with self._lock:
            session = self._sessions.get(payment_key)
            if session is None:
                return None
            session.check_count += 1
            return replace(session)

    def settle(self, payment_key: str, card: SimulatedCard) -> PaymentSession | None:
        """Charge the card, or record its decline, once.

        A session that is no longer waiting (already paid, failed, or expired) comes
        back unchanged: a second submit never charges twice.
        """
        with self._lock:
            session = self._sessions.get(payment_key)
            if session is None:
                return None
            now = self._now()
            if session.code != NOT_PAID or session.is_expired(now):
                return replace(session)
            if card.outcome == "approved":
                session.code = PAID
                session.paid_at = now
                session.masked_card = mask_card_number(card.number)
                session.rrn = f"{secrets.randbelow(10**12):012d}"
            else:
                session.code = FAILED
                session.failure_reason = card.outcome
            return replace(session)

    def cancel(self, payment_key: str) -> PaymentSession | None:
        """The cardholder gave up: a waiting session fails; any other stays as it is."""
        with self._lock:
            session = self._sessions.get(payment_key)
            if session is None:
                return None
            if session.code == NOT_PAID and not session.is_expired(self._now()):
                session.code = FAILED
                session.failure_reason = "cancelled"
            return replace(session)


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


# ---- templates ---------------------------------------------------------------------------

_BASE = """<!doctype html>
<html lang="{{ t.html_lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GoldenPay — {% block title %}{{ t.title }}{% endblock %}</title>
<style>
  body { margin: 0; font: 16px/1.5 system-ui, sans-serif; background: #f4f1ea; color: #222; }
  header { background: #1d1d1b; color: #f2b705; padding: .8rem 1.5rem; }
  header b { font-size: 1.3rem; letter-spacing: .04em; }
  header small { color: #ccc; margin-left: .8rem; }
  main { max-width: 44rem; margin: 1.5rem auto; padding: 0 1rem; }
  .panel { background: #fff; border-top: 4px solid #f2b705; border-radius: 4px;
           padding: 1.2rem 1.5rem; margin-bottom: 1.2rem; box-shadow: 0 1px 3px #0002; }
  dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
  dl.summary dt { color: #666; }
  dl.summary dd { margin: 0; font-weight: 600; }
  .field { margin-bottom: .9rem; }
  .field label { display: block; font-weight: 600; margin-bottom: .2rem; }
  .field input { font: inherit; padding: .45rem .6rem; border: 1px solid #aaa;
                 border-radius: 3px; width: 16rem; max-width: 100%; }
  .field input[aria-invalid="true"] { border-color: #b00020; }
  .error { color: #b00020; margin: .2rem 0 0; }
  .alert { background: #fdecea; color: #7a0014; padding: .6rem .9rem; border-radius: 3px; }
  .note { color: #666; font-size: .9rem; }
  button { font: inherit; padding: .5rem 1.4rem; border-radius: 3px; cursor: pointer;
           border: 1px solid #1d1d1b; background: #fff; }
  button.primary { background: #f2b705; border-color: #c99700; font-weight: 700; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e5e0d5; }
  code { font-size: .95em; }
  .nowrap { white-space: nowrap; }
</style>
</head>
<body>
<header><b>GoldenPay</b><small>{{ t.simulator_note }}</small></header>
<main>
{% block content %}{% endblock %}
</main>
</body>
</html>
"""

_TEST_CARDS_TABLE = """<section class="panel">
<h2>{{ t.test_cards }}</h2>
<table>
<thead><tr><th>{{ t.card_number }}</th><th>{{ t.brand }}</th><th>{{ t.outcome }}</th></tr></thead>
<tbody>
{% for card in test_cards %}
<tr><td><code>{{ card.number | group_digits }}</code></td><td>{{ card.brand }}</td>
<td>{{ t[card.outcome] }}</td></tr>
{% endfor %}
</tbody>
</table>
<p class="note">{{ t.test_cards_hint }}</p>
</section>
"""

_PAYPAGE = (
    """{% extends "base.html" %}
{% block content %}
<section class="panel">
<h1>{{ t.title }}</h1>
<dl class="summary">
  <dt>{{ t.merchant }}</dt><dd>{{ merchant_name }}</dd>
  <dt>{{ t.amount }}</dt><dd>{{ amount }}</dd>
  <dt>{{ t.description }}</dt><dd>{{ session.description }}</dd>
  <dt>{{ t.card_type }}</dt><dd>{{ card_type }}</dd>
</dl>
</section>
<section class="panel">
{% if errors %}<p class="alert" role="alert">{{ t.form_has_errors }}</p>{% endif %}
<form method="post" action="{{ form_action }}" autocomplete="off">
{% for name, label, placeholder, autocomplete in fields %}
<div class="field">
  <label for="{{ name }}">{{ t[label] }}</label>
  <input id="{{ name }}" name="{{ name }}" value="{{ values.get(name, '') }}"
         placeholder="{{ placeholder }}" autocomplete="{{ autocomplete }}"
         {% if name == 'cvv' %}type="password" inputmode="numeric" maxlength="3"{% endif %}
         {% if name in errors %}aria-invalid="true" aria-describedby="{{ name }}-error"{% endif %}>
  {% if name in errors %}<p class="error" id="{{ name }}-error">{{ t[errors[name]] }}</p>{% endif %}
</div>
{% endfor %}
<button class="primary" type="submit" name="action" value="pay">{{ t.pay }}</button>
<button type="submit" name="action" value="cancel" formnovalidate>{{ t.cancel }}</button>
</form>
</section>
"""
    + _TEST_CARDS_TABLE
    + "{% endblock %}\n"
)

_NOTICE = """{% extends "base.html" %}
{% block content %}
<section class="panel">
<h1>{{ t.title }}</h1>
<p class="alert">{{ t[message] }}</p>
{% if back_url %}<p><a href="{{ back_url }}">{{ t.back_to_merchant }}</a></p>{% endif %}
</section>
{% endblock %}
"""

_INDEX = (
    """{% extends "base.html" %}
{% block title %}simulator{% endblock %}
{% block content %}
<section class="panel">
<h1>GoldenPay simulator</h1>
<p>This app speaks the GoldenPay merchant API for merchant <code>{{ merchant_name }}</code>,
so MCQS can take payments without a real acquirer. Paths are relative to this page:</p>
<ul>
<li><code>POST web/service/merchant/getPaymentKey</code>: JSON
  <code>{merchantName, amount, cardType, description, lang, hashCode}</code>,
  <code>hashCode = md5(authKey + merchantName + cardType + amount + description)</code></li>
<li><code>GET web/paypage?payment_key=KEY</code>: the card page</li>
<li><code>GET web/service/merchant/getPaymentResult?payment_key=KEY&amp;hash_code=HASH</code>,
  <code>HASH = md5(authKey + KEY)</code></li>
</ul>
<p>After paying, the browser goes to <code>{{ success_url }}?payment_key=KEY</code>;
after a decline or a cancel, to <code>{{ failure_url }}?payment_key=KEY</code>.
A payment session lives {{ session_minutes }} minutes.</p>
<table>
<thead><tr><th>Code</th><th>Meaning</th></tr></thead>
<tbody>
{% for code, meaning in status_codes %}<tr><td>{{ code }}</td><td>{{ meaning }}</td></tr>
{% endfor %}
</tbody>
</table>
</section>
"""
    + _TEST_CARDS_TABLE
    + """
<section class="panel">
<h2>Recent payment sessions</h2>
{% if sessions %}
<table>
<thead><tr><th>Created (Baku)</th><th>Payment key</th><th>Amount</th><th>Type</th>
<th>State</th><th>Card</th><th>Checks</th></tr></thead>
<tbody>
{% for s in sessions %}
<tr><td class="nowrap">{{ s.created }}</td>
<td>{% if s.state == 'waiting' %}<a href="{{ s.pay_url }}"><code>{{ s.key }}</code></a>
{% else %}<code>{{ s.key }}</code>{% endif %}</td>
<td class="nowrap">{{ s.amount }}</td><td>{{ s.card_type }}</td><td>{{ s.state }}</td>
<td>{{ s.masked_card or '' }}</td><td>{{ s.check_count }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p>No payment sessions yet.</p>{% endif %}
</section>
{% endblock %}
"""
)

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
        loader=DictLoader(
            {
                "base.html": _BASE,
                "paypage.html": _PAYPAGE,
                "notice.html": _NOTICE,
                "index.html": _INDEX,
            }
        ),
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
    ) -> None:
        self.merchant_name = merchant_name
        self.auth_key = auth_key
        self.success_url = success_url
        self.failure_url = failure_url
        self.session_minutes = session_minutes
        self.now = now
        self.sessions = PaymentSessionStore(lifetime=timedelta(minutes=session_minutes), now=now)
        self.templates = _templates()

    # -- merchant API --

    async def get_payment_key(self, request: Request) -> Response:
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
) -> Starlette:
    """The GoldenPay simulator for one merchant.

    ``success_url`` and ``failure_url`` are the merchant's return URLs (set per merchant
    at GoldenPay, not per request). ``now`` returns an aware datetime; tests pass a
    clock they control.
    """
    simulator = GoldenPaySimulator(
        merchant_name=merchant_name,
        auth_key=auth_key,
        success_url=success_url,
        failure_url=failure_url,
        session_minutes=session_minutes,
        now=now or _utcnow,
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
        ]
    )
    app.state.goldenpay = simulator
    return app
