"""The lifecycle's one table: every allowed transition moves, every other is refused, and
the database refuses a status the table does not know."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError

from mcqs.applications import lifecycle
from mcqs.applications.lifecycle import TRANSITIONS, Action, TransitionRefused
from mcqs.applications.models import Application, ApplicationStatus, Channel
from mcqs.applications.service import get_application
from mcqs.db import Database
from mcqs.jobs.models import Job
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Refund
from mcqs.wiring import connect

from factories import create_application, create_paid_application

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _act(session, application: Application, action: Action) -> None:
    if action == Action.AWAIT_PAYMENT:
        blocked = lifecycle.await_payment(
            session, application, hold_until=NOW + dt.timedelta(minutes=20), now=NOW
        )
        assert blocked == {}
    elif action == Action.MARK_PAID:
        payment_id = application.payments[0].id if application.payments else 0
        lifecycle.mark_paid(
            session, application, payment_id=payment_id, amount_qepik=1, paid_at=NOW, now=NOW
        )
    elif action == Action.SUBMIT:
        lifecycle.submit(session, application, now=NOW)
    elif action == Action.REGISTER:
        lifecycle.register(session, application, now=NOW)
    elif action == Action.REJECT:
        lifecycle.reject(session, application, reason="imei_invalid", now=NOW)
    elif action == Action.CANCEL:
        lifecycle.cancel(session, application, reason="typed the wrong IMEI", now=NOW)
    else:
        lifecycle.expire(session, application, now=NOW)


CASES = [(status, action) for status in ApplicationStatus for action in Action]


@pytest.mark.parametrize(("status", "action"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_every_transition_is_allowed_or_refused_as_the_table_says(
    catalogue: Database, demo_imeis: list[str], status: ApplicationStatus, action: Action
) -> None:
    connect()
    sources, target = TRANSITIONS[action]
    with catalogue.transaction() as session:
        if status in lifecycle.PAID_OR_DECIDED:
            created = create_paid_application(session, imeis=(demo_imeis[0],), now=NOW)
            created.status = status
        else:
            created = create_application(session, imeis=(demo_imeis[0],), status=status, now=NOW)
        application_id = created.id
    with catalogue.transaction() as session:
        application = get_application(session, application_id, lock=True)
        if action == Action.MARK_PAID and status in lifecycle.PAID_OR_DECIDED:
            # Not a transition: a second payment for a paid application is owed back.
            _act(session, application, action)
            assert application.status == status
            assert session.scalars(select(Refund.reason)).all() == ["duplicate_payment"]
            return
        if status in sources:
            _act(session, application, action)
            assert application.status == target
        else:
            with pytest.raises(TransitionRefused):
                _act(session, application, action)
            assert application.status == status


# Each a CHECK constraint: the status only the lifecycle sets, the channel it was made in.
@pytest.mark.parametrize(
    ("column", "unknown", "kept"),
    [
        ("status", "approved", ApplicationStatus.CREATED),
        ("channel", "fax", Channel.ONLINE_ANONYMOUS),
    ],
)
def test_the_database_refuses_a_value_the_code_does_not_know(
    catalogue: Database, demo_imeis: list[str], column: str, unknown: str, kept: str
) -> None:
    with catalogue.transaction() as session:
        application_id = create_application(session, imeis=(demo_imeis[0],)).id
    with pytest.raises(IntegrityError), catalogue.transaction() as session:
        session.execute(
            text(f"UPDATE applications SET {column} = :unknown WHERE id = :id"),
            {"unknown": unknown, "id": application_id},
        )
    with pytest.raises(StatementError), catalogue.transaction() as session:
        setattr(session.get_one(Application, application_id), column, unknown)
    with catalogue.reading() as session:
        assert getattr(session.get_one(Application, application_id), column) == kept


def test_what_follows_a_transition_is_written_in_its_transaction(
    catalogue: Database, demo_imeis: list[str]
) -> None:
    """Paid queues the registration; rejected owes the fee back and tells the citizen;
    a rollback takes all of it back."""
    connect()
    with catalogue.transaction() as session:
        application_id = create_application(
            session, imeis=(demo_imeis[0],), status="awaiting_payment", now=NOW
        ).id
    with pytest.raises(RuntimeError), catalogue.transaction() as session:
        application = get_application(session, application_id, lock=True)
        lifecycle.mark_paid(
            session, application, payment_id=0, amount_qepik=1, paid_at=NOW, now=NOW
        )
        raise RuntimeError("the request failed after the transition")
    with catalogue.transaction() as session:
        assert session.scalars(select(Job)).all() == []
        assert session.get(Application, application_id).status == "awaiting_payment"  # type: ignore[union-attr]

    with catalogue.transaction() as session:
        paid = create_paid_application(session, imeis=(demo_imeis[1],), now=NOW)
        paid.status = ApplicationStatus.SUBMITTED
        paid_id = paid.id
    with catalogue.transaction() as session:
        application = get_application(session, paid_id, lock=True)
        lifecycle.reject(session, application, reason="imei_blacklisted", now=NOW)
    with catalogue.transaction() as session:
        refund = session.scalars(select(Refund).where(Refund.application_id == paid_id)).one()
        assert (refund.reason, refund.status) == ("imei_blacklisted", "owed")
        sms = session.scalars(select(SmsMessage).where(SmsMessage.application_id == paid_id))
        assert len(sms.all()) == 1
