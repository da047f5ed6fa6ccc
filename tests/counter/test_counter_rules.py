"""The counter's rules through its services: the online flow's checks and lifecycle, the
payment at the counter, a point's data kept to its own staff, the day, the cancellation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from counter.support import counter_form, fee_text, make_point_staff, member_of, pay, register
from sqlalchemy import func, select
from staff.signing_in import SETUP_ACTIONS, create_staff

from mcqs.applications.models import Application, ApplicationStatus, Channel
from mcqs.applications.service import imei_conflicts
from mcqs.audit.models import AuditEntry
from mcqs.counter.service import (
    application_at_point,
    cancel_registration,
    close_day,
    closed_day,
    point_day,
)
from mcqs.db import Database, utcnow
from mcqs.devices.imei import imei_with_check_digit, parse_imei
from mcqs.eir.models import EirImei
from mcqs.errors import DomainError, Forbidden, FormErrors, NotFound
from mcqs.jobs.models import Job
from mcqs.localtime import baku_day
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Payment, PaymentMethod, Refund, RefundStatus
from mcqs.registrations.models import RegistrationImei
from mcqs.staff.models import StaffRole

from conftest import at_the_same_moment


def codes_of(error: FormErrors) -> dict[str, str]:
    return {(e.field or ""): e.code for e in error.errors}


def audit_actions(db: Database) -> list[str]:
    """The audited actions, but for the test's own setup (points and accounts added)."""
    with db.reading() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence))
        return [action for action in actions if action not in SETUP_ACTIONS]


def test_a_counter_registration_goes_through_the_online_lifecycle(
    catalogue: Database, services: Any, demo_imeis: list[str], run_worker: Callable[..., int]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))

    assert application.status == ApplicationStatus.CREATED
    assert application.channel == Channel.COUNTER
    assert application.point_id == staff.point.id
    assert application.agent_id == staff.agent.account_id
    assert application.phone == "+994501234567"
    assert application.surname  # filled from the population registry, as online

    paid = pay(catalogue, agent, application.notification_code, amount=fee_text(application))
    assert paid.status == ApplicationStatus.PAID
    with catalogue.reading() as session:
        payment = session.scalars(select(Payment)).one()
        assert payment.method == PaymentMethod.CASH
        assert payment.card_type is None
        jobs = session.scalars(select(Job.task)).all()
    assert "registrations.register_application" in jobs  # the same job as online

    run_worker()
    with catalogue.reading() as session:
        decided = session.get_one(Application, application.id)
        sms = session.scalars(select(SmsMessage.text)).all()
    assert decided.status == ApplicationStatus.REGISTERED
    assert len(sms) == 1
    assert audit_actions(catalogue) == ["counter.application_created", "counter.payment_taken"]


@pytest.mark.parametrize(
    ("form", "field", "code"),
    [
        ({"imeis": ("490154203237519",)}, "imei_1", "imei_bad_check_digit"),
        ({"imeis": ("12345",)}, "imei_1", "imei_wrong_length"),
        ({"fin": "7HJK3L4", "id_card": "AA7654321"}, "id_card", "id_card_expired"),
        ({"fin": "6DEF2G3"}, "id_card", "id_card_not_of_fin"),
        ({"fin": "5ABC"}, "fin", "fin_malformed"),
        ({"phone": "12"}, "phone", "phone_not_az_mobile"),
        ({"phone": ""}, "phone", "phone_required"),
    ],
)
def test_what_the_online_check_refuses_the_counter_refuses(
    catalogue: Database,
    services: Any,
    demo_imeis: list[str],
    form: dict[str, Any],
    field: str,
    code: str,
) -> None:
    staff = make_point_staff(catalogue)
    values: dict[str, Any] = {"imeis": (demo_imeis[0],), **form}
    with pytest.raises(FormErrors) as refused:
        register(catalogue, services, member_of(staff.agent), counter_form(**values))
    assert codes_of(refused.value)[field] == code
    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0
    assert audit_actions(catalogue) == []


