"""Bad input on "Məlumatları yoxla": a clear Azerbaijani message next to the field, and
nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mcqs.applications.models import Application
from mcqs.db import Database
from mcqs_simulators.population.citizens import CITIZENS

from conftest import at_the_same_moment, error_code_of, error_of


def applications(db: Database) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Application)) or 0


@pytest.mark.parametrize(
    ("imei", "message"),
    [
        ("35209900176148", "15 rəqəm"),  # 14 digits
        ("3520990017614812345", "15 rəqəm"),
        ("35209900176148A", "yalnız rəqəm"),
        ("352099001761482", "yoxlama"),  # wrong check digit
    ],
)
def test_bad_imei_is_explained_next_to_the_field(flow, catalogue, imei: str, message: str) -> None:
    citizen = CITIZENS[0]
    answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(imei,))
    assert answer.status_code == 422
    assert message in error_of(answer.text, "imei_1")
    assert applications(catalogue) == 0


def test_several_errors_are_shown_at_once(flow, catalogue) -> None:
    answer = flow.check(id_card="A123", fin="5abc", imeis=("123",))
    assert answer.status_code == 422
    assert "AA" in error_of(answer.text, "id_card")
    assert "7 simvol" in error_of(answer.text, "fin")
    assert "15 rəqəm" in error_of(answer.text, "imei_1")
    # What the person typed stays in the form (but never the security code).
    assert 'value="A123"' in answer.text


def test_unknown_fin_reads_like_a_card_of_someone_else(flow, demo_imeis) -> None:
    """Two answers would tell anyone with a security code which FİNs exist."""
    unknown = flow.check(id_card="AA1234567", fin="ZZZZZZ9", imeis=(demo_imeis[0],))
    known = flow.check(id_card=CITIZENS[1].id_card, fin=CITIZENS[0].fin, imeis=(demo_imeis[0],))
    assert error_code_of(unknown.text, "id_card") == "id_card_not_of_fin"
    assert error_code_of(known.text, "id_card") == "id_card_not_of_fin"
    assert unknown.status_code == known.status_code == 422


def test_id_card_of_someone_else(flow, demo_imeis) -> None:
    answer = flow.check(id_card=CITIZENS[1].id_card, fin=CITIZENS[0].fin, imeis=(demo_imeis[0],))
    assert error_code_of(answer.text, "id_card") == "id_card_not_of_fin"


def test_expired_id_card(flow, demo_imeis) -> None:
    expired = next(c for c in CITIZENS if c.id_card_valid_until.year < 2025)
    answer = flow.check(id_card=expired.id_card, fin=expired.fin, imeis=(demo_imeis[0],))
    assert "etibarlılıq" in error_of(answer.text, "id_card")


def test_a_blank_form_explains_every_field(flow, catalogue) -> None:
    answer = flow.check(id_card="", fin="", imeis=("",), code="")
    assert answer.status_code == 422
    for field in ("id_card", "fin", "imei_1", "security_code"):
        assert error_of(answer.text, field)


def test_wrong_security_code(flow, demo_imeis, catalogue) -> None:
    citizen = CITIZENS[0]
    answer = flow.check(
        id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],), code="99999"
    )
    assert answer.status_code == 422
    assert "yanlışdır" in error_of(answer.text, "security_code")
    assert applications(catalogue) == 0


def test_imei_already_registered(flow, demo_imeis, run_worker) -> None:
    flow.register_and_pay(imeis=(demo_imeis[0],))
    run_worker()
    other = CITIZENS[1]
    answer = flow.check(id_card=other.id_card, fin=other.fin, imeis=(demo_imeis[0],))
    assert "artıq qeydiyyatdan keçib" in error_of(answer.text, "imei_1")


def test_imei_awaiting_payment_in_another_application(flow, demo_imeis) -> None:
    first = CITIZENS[0]
    flow.check(id_card=first.id_card, fin=first.fin, imeis=(demo_imeis[0],))
    flow.confirm()
    other = CITIZENS[1]
    answer = flow.check(id_card=other.id_card, fin=other.fin, imeis=(demo_imeis[0],))
    assert error_code_of(answer.text, "imei_1") == "imei_in_pending_application"


def test_same_imei_twice_in_one_device(flow, demo_imeis) -> None:
    citizen = CITIZENS[0]
    answer = flow.check(
        id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0], demo_imeis[0])
    )
    assert "artıq yuxarıdakı" in error_of(answer.text, "imei_2")


def test_blacklisted_imei(flow, catalogue) -> None:
    from mcqs.devices.demo import demo_blacklisted_imei

    with catalogue.transaction() as session:
        stolen = demo_blacklisted_imei(session)
    citizen = CITIZENS[0]
    answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(stolen,))
    assert "qara siyahı" in error_of(answer.text, "imei_1")


@pytest.mark.parametrize("phone", ["", "12345", "+994 12 345 67 89", "+7 912 345 67 89"])
def test_phone_must_be_an_azerbaijani_mobile(flow, demo_imeis, phone: str) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    answer = flow.confirm(phone=phone)
    assert answer.status_code == 422
    assert "nömrə" in error_of(answer.text, "phone")


def test_card_type_must_be_chosen(flow, demo_imeis) -> None:
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    answer = flow.confirm(card_type="")
    assert "Kartın növünü" in error_of(answer.text, "card_type")


def test_multi_sim_device_registers_all_imeis(flow, demo_imeis, run_worker, client) -> None:
    code = flow.register_and_pay(imeis=(demo_imeis[5], demo_imeis[6]))
    run_worker()
    status = client.get("/status", params={"code": code})
    assert demo_imeis[5] in status.text and demo_imeis[6] in status.text
    assert "Qeydiyyata alınıb" in status.text


def test_two_citizens_paying_for_one_imei_at_the_same_moment(
    catalogue: Database, services, app_settings, demo_imeis
) -> None:
    """Only one application may hold an IMEI, also when two citizens press "Təsdiqlə və
    ödəniş et" at once (real threads, own connections; PostgreSQL runs them at once)."""
    from mcqs.applications.models import ImeiHold
    from mcqs.applications.service import CheckInput, confirm_person, create_application
    from mcqs.db import utcnow
    from mcqs.errors import FormErrors
    from mcqs.payments.service import start_payment

    application_ids = []
    for index in (0, 1):
        citizen = CITIZENS[index]
        data = CheckInput(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
        checked = confirm_person(services.population, data)
        with catalogue.transaction() as session:
            application_ids.append(
                create_application(
                    session, checked=checked, channel="online_anonymous",
                    max_open_per_fin=3, now=utcnow(),
                ).id
            )  # fmt: skip

    def pay(application_id: int) -> str:
        start_payment(
            catalogue, goldenpay=services.goldenpay, settings=app_settings,
            application_id=application_id, phone="0501234567", card_type="v",
            lang="lv", now=utcnow,
        )  # fmt: skip
        return "opened"

    outcomes = at_the_same_moment([lambda i=i: pay(i) for i in application_ids], refused=FormErrors)
    assert sorted(outcomes) == ["imei_in_pending_application", "opened"]
    with catalogue.transaction() as session:
        holds = session.scalars(select(ImeiHold).where(ImeiHold.released_at.is_(None))).all()
        assert len(holds) == 1
