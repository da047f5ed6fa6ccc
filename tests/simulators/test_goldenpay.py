"""The GoldenPay simulator against the merchant protocol of DESIGN §3."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mcqs_simulators.goldenpay.app import TEST_CARDS, PaymentSessionStore, create_app

from conftest import LiveServer, free_port

MERCHANT = "mcqs-test"
AUTH_KEY = "simulator-test-auth-key"
SUCCESS_URL = "http://merchant.test/payments/goldenpay/success"
FAILURE_URL = "http://merchant.test/payments/goldenpay/failure"

# The documented test cards.
APPROVED_VISA = "4228650000018101"
APPROVED_MASTERCARD = "5401680000003106"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"

START = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)  # 12:00 in Baku (UTC+4)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    app = create_app(
        merchant_name=MERCHANT,
        auth_key=AUTH_KEY,
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        session_minutes=15,
        now=clock,
    )
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def key_request(
    *,
    amount: Any = 2000,
    card_type: str = "v",
    description: str = "IMEI 356938035643809",
    lang: str = "lv",
    merchant: str = MERCHANT,
) -> dict[str, Any]:
    """A getPaymentKey body, correctly signed for the values given."""
    return {
        "merchantName": merchant,
        "amount": amount,
        "cardType": card_type,
        "description": description,
        "lang": lang,
        "hashCode": md5(f"{AUTH_KEY}{merchant}{card_type}{amount}{description}"),
    }


def get_key(client: TestClient, **overrides: Any) -> str:
    response = client.post("/web/service/merchant/getPaymentKey", json=key_request(**overrides))
    body = response.json()
    assert body["status"] == {"code": 1, "message": "success"}, body
    return str(body["paymentKey"])


def get_result(client: TestClient, payment_key: str) -> dict[str, Any]:
    response = client.get(
        "/web/service/merchant/getPaymentResult",
        params={"payment_key": payment_key, "hash_code": md5(AUTH_KEY + payment_key)},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def pay(
    client: TestClient,
    payment_key: str,
    card_number: str = APPROVED_VISA,
    *,
    expiry: str = "12/27",
    cvv: str = "123",
    action: str = "pay",
) -> httpx.Response:
    return client.post(
        "/web/paypage",
        params={"payment_key": payment_key},
        data={
            "card_number": card_number,
            "expiry": expiry,
            "cvv": cvv,
            "cardholder": "AYSEL MAMMADOVA",
            "action": action,
        },
    )


def assert_not_paid_fields(result: dict[str, Any]) -> None:
    assert result["paymentDate"] is None
    assert result["cardNumber"] is None
    assert result["rrn"] is None


# ---- getPaymentKey -----------------------------------------------------------------------


def test_signed_request_gets_a_payment_key(client: TestClient) -> None:
    key = get_key(client)

    assert uuid.UUID(key)
    assert get_result(client, key)["amount"] == 2000


def test_language_is_not_part_of_the_hash(client: TestClient) -> None:
    body = key_request(lang="en")
    body["hashCode"] = md5(f"{AUTH_KEY}{MERCHANT}v2000IMEI 356938035643809en")

    answer = client.post("/web/service/merchant/getPaymentKey", json=body).json()

    assert answer["status"]["code"] == 801


def test_bad_hash_is_refused_and_creates_nothing(client: TestClient) -> None:
    body = key_request()
    body["hashCode"] = md5("wrong-key" + MERCHANT + "v2000IMEI 356938035643809")

    answer = client.post("/web/service/merchant/getPaymentKey", json=body).json()

    assert answer == {"status": {"code": 801, "message": "invalid hash code"}, "paymentKey": None}
    assert "No payment sessions yet" in client.get("/").text


def test_tampered_amount_fails_the_hash(client: TestClient) -> None:
    body = key_request(amount=2000)
    body["amount"] = 1

    answer = client.post("/web/service/merchant/getPaymentKey", json=body).json()

    assert answer["status"]["code"] == 801


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount": 0},
        {"amount": -500},
        {"amount": 20.5},
        {"amount": "2000"},
        {"amount": True},
        {"card_type": "x"},
        {"lang": "de"},
        {"description": ""},
        {"description": "x" * 256},
    ],
)
def test_invalid_field_is_refused(client: TestClient, overrides: dict[str, Any]) -> None:
    answer = client.post(
        "/web/service/merchant/getPaymentKey", json=key_request(**overrides)
    ).json()

    assert answer["status"]["code"] == 802
    assert answer["paymentKey"] is None


@pytest.mark.parametrize(
    "missing", ["merchantName", "amount", "cardType", "description", "lang", "hashCode"]
)
def test_missing_field_is_refused(client: TestClient, missing: str) -> None:
    body = key_request()
    del body[missing]

    answer = client.post("/web/service/merchant/getPaymentKey", json=body).json()

    assert answer["status"] == {"code": 802, "message": f"missing field: {missing}"}


def test_body_that_is_not_json_is_refused(client: TestClient) -> None:
    response = client.post(
        "/web/service/merchant/getPaymentKey",
        content=b"merchantName=mcqs",
        headers={"Content-Type": "application/json"},
    )

    assert response.json()["status"]["code"] == 802


def test_unknown_merchant_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/web/service/merchant/getPaymentKey", json=key_request(merchant="someone-else")
    ).json()

    assert answer["status"]["code"] == 803


# ---- the card page -----------------------------------------------------------------------


def test_pay_page_shows_the_payment_and_the_test_cards(client: TestClient) -> None:
    key = get_key(client, amount=2000, description="Rüsum: IMEI 356938035643809")

    page = client.get("/web/paypage", params={"payment_key": key})

    assert page.status_code == 200
    assert "20.00 AZN" in page.text
    assert MERCHANT in page.text
    assert "Rüsum: IMEI 356938035643809" in page.text
    for number in (APPROVED_VISA, APPROVED_MASTERCARD, DECLINED, INSUFFICIENT_FUNDS):
        grouped = " ".join(number[i : i + 4] for i in range(0, 16, 4))
        assert grouped in page.text
    # Azerbaijani by default (lang=lv)
    assert 'lang="az"' in page.text
    assert "Kartın nömrəsi" in page.text
    assert "Ləğv et" in page.text


def test_pay_page_speaks_the_requested_language(client: TestClient) -> None:
    key = get_key(client, lang="en", amount=105)

    page = client.get("/web/paypage", params={"payment_key": key})

    assert "1.05 AZN" in page.text
    assert "Card number" in page.text
    assert "Kartın nömrəsi" not in page.text


def test_pay_page_escapes_the_description(client: TestClient) -> None:
    key = get_key(client, description="<script>alert(1)</script>")

    page = client.get("/web/paypage", params={"payment_key": key})

    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_unknown_payment_key_has_no_pay_page(client: TestClient) -> None:
    assert client.get("/web/paypage", params={"payment_key": "nope"}).status_code == 404
    assert pay(client, "nope").status_code == 404


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"card_number": "4228650000018102"}, "card_number", "The card number is not valid."),
        ({"card_number": "4228 65"}, "card_number", "The card number is not valid."),
        ({"card_number": "4111111111111111"}, "card_number", "accepts only the test cards"),
        ({"expiry": "13/27"}, "expiry", "Enter the expiry date as MM/YY"),
        ({"expiry": "1227"}, "expiry", "Enter the expiry date as MM/YY"),
        ({"expiry": "02/25"}, "expiry", "The card has expired."),
        ({"cvv": "12"}, "cvv", "The CVV is 3 digits."),
        ({"cvv": "12a"}, "cvv", "The CVV is 3 digits."),
    ],
)
def test_invalid_card_input_shows_the_form_again_and_charges_nothing(
    client: TestClient, form: dict[str, str], field: str, message: str
) -> None:
    key = get_key(client, lang="en")

    response = pay(client, key, **form)

    assert response.status_code == 200
    assert "Nothing was charged" in response.text
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', response.text)
    assert error is not None and message in error.group(1)
    assert len(re.findall(r'class="error"', response.text)) == 1
    result = get_result(client, key)
    assert result["status"]["code"] == 813
    assert_not_paid_fields(result)


def test_form_error_is_in_azerbaijani_on_an_azerbaijani_page(client: TestClient) -> None:
    key = get_key(client, lang="lv")

    response = pay(client, key, cvv="1")

    assert "CVV 3 rəqəmdən ibarətdir." in response.text


def test_form_shown_again_keeps_the_card_number_but_not_the_cvv(client: TestClient) -> None:
    key = get_key(client, lang="en")

    response = pay(client, key, APPROVED_VISA, expiry="99/99", cvv="987")

    assert f'value="{APPROVED_VISA}"' in response.text
    assert "987" not in response.text


def test_card_is_valid_through_its_expiry_month(client: TestClient) -> None:
    key = get_key(client)

    response = pay(client, key, expiry="03/25")  # the clock is in March 2025

    assert response.status_code == 303


# ---- paying ------------------------------------------------------------------------------


def test_approved_visa_pays_and_returns_to_the_success_url(client: TestClient) -> None:
    key = get_key(client, amount=2000, lang="en", description="IMEI 356938035643809")

    response = pay(client, key, APPROVED_VISA)

    assert response.status_code == 303
    assert response.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    result = get_result(client, key)
    assert result["status"] == {"code": 1, "message": "success"}
    assert result["paymentKey"] == key
    assert result["merchantName"] == MERCHANT
    assert result["amount"] == 2000
    assert result["cardNumber"] == "422865******8101"
    assert re.fullmatch(r"[0-9]{12}", result["rrn"])
    assert result["paymentDate"] == "2025-03-01 12:00:00"  # Baku time of START
    assert result["language"] == "en"
    assert result["description"] == "IMEI 356938035643809"


def test_approved_mastercard_pays_even_typed_with_spaces(client: TestClient) -> None:
    key = get_key(client, card_type="m")

    response = pay(client, key, "5401 6800 0000 3106")

    assert response.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    assert get_result(client, key)["cardNumber"] == "540168******3106"


@pytest.mark.parametrize(
    ("card_number", "reason"), [(DECLINED, "declined"), (INSUFFICIENT_FUNDS, "insufficient")]
)
def test_refused_card_fails_the_payment(client: TestClient, card_number: str, reason: str) -> None:
    key = get_key(client)

    response = pay(client, key, card_number)

    assert response.status_code == 303
    assert response.headers["location"] == f"{FAILURE_URL}?payment_key={key}"
    result = get_result(client, key)
    assert result["status"]["code"] == 816
    assert reason in result["status"]["message"]
    assert_not_paid_fields(result)


def test_failed_payment_cannot_be_paid_afterwards(client: TestClient) -> None:
    key = get_key(client)
    pay(client, key, DECLINED)

    response = pay(client, key, APPROVED_VISA)

    assert response.headers["location"] == f"{FAILURE_URL}?payment_key={key}"
    assert get_result(client, key)["status"]["code"] == 816


def test_paying_twice_charges_once(client: TestClient, clock: Clock) -> None:
    key = get_key(client)
    pay(client, key, APPROVED_VISA)
    first = get_result(client, key)
    clock.advance(minutes=1)

    again = pay(client, key, APPROVED_MASTERCARD)
    declined = pay(client, key, DECLINED)

    assert again.status_code == declined.status_code == 303
    assert again.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    assert declined.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    second = get_result(client, key)
    assert second["status"]["code"] == 1
    for field in ("paymentDate", "cardNumber", "rrn"):
        assert second[field] == first[field]


def test_simultaneous_submits_charge_once() -> None:
    # The page handler already refuses a decided session; the store must hold even when
    # two submits of the same form race past that check.
    store = PaymentSessionStore(lifetime=timedelta(minutes=15), now=lambda: START)
    key = store.create(amount_qepik=2000, card_type="v", description="d", lang="lv").payment_key
    card = next(card for card in TEST_CARDS if card.number == APPROVED_VISA)

    with ThreadPoolExecutor(max_workers=8) as pool:
        settled = list(pool.map(lambda _: store.settle(key, card), range(8)))

    assert {s.code for s in settled if s} == {1}
    assert len({s.rrn for s in settled if s}) == 1


def test_cancel_fails_the_payment_and_returns_to_the_failure_url(client: TestClient) -> None:
    key = get_key(client)

    response = pay(client, key, "", expiry="", cvv="", action="cancel")

    assert response.headers["location"] == f"{FAILURE_URL}?payment_key={key}"
    result = get_result(client, key)
    assert result["status"]["code"] == 816
    assert "cancelled" in result["status"]["message"]


def test_cancel_after_paying_leaves_the_payment_paid(client: TestClient) -> None:
    key = get_key(client)
    pay(client, key, APPROVED_VISA)

    response = pay(client, key, action="cancel")

    assert response.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    assert get_result(client, key)["status"]["code"] == 1


def test_expired_session_cannot_be_paid(client: TestClient, clock: Clock) -> None:
    key = get_key(client, lang="en")
    clock.advance(minutes=15)

    page = client.get("/web/paypage", params={"payment_key": key})
    response = pay(client, key, APPROVED_VISA)

    assert page.status_code == response.status_code == 410
    assert "This payment session has expired" in page.text
    assert "This payment session has expired" in response.text
    result = get_result(client, key)
    assert result["status"] == {"code": 813, "message": "Payment session expired"}
    assert_not_paid_fields(result)


def test_session_can_be_paid_until_it_expires(client: TestClient, clock: Clock) -> None:
    key = get_key(client)
    clock.advance(minutes=14, seconds=59)

    assert pay(client, key, APPROVED_VISA).status_code == 303
    assert get_result(client, key)["paymentDate"] == "2025-03-01 12:14:59"


# ---- getPaymentResult --------------------------------------------------------------------


def test_unpaid_payment_is_813_with_nulls(client: TestClient) -> None:
    key = get_key(client)

    before_page = get_result(client, key)
    client.get("/web/paypage", params={"payment_key": key})
    after_page = get_result(client, key)

    assert before_page["status"] == {"code": 813, "message": "Pay page not called"}
    assert after_page["status"] == {"code": 813, "message": "Waiting for payment"}
    assert_not_paid_fields(before_page)
    assert_not_paid_fields(after_page)


def test_check_count_counts_every_result_call(client: TestClient) -> None:
    key = get_key(client)

    counts = [get_result(client, key)["checkCount"] for _ in range(3)]
    pay(client, key, APPROVED_VISA)

    assert counts == [1, 2, 3]
    assert get_result(client, key)["checkCount"] == 4


def test_result_with_bad_hash_is_refused_and_not_counted(client: TestClient) -> None:
    key = get_key(client)

    answer = client.get(
        "/web/service/merchant/getPaymentResult",
        params={"payment_key": key, "hash_code": md5("wrong-key" + key)},
    ).json()

    assert answer["status"]["code"] == 801
    assert "amount" not in answer
    assert get_result(client, key)["checkCount"] == 1


def test_result_for_unknown_key_is_an_error(client: TestClient) -> None:
    assert get_result(client, str(uuid.uuid4()))["status"]["code"] == 804


def test_result_without_parameters_is_an_error(client: TestClient) -> None:
    answer = client.get("/web/service/merchant/getPaymentResult").json()

    assert answer["status"]["code"] == 802


# ---- index and card data -----------------------------------------------------------------


def index_row(html: str, payment_key: str) -> str:
    rows = [row for row in html.split("<tr>") if payment_key in row]
    assert len(rows) == 1
    return rows[0]


def test_index_lists_recent_sessions(client: TestClient) -> None:
    paid = get_key(client, amount=2000)
    waiting = get_key(client, amount=31550)
    pay(client, paid, APPROVED_VISA)

    page = client.get("/")

    assert page.status_code == 200
    paid_row, waiting_row = index_row(page.text, paid), index_row(page.text, waiting)
    assert ">20.00 AZN</td>" in paid_row and "<td>paid</td>" in paid_row
    assert ">315.50 AZN</td>" in waiting_row and "<td>waiting</td>" in waiting_row
    assert f'href="web/paypage?payment_key={waiting}"' in waiting_row
    assert page.text.index(waiting) < page.text.index(paid)  # newest first


def test_full_card_number_is_never_given_out_nor_kept(client: TestClient) -> None:
    # The test cards are documented on the index page, so count: paying must add no copy.
    def copies(text: str) -> int:
        return text.count(APPROVED_VISA) + text.count("4228 6500 0001 8101")

    index_before = client.get("/").text
    key = get_key(client)
    pay(client, key, APPROVED_VISA, cvv="731")

    index_after = client.get("/").text
    result = client.get(
        "/web/service/merchant/getPaymentResult",
        params={"payment_key": key, "hash_code": md5(AUTH_KEY + key)},
    ).text
    notice = client.get("/web/paypage", params={"payment_key": key}).text

    assert copies(index_after) == copies(index_before)
    assert "422865******8101" in index_after
    assert APPROVED_VISA not in result and "422865******8101" in result
    assert copies(notice) == 0
    simulator = client.app.state.goldenpay  # type: ignore[attr-defined]
    for session in simulator.sessions.recent():
        for value in vars(session).values():
            assert APPROVED_VISA not in str(value)
            assert value != "731"


# ---- state kept across apps, latency ---------------------------------------------------------


def simulator_app(state_dir: Path, **kwargs: Any) -> Any:
    return create_app(
        merchant_name=MERCHANT,
        auth_key=AUTH_KEY,
        success_url=SUCCESS_URL,
        failure_url=FAILURE_URL,
        state_dir=state_dir,
        **kwargs,
    )


def test_payment_sessions_survive_a_new_app_on_the_same_state_dir(tmp_path: Path) -> None:
    with TestClient(simulator_app(tmp_path), follow_redirects=False) as before:
        key = get_key(before)
        assert pay(before, key, expiry="12/45").status_code == 303
    with TestClient(simulator_app(tmp_path), follow_redirects=False) as after:
        result = get_result(after, key)
    assert result["status"]["code"] == 1
    assert result["cardNumber"] == "422865******8101"
    assert result["checkCount"] == 1


def test_latency_is_set_at_construction_and_changed_at_run_time(tmp_path: Path) -> None:
    app = simulator_app(tmp_path, latency_seconds={"get_payment_key": 0.3})
    with TestClient(app) as client:
        assert client.get("/sim/latency").json() == {
            "get_payment_key": 0.3,
            "get_payment_result": 0.0,
        }
        started = time.monotonic()
        key = get_key(client)
        assert time.monotonic() - started >= 0.3

        changed = client.post(
            "/sim/latency", json={"get_payment_key": 0, "get_payment_result": 0.4}
        )
        assert changed.json() == {"get_payment_key": 0.0, "get_payment_result": 0.4}
        started = time.monotonic()
        get_result(client, key)
        assert time.monotonic() - started >= 0.4
        started = time.monotonic()
        get_key(client)
        assert time.monotonic() - started < 0.3


def test_latency_is_shared_by_apps_on_the_same_state_dir(tmp_path: Path) -> None:
    """Two apps on one directory stand for two web processes of the demo."""
    with TestClient(simulator_app(tmp_path)) as one, TestClient(simulator_app(tmp_path)) as two:
        one.post("/sim/latency", json={"get_payment_result": 2.5})
        assert two.get("/sim/latency").json()["get_payment_result"] == 2.5


@pytest.mark.parametrize(
    "body",
    [{"get_payment_key": -1}, {"refund": 1}, {"get_payment_key": "slow"}, {}, [1]],
    ids=["negative", "unknown call", "not a number", "empty", "not an object"],
)
def test_bad_latency_is_refused(tmp_path: Path, body: Any) -> None:
    with TestClient(simulator_app(tmp_path)) as client:
        assert client.post("/sim/latency", json=body).status_code == 422
        assert client.get("/sim/latency").json() == {
            "get_payment_key": 0.0,
            "get_payment_result": 0.0,
        }


def test_a_slow_answer_holds_up_no_other_request(tmp_path: Path) -> None:
    """A hanging GoldenPay (a large latency) still serves its pages: the delay awaits."""
    app = simulator_app(tmp_path, latency_seconds={"get_payment_result": 2.0})
    with LiveServer(app, free_port()) as server, httpx.Client(base_url=server.url) as http:
        answer = http.post("/web/service/merchant/getPaymentKey", json=key_request()).json()
        key = answer["paymentKey"]
        result_params = {"payment_key": key, "hash_code": md5(AUTH_KEY + key)}
        with ThreadPoolExecutor(max_workers=1) as pool:
            started = time.monotonic()
            slow = pool.submit(
                http.get, "/web/service/merchant/getPaymentResult", params=result_params
            )
            time.sleep(0.2)
            assert http.get("/web/paypage", params=result_params).status_code == 200
            assert http.get("/").status_code == 200
            assert http.get("/sim/latency").status_code == 200
            assert not slow.done()
            assert slow.result(timeout=10).json()["status"]["code"] == 813
            assert time.monotonic() - started >= 2.0