def test_an_imei_already_registered_is_refused_at_the_counter(
    catalogue: Database, services: Any, demo_imeis: list[str], run_worker: Callable[..., int]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    first = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    pay(catalogue, agent, first.notification_code, amount=fee_text(first))
    run_worker()

    with pytest.raises(FormErrors) as refused:
        register(
            catalogue,
            services,
            agent,
            counter_form(imeis=(demo_imeis[0],), fin="6DEF2G3", id_card="AZE12345678"),
        )
    assert codes_of(refused.value)["imei_1"] == "imei_already_registered"


def test_a_cash_amount_other_than_the_fee_is_refused(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    fee = application.fee_qepik
    for typed in (f"{(fee + 1) / 100:.2f}", f"{(fee - 100) / 100:.2f}", "0"):
        with pytest.raises(FormErrors) as refused:
            pay(catalogue, agent, application.notification_code, amount=typed)
        assert codes_of(refused.value) == {"amount": "amount_not_fee"}
    ascii_fee = f"{fee // 100}"
    arabic_indic = ascii_fee.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    fullwidth = ascii_fee.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    for typed, code in (
        ("", "amount_required"),
        ("twenty", "amount_malformed"),
        (arabic_indic, "amount_malformed"),  # digits a cashier's keypad never types
        (fullwidth, "amount_malformed"),
    ):
        with pytest.raises(FormErrors) as refused:
            pay(catalogue, agent, application.notification_code, amount=typed)
        assert codes_of(refused.value) == {"amount": code}

    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
        assert session.get_one(Application, application.id).status == ApplicationStatus.CREATED
    assert "counter.payment_taken" not in audit_actions(catalogue)


def test_the_card_terminal_records_the_slip_and_needs_one(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    code, fee = application.notification_code, fee_text(application)

    with pytest.raises(FormErrors) as refused:
        pay(catalogue, agent, code, method="card_terminal", amount=fee)
    assert codes_of(refused.value) == {"slip_reference": "slip_reference_required"}
    with pytest.raises(FormErrors) as refused:
        # A formula in the cash report's spreadsheet, were it let through.
        pay(catalogue, agent, code, method="card_terminal", amount=fee, slip="-2+3")
    assert codes_of(refused.value) == {"slip_reference": "slip_reference_malformed"}
    with pytest.raises(FormErrors) as refused:
        pay(catalogue, agent, code, method="bitcoin", amount=fee)
    assert codes_of(refused.value) == {"method": "payment_method_required"}

    pay(catalogue, agent, code, method="card_terminal", amount=fee, slip="rrn-604512")
    # Sent again (a reload): nothing more is taken.
    pay(catalogue, agent, code, method="card_terminal", amount=fee, slip="rrn-604512")
    with catalogue.reading() as session:
        payment = session.scalars(select(Payment)).one()
    assert (payment.method, payment.slip_reference) == (PaymentMethod.CARD_TERMINAL, "RRN-604512")


def test_the_counter_form_submitted_twice_is_one_application(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    form = counter_form(imeis=(demo_imeis[0],))
    first = register(catalogue, services, agent, form)
    second = register(catalogue, services, agent, form)
    assert second.id == first.id
    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 1


def test_a_forms_key_sent_again_with_other_details_is_refused(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    """A replayed request with the first form's key but another IMEI: not the first
    application answered as if it were this one (what was typed would vanish)."""
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    form = counter_form(imeis=(demo_imeis[0],))
    first = register(catalogue, services, agent, form)
    edited = counter_form(imeis=(demo_imeis[1],), key=form.submission_key)

    with pytest.raises(FormErrors) as refused:
        register(catalogue, services, agent, edited)

    assert [e.code for e in refused.value.errors] == ["counter_form_expired"]
    with catalogue.reading() as session:
        assert session.scalars(select(Application.id)).all() == [first.id]


def test_the_counter_form_submitted_twice_at_once_is_one_application(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    form = counter_form(imeis=(demo_imeis[0],))
    made = at_the_same_moment(
        [lambda: register(catalogue, services, agent, form).notification_code] * 2,
        refused=DomainError,
    )
    assert made[0] == made[1]
    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 1


@pytest.mark.postgres_only
def test_the_fee_taken_twice_at_once_is_one_payment(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    """A double click on "pay": both requests load the application, one waits for the
    other's lock; the second must see the first's payment (it once took a second fee)."""
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    code, fee = application.notification_code, fee_text(application)

    outcomes = at_the_same_moment(
        [lambda: str(pay(catalogue, agent, code, amount=fee).status)] * 2, refused=DomainError
    )

    assert outcomes == [ApplicationStatus.PAID] * 2
    with catalogue.reading() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
        assert session.scalar(select(func.count()).select_from(Job)) == 1  # one registration
        assert session.scalar(select(func.count()).select_from(Refund)) == 0


def test_an_agent_reaches_only_their_own_points_applications_and_days(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent, stranger = member_of(staff.agent), member_of(staff.other_agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    code = application.notification_code

    with catalogue.reading() as session, pytest.raises(NotFound) as missing:
        application_at_point(session, member=stranger, notification_code=code)
    assert missing.value.code == "notification_code_unknown"
    with pytest.raises(NotFound):
        pay(catalogue, stranger, code, amount=fee_text(application))
    with catalogue.transaction() as session:
        close_day(session, member=agent, now=utcnow())
    with catalogue.reading() as session, pytest.raises(NotFound):
        closed_day(session, member=stranger, day=baku_day(utcnow()))


def test_an_agent_may_not_cancel_a_paid_registration(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent = member_of(staff.agent)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    pay(catalogue, agent, application.notification_code, amount=fee_text(application))
    with catalogue.transaction() as session, pytest.raises(Forbidden):
        cancel_registration(
            session,
            member=agent,
            notification_code=application.notification_code,
            reason="wrong IMEI typed",
            now=utcnow(),
        )
    with catalogue.reading() as session:
        assert session.get_one(Application, application.id).status == ApplicationStatus.PAID
        assert session.scalar(select(func.count()).select_from(Refund)) == 0


def test_a_supervisor_cancels_a_registration_with_a_reason_and_a_refund_is_owed(
    catalogue: Database, services: Any, demo_imeis: list[str], run_worker: Callable[..., int]
) -> None:
    staff = make_point_staff(catalogue)
    agent, supervisor = member_of(staff.agent), member_of(staff.supervisor)
    application = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    code = application.notification_code
    pay(catalogue, agent, code, amount=fee_text(application))
    run_worker()

    for reason in ("", "   "):
        with catalogue.transaction() as session, pytest.raises(FormErrors) as refused:
            cancel_registration(
                session, member=supervisor, notification_code=code, reason=reason, now=utcnow()
            )
        assert codes_of(refused.value) == {"reason": "cancel_reason_required"}
    other_supervisor = create_staff(
        catalogue, role=StaffRole.POINT_SUPERVISOR, point=staff.other_point
    )
    with catalogue.transaction() as session, pytest.raises(NotFound):
        cancel_registration(
            session,
            member=member_of(other_supervisor),
            notification_code=code,
            reason="another point's supervisor",
            now=utcnow(),
        )

    with catalogue.transaction() as session:
        cancel_registration(
            session,
            member=supervisor,
            notification_code=code,
            reason="Vətəndaş başqa cihaz gətirdi",
            now=utcnow(),
        )
    with catalogue.reading() as session:
        cancelled = session.get_one(Application, application.id)
        refund = session.scalars(select(Refund)).one()
        active = session.scalars(select(RegistrationImei.active)).all()
        eir = session.get_one(EirImei, cancelled_imei_norm(session, application.id))
        refused = imei_conflicts(
            session, imeis=[parse_imei(imei_with_check_digit(eir.imei_norm))], now=utcnow()
        )
    assert cancelled.status == ApplicationStatus.CANCELLED
    assert cancelled.cancel_reason == "Vətəndaş başqa cihaz gətirdi"
    assert (refund.reason, refund.status, refund.amount_qepik) == (
        "cancelled_at_point",
        RefundStatus.OWED,
        application.fee_qepik,
    )
    assert active == [False]  # the IMEI is no longer registered...
    assert eir.registered is False  # ...nor whitelisted
    assert refused == []  # and may be applied for again
    assert audit_actions(catalogue)[-1] == "counter.registration_cancelled"

    with catalogue.transaction() as session, pytest.raises(FormErrors) as again:
        cancel_registration(
            session, member=supervisor, notification_code=code, reason="again", now=utcnow()
        )
    assert codes_of(again.value) == {"": "application_not_cancellable"}


def cancelled_imei_norm(session: Any, application_id: int) -> str:
    from mcqs.applications.models import ApplicationImei

    return session.scalars(
        select(ApplicationImei.imei_norm).where(ApplicationImei.application_id == application_id)
    ).one()


def test_the_day_closes_once_with_its_cash_report_and_takes_no_payment_after(
    catalogue: Database, services: Any, demo_imeis: list[str]
) -> None:
    staff = make_point_staff(catalogue)
    agent, supervisor = member_of(staff.agent), member_of(staff.supervisor)
    cash = register(catalogue, services, agent, counter_form(imeis=(demo_imeis[0],)))
    pay(catalogue, agent, cash.notification_code, amount=fee_text(cash))
    card = register(
        catalogue,
        services,
        agent,
        counter_form(imeis=(demo_imeis[1],), fin="6DEF2G3", id_card="AZE12345678"),
    )
    pay(
        catalogue,
        agent,
        card.notification_code,
        method="card_terminal",
        amount=fee_text(card),
        slip="A1B2C3",
    )
    late = register(
        catalogue,
        services,
        agent,
        counter_form(imeis=(demo_imeis[2],), fin="5ABC1D2", id_card="AA1234567"),
    )

    with catalogue.reading() as session:
        day = point_day(session, point_id=staff.point.id, day=baku_day(utcnow()))
    totals = {t.method.value: (t.count, t.amount_qepik) for t in day.totals}
    assert totals == {"cash": (1, cash.fee_qepik), "card_terminal": (1, card.fee_qepik)}
    assert len(day.applications) == 3

    with catalogue.transaction() as session:
        closed = close_day(session, member=agent, now=utcnow())
        report = closed.report_csv
    assert report.count("\n") == 1 + 2 + 2  # header, two payments, two totals
    assert cash.notification_code in report and card.notification_code in report

    for who in (agent, supervisor):
        with catalogue.transaction() as session, pytest.raises(DomainError) as twice:
            close_day(session, member=who, now=utcnow())
        assert twice.value.code == "day_already_closed"
    with catalogue.reading() as session:
        assert closed_day(session, member=agent, day=baku_day(utcnow())).report_csv == report

    with pytest.raises(FormErrors) as after:
        pay(catalogue, agent, late.notification_code, amount=fee_text(late))
    assert codes_of(after.value) == {"": "day_closed_no_payments"}
    assert audit_actions(catalogue).count("counter.day_closed") == 1
