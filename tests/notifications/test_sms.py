"""The SMS adapter and the SMS-centre simulator, over real HTTP."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from mcqs.errors import ExternalServiceError
from mcqs.notifications.models import new_idempotency_key
from mcqs.notifications.sms import SmsClient
from mcqs_simulators.sms.app import create_app

from conftest import LiveServer, free_port

API_KEY = "test-sms-key"
KEY = {"X-Api-Key": API_KEY}
TEXT = "Hörmətli vətəndaş, İMEİ qeydiyyatı üçün ödəniş qəbul edildi. Kod: ÇĞŞ-ıöüə"


@pytest.fixture(scope="module")
def sms_url() -> Iterator[str]:
    """Base URL of the simulator, mounted under /sms as in the demo, on a real port."""
    app = Starlette(routes=[Mount("/sms", create_app(api_key=API_KEY))])
    with LiveServer(app, free_port()) as server:
        yield f"{server.url}/sms"


@pytest.fixture
def sms(sms_url: str) -> Iterator[SmsClient]:
    with SmsClient(base_url=sms_url, api_key=API_KEY, sender="MCQS") as client:
        yield client


@pytest.fixture
def http(sms_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sms_url, timeout=10) as client:
        yield client


_numbers = iter(range(1_000_000, 9_999_999))


@pytest.fixture
def phone() -> str:
    """A number no other test sends to: the simulator's outbox is shared by the module."""
    return f"+99450{next(_numbers)}"


def test_sent_message_is_kept_intact_and_listed_newest_first(
    sms: SmsClient, http: httpx.Client, phone: str
) -> None:
    first_id = sms.send(to=phone, text="Birinci mesaj", idempotency_key=new_idempotency_key())
    second_id = sms.send(to=phone, text=TEXT, idempotency_key=new_idempotency_key())
    assert uuid.UUID(first_id) and uuid.UUID(second_id) and first_id != second_id

    response = http.get("/api/v1/messages", params={"to": phone}, headers=KEY)
    assert response.status_code == 200
    messages = response.json()
    assert [m["id"] for m in messages] == [second_id, first_id]
    assert messages[0]["to"] == phone
    assert messages[0]["sender"] == "MCQS"
    assert messages[0]["text"] == TEXT
    assert messages[0]["status"] == "accepted"


def test_list_filter_reads_an_unencoded_plus(
    sms: SmsClient, http: httpx.Client, phone: str
) -> None:
    message_id = sms.send(to=phone, text="Salam", idempotency_key=new_idempotency_key())
    # Typed by hand, "?to=+994…" reaches the server as " 994…".
    response = http.get(f"/api/v1/messages?to={phone}", headers=KEY)
    assert [m["id"] for m in response.json()] == [message_id]


def test_outbox_page_shows_the_message_in_baku_time(
    sms: SmsClient, http: httpx.Client, phone: str
) -> None:
    sms.send(to=phone, text=TEXT + " <b>qalın</b>", idempotency_key=new_idempotency_key())
    [kept] = http.get("/api/v1/messages", params={"to": phone}, headers=KEY).json()

    response = http.get("/")  # no key: the outbox is for people watching the demo
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert TEXT in page
    assert "&lt;b&gt;qalın&lt;/b&gt;" in page  # text is shown, never interpreted
    assert phone in page
    baku_time = datetime.fromisoformat(kept["created_at"]).astimezone(ZoneInfo("Asia/Baku"))
    assert baku_time.strftime("%Y-%m-%d %H:%M:%S") in page


def test_outbox_page_lists_newest_first_and_filters_by_number(
    sms: SmsClient, http: httpx.Client, phone: str
) -> None:
    sms.send(to=phone, text="Köhnə mesaj", idempotency_key=new_idempotency_key())
    sms.send(to=phone, text="Təzə mesaj", idempotency_key=new_idempotency_key())
    sms.send(to="+994551112233", text="Başqa nömrəyə", idempotency_key=new_idempotency_key())

    everything = html.unescape(http.get("/").text)
    assert everything.index("Təzə mesaj") < everything.index("Köhnə mesaj")
    assert "Başqa nömrəyə" in everything

    filtered = html.unescape(http.get("/", params={"to": phone}).text)
    assert "Təzə mesaj" in filtered and "Köhnə mesaj" in filtered
    assert "Başqa nömrəyə" not in filtered
    assert not re.search(r'(href|src|action)="/', filtered), "links must stay inside the mount"


def test_wrong_api_key_is_unavailable(sms_url: str, http: httpx.Client, phone: str) -> None:
    with (
        SmsClient(base_url=sms_url, api_key="wrong", sender="MCQS") as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.send(to=phone, text="Salam", idempotency_key=new_idempotency_key())
    assert error.value.code == "sms_unavailable"
    assert http.get("/api/v1/messages", params={"to": phone}, headers=KEY).json() == []


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}])
def test_api_needs_the_key(http: httpx.Client, headers: dict[str, str]) -> None:
    body = {"to": "+994501234567", "text": "Salam", "sender": "MCQS"}
    for response in (
        http.post("/api/v1/messages", json=body, headers=headers),
        http.get("/api/v1/messages", headers=headers),
    ):
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"to": "0501234567", "text": "Salam", "sender": "MCQS"},  # not E.164
        {"to": "994501234567", "text": "Salam", "sender": "MCQS"},
        {"to": "+994 50 123 45 67", "text": "Salam", "sender": "MCQS"},
        {"to": "+994501234567", "text": "", "sender": "MCQS"},
        {"to": "+994501234567", "text": "Salam", "sender": "A-much-too-long-sender"},
        {"to": "+994501234567", "text": "Salam"},
        {"text": "Salam", "sender": "MCQS"},
    ],
)
def test_malformed_message_is_a_422_problem(http: httpx.Client, body: dict[str, str]) -> None:
    response = http.post("/api/v1/messages", json=body, headers=KEY)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"]


def test_message_the_centre_refuses_is_unavailable(sms: SmsClient) -> None:
    with pytest.raises(ExternalServiceError) as error:
        sms.send(to="0501234567", text="Salam", idempotency_key=new_idempotency_key())
    assert error.value.code == "sms_unavailable"


def test_unreachable_centre_is_unavailable() -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    with (
        SmsClient(base_url=nobody_listens, api_key=API_KEY, sender="MCQS") as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.send(to="+994501234567", text="Salam", idempotency_key=new_idempotency_key())
    assert error.value.code == "sms_unavailable"
