"""Why a payment was not made reaches the citizen: GoldenPay's result is mapped to a reason
(declined, insufficient funds, cancelled, expired), stored on the payment, and shown on the
application form by its code, with the card type chosen kept."""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select

from mcqs.payments.goldenpay import PaymentResult, failure_reason
from mcqs.payments.models import Payment
from mcqs.payments.service import apply_result
from mcqs_simulators.population.citizens import CITIZENS

DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"


@pytest.mark.parametrize(
    ("code", "message", "reason"),
    [
        # The simulator's wording (mcqs_simulators/goldenpay/app.py).
        (816, "Payment failed: card declined", "declined"),
        (816, "Payment failed: insufficient funds", "insufficient_funds"),
        (816, "Payment failed: cancelled by the cardholder", "cancelled"),
        (813, "Payment session expired", "expired"),
        # Words we do not know still fail, generically.
        (816, "Do not honour", "failed"),
        (816, "", "failed"),
        # Not a failure (yet).
        (813, "Waiting for payment", None),
        (813, "Pay page not called", None),
        (1, "success", None),
    ],
)
def test_goldenpay_result_is_mapped_to_a_reason(
    code: int, message: str, reason: str | None
) -> None:
    assert failure_reason(code, message) == reason


def _checked_and_sent_to_pay(flow, demo_imeis, *, citizen: int, imei: int, card_type: str) -> str:
    person = CITIZENS[citizen]
    checked = flow.check(id_card=person.id_card, fin=person.fin, imeis=(demo_imeis[imei],))
    assert checked.status_code == 303, checked.text[:1000]
    confirmed = flow.confirm(card_type=card_type)
    assert confirmed.status_code == 303
    return confirmed.headers["location"]


def _payment(db, key: str) -> Payment:
    with db.transaction() as session:
        payment = session.scalars(select(Payment).where(Payment.payment_key == key)).one()
        session.expunge(payment)
        return payment


def _shown(client, location: str) -> tuple[str, str | None]:
    """The form's payment notice code and the card type checked on it."""
    form = client.get(location).text
    notice = re.search(r'class="alert" data-error="([a-z_]+)"', form)
    checked = re.search(r'name="card_type" value="([vm])" checked', form)
    assert notice, "the form says why the payment was not made"
    return notice.group(1), checked.group(1) if checked else None


@pytest.mark.parametrize(
    ("card", "reason"), [(DECLINED, "declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")]
)
def test_a_refused_card_reads_its_own_reason(flow, client, catalogue, demo_imeis, card, reason):
    pay_page = _checked_and_sent_to_pay(flow, demo_imeis, citizen=0, imei=5, card_type="m")
    back = flow.come_back(flow.pay(pay_page, card=card))
    assert back.status_code == 303
    assert back.headers["location"].endswith(f"notice=payment_{reason}")
    key = httpx.URL(pay_page).params["payment_key"]
    assert _payment(catalogue, key).failure_reason == reason
    assert _shown(client, back.headers["location"]) == (f"payment_{reason}", "m")


def test_the_citizens_own_cancel_reads_cancelled(flow, client, catalogue, http, demo_imeis):
    pay_page = _checked_and_sent_to_pay(flow, demo_imeis, citizen=1, imei=6, card_type="m")
    http.get(pay_page)
    cancelled = http.post(pay_page, data={"action": "cancel"}, follow_redirects=False)
    back = flow.come_back(cancelled.headers["location"])
    assert back.headers["location"].endswith("notice=payment_cancelled")
    key = httpx.URL(pay_page).params["payment_key"]
    assert _payment(catalogue, key).failure_reason == "cancelled"
    assert _shown(client, back.headers["location"]) == ("payment_cancelled", "m")


def test_goldenpay_saying_the_session_expired_frees_the_citizen_to_pay_again(
    flow, client, catalogue, app_settings, demo_imeis
):
    pay_page = _checked_and_sent_to_pay(flow, demo_imeis, citizen=3, imei=7, card_type="v")
    key = httpx.URL(pay_page).params["payment_key"]
    expired = PaymentResult(
        code=813,
        message="Payment session expired",
        payment_key=key,
        amount_qepik=None,
        check_count=1,
        paid_at=None,
        masked_card=None,
        rrn=None,
        raw={"status": {"code": 813, "message": "Payment session expired"}},
    )
    now = dt.datetime.now(dt.UTC)
    with catalogue.transaction() as session:
        outcome = apply_result(session, settings=app_settings, result=expired, now=now)
    assert (outcome.state, outcome.failure_reason) == ("failed", "expired")
    payment = _payment(catalogue, key)
    assert (payment.status, payment.failure_reason) == ("expired", "expired")
    assert _shown(client, "/application?notice=payment_expired") == ("payment_expired", "v")
    # No open session is left in the way: "Təsdiqlə və ödəniş et" opens a new one.
    again = flow.confirm(card_type="v")
    assert again.status_code == 303
    assert httpx.URL(again.headers["location"]).params["payment_key"] != key


def test_an_unknown_notice_shows_nothing(flow, client, demo_imeis) -> None:
    _checked_and_sent_to_pay(flow, demo_imeis, citizen=0, imei=8, card_type="v")
    form = client.get("/application?notice=id_card_expired").text
    assert "data-error" not in form
