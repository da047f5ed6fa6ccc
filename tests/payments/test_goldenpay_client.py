"""Our GoldenPay adapter against the simulator, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from mcqs.errors import ExternalServiceError
from mcqs.payments.goldenpay import GoldenPayClient
from mcqs_simulators.goldenpay.app import create_app

from conftest import LiveServer, free_port

MERCHANT = "mcqs-test"
AUTH_KEY = "client-test-auth-key"
SUCCESS_URL = "http://merchant.test/payments/goldenpay/success"
FAILURE_URL = "http://merchant.test/payments/goldenpay/failure"
APPROVED_VISA = "4228650000018101"
DECLINED = "4000000000000002"


@pytest.fixture(scope="module")
def goldenpay_url() -> Iterator[str]:
    """The simulator on a live uvicorn port, mounted under /goldenpay as in the demo."""
    app = Starlette(
        routes=[
            Mount(
                "/goldenpay",
                app=create_app(
                    merchant_name=MERCHANT,
                    auth_key=AUTH_KEY,
                    success_url=SUCCESS_URL,
                    failure_url=FAILURE_URL,
                ),
            )
        ]
    )
    with LiveServer(app, free_port()) as server:
        yield f"{server.url}/goldenpay"


@pytest.fixture
def goldenpay(goldenpay_url: str) -> Iterator[GoldenPayClient]:
    with GoldenPayClient(
        base_url=goldenpay_url, merchant_name=MERCHANT, auth_key=AUTH_KEY
    ) as client:
        yield client


def pay_in_browser(pay_page_url: str, card_number: str) -> httpx.Response:
    """What the citizen's browser does: open the card page, submit its form."""
    with httpx.Client(timeout=10) as browser:
        page = browser.get(pay_page_url)
        assert page.status_code == 200
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action is not None
        return browser.post(
            urljoin(pay_page_url, action.group(1).replace("&amp;", "&")),
            data={"card_number": card_number, "expiry": "12/49", "cvv": "123", "action": "pay"},
            follow_redirects=False,
        )


def test_payment_key_and_pay_page_url(goldenpay: GoldenPayClient, goldenpay_url: str) -> None:
    key = goldenpay.get_payment_key(
        amount_qepik=2000, card_type="v", description="IMEI 356938035643809", lang="lv"
    )

    url = goldenpay.pay_page_url(key)

    assert url == f"{goldenpay_url}/web/paypage?payment_key={key}"
    page = httpx.get(url, timeout=10)
    assert page.status_code == 200
    assert "20.00 AZN" in page.text


def test_unpaid_payment_is_waiting(goldenpay: GoldenPayClient) -> None:
    key = goldenpay.get_payment_key(amount_qepik=500, card_type="m", description="d", lang="en")

    result = goldenpay.get_payment_result(key)

    assert result.waiting and not result.paid and not result.failed
    assert result.code == 813
    assert result.payment_key == key
    assert result.amount_qepik == 500
    assert result.check_count == 1
    assert result.paid_at is None and result.masked_card is None and result.rrn is None


def test_paid_through_the_card_page(goldenpay: GoldenPayClient) -> None:
    key = goldenpay.get_payment_key(
        amount_qepik=2000, card_type="v", description="Rüsum 356938035643809", lang="lv"
    )
    before = datetime.now(UTC)

    response = pay_in_browser(goldenpay.pay_page_url(key), APPROVED_VISA)
    result = goldenpay.get_payment_result(key)

    assert response.status_code == 303
    assert response.headers["location"] == f"{SUCCESS_URL}?payment_key={key}"
    assert result.paid and result.code == 1 and result.message == "success"
    assert result.amount_qepik == 2000
    assert result.masked_card == "422865******8101"
    assert result.rrn is not None and re.fullmatch(r"[0-9]{12}", result.rrn)
    assert result.paid_at is not None and result.paid_at.utcoffset() == timedelta(0)
    # paymentDate has whole seconds, in Baku time: back in UTC it is about now.
    assert before - timedelta(seconds=1) <= result.paid_at <= datetime.now(UTC)
    baku_time = result.paid_at.astimezone(ZoneInfo("Asia/Baku"))
    assert result.raw["paymentDate"] == baku_time.strftime("%Y-%m-%d %H:%M:%S")
    assert result.raw["cardNumber"] == "422865******8101"


def test_declined_card_fails(goldenpay: GoldenPayClient) -> None:
    key = goldenpay.get_payment_key(amount_qepik=2000, card_type="v", description="d", lang="en")

    response = pay_in_browser(goldenpay.pay_page_url(key), DECLINED)
    result = goldenpay.get_payment_result(key)

    assert response.headers["location"] == f"{FAILURE_URL}?payment_key={key}"
    assert result.failed and result.code == 816
    assert result.paid_at is None


def test_wrong_auth_key_is_an_external_service_error(goldenpay_url: str) -> None:
    with GoldenPayClient(
        base_url=goldenpay_url, merchant_name=MERCHANT, auth_key="not-the-key"
    ) as client:
        with pytest.raises(ExternalServiceError) as error:
            client.get_payment_key(amount_qepik=2000, card_type="v", description="d", lang="en")
        assert error.value.code == "goldenpay_unavailable"
        assert "801" in error.value.params["detail"]

        with pytest.raises(ExternalServiceError, match="goldenpay_unavailable"):
            client.get_payment_result("any-key")


def test_a_key_goldenpay_does_not_know_is_reported_as_such(goldenpay: GoldenPayClient) -> None:
    result = goldenpay.get_payment_result("00000000-0000-0000-0000-000000000000")

    assert result.unknown_key
    assert not (result.paid or result.waiting or result.failed)
    assert result.paid_at is None


def test_unreachable_goldenpay_is_an_external_service_error() -> None:
    with (
        GoldenPayClient(
            base_url=f"http://127.0.0.1:{free_port()}", merchant_name=MERCHANT, auth_key=AUTH_KEY
        ) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_payment_key(amount_qepik=2000, card_type="v", description="d", lang="en")

    assert error.value.code == "goldenpay_unavailable"
    assert "ConnectError" in error.value.params["detail"]


# ---- answers the simulator never gives, through a stub transport ----------------------------


def stub_client(transport: httpx.MockTransport) -> GoldenPayClient:
    return GoldenPayClient(
        base_url="http://goldenpay.test",
        merchant_name=MERCHANT,
        auth_key=AUTH_KEY,
        transport=transport,
    )


def test_requests_carry_json_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"status": {"code": 1, "message": "success"}, "paymentKey": "k-1"}
        )

    with stub_client(httpx.MockTransport(handler)) as client:
        key = client.get_payment_key(amount_qepik=1, card_type="v", description="d", lang="ru")

    assert key == "k-1"
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].headers["accept"] == "application/json"
    assert seen[0].url == "http://goldenpay.test/web/service/merchant/getPaymentKey"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>maintenance</html>"),
        httpx.Response(503, json={"status": {"code": 1, "message": "success"}}),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"paymentKey": "k-1"}),
        httpx.Response(200, json={"status": {"code": 1, "message": "success"}}),
    ],
    ids=["not-json", "http-error", "not-an-object", "no-status", "no-key"],
)
def test_unusable_payment_key_answer_is_an_external_service_error(answer: httpx.Response) -> None:
    with (
        stub_client(httpx.MockTransport(lambda _request: answer)) as client,
        pytest.raises(ExternalServiceError, match="goldenpay_unavailable"),
    ):
        client.get_payment_key(amount_qepik=1, card_type="v", description="d", lang="lv")


def test_timeout_is_an_external_service_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with (
        stub_client(httpx.MockTransport(handler)) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_payment_result("k-1")

    assert "ReadTimeout" in error.value.params["detail"]


def test_paid_answer_without_a_usable_date_is_an_external_service_error() -> None:
    body = {
        "status": {"code": 1, "message": "success"},
        "paymentKey": "k-1",
        "paymentDate": "yesterday",
    }

    with (
        stub_client(httpx.MockTransport(lambda _r: httpx.Response(200, json=body))) as client,
        pytest.raises(ExternalServiceError, match="goldenpay_unavailable"),
    ):
        client.get_payment_result("k-1")


def test_answer_about_another_payment_key_is_an_external_service_error() -> None:
    body = {"status": {"code": 813, "message": "Waiting for payment"}, "paymentKey": "k-2"}

    with (
        stub_client(httpx.MockTransport(lambda _r: httpx.Response(200, json=body))) as client,
        pytest.raises(ExternalServiceError, match="goldenpay_unavailable"),
    ):
        client.get_payment_result("k-1")
