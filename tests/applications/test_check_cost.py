"""What one press of "Məlumatları yoxla" costs the database: counted so that it cannot
creep back (issue 10: the check was 12× a one-select request)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from starlette.testclient import TestClient

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import CheckInput, confirm_person, confirm_signed_in_person
from mcqs.config import Settings
from mcqs.db import Database, utcnow
from mcqs.devices.models import BlacklistedImei
from mcqs.errors import FormErrors
from mcqs.identity.population import Person
from mcqs.localtime import baku_day
from mcqs.security.models import RateLimitHit
from mcqs_simulators.population.citizens import CITIZENS

from conftest import FIXED_CODE, CitizenFlow, error_code_of

OWNER = CITIZENS[0]


@dataclass
class Statements:
    sql: list[str] = field(default_factory=list)
    commits: int = 0


@contextmanager
def statements_of(db: Database) -> Iterator[Statements]:
    """The SQL statements and commits sent through ``db`` inside the block."""
    seen = Statements()

    def statement(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.sql.append(sql)

    def commit(conn: Any) -> None:
        seen.commits += 1

    event.listen(db.engine, "before_cursor_execute", statement)
    event.listen(db.engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", statement)
        event.remove(db.engine, "commit", commit)


def _check_form_data(client: TestClient, imei: str) -> Any:
    page = client.get("/register")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert code_id and token
    return {
        "id_card": OWNER.id_card,
        "fin": OWNER.fin,
        "imei_1": imei,
        "security_code": FIXED_CODE,
        "security_code_id": code_id.group(1),
        "csrf_token": token.group(1),
    }


# On PostgreSQL (SQLite's count differs by its BEGIN and advisory locks): the guard 3 (the
# client's lock, its hit counted and written; the code's try counted and the code used up),
# the FİN's 2 (its lock, the hit), then in one statement the IMEIs' refusals (registered,
# blacklisted, held), the FİN's open count (under the lock already held), whether any of
# its applications gives way (read and locked only when one does) and the TAC's catalogue
# entry; the tariff bands with the model's price in one more; 2 inserts. No pool ping
# before either transaction (decision 0007).
MAX_STATEMENTS = 9


def test_a_check_is_two_transactions_of_few_statements(
    client: TestClient, catalogue: Database, demo_imeis: list[str]
) -> None:
    form = _check_form_data(client, demo_imeis[0])
    with statements_of(catalogue) as seen:
        answer = client.post("/register", data=form, follow_redirects=False)
    assert answer.status_code == 303
    # The guard (client's limit, security code), then the FİN's count with the application.
    assert seen.commits == 2
    assert len(seen.sql) <= MAX_STATEMENTS, "\n".join(seen.sql)
    assert not any("FOR UPDATE" in sql for sql in seen.sql)  # nothing gives way (PostgreSQL)


def test_only_a_check_that_replaces_an_application_reads_and_locks_it(
    client: TestClient, catalogue: Database, demo_imeis: list[str]
) -> None:
    """The FİN's applications that give way to the new one (the same IMEI checked again)
    are read, locked and expired only when there are any: one statement more then."""
    first = client.post("/register", data=_check_form_data(client, demo_imeis[0]))
    assert first.status_code == 200  # followed to the application form
    form = _check_form_data(client, demo_imeis[0])
    with statements_of(catalogue) as seen:
        answer = client.post("/register", data=form, follow_redirects=False)
    assert answer.status_code == 303
    if catalogue.engine.dialect.name == "postgresql":
        # Read and locked, then expired (its status, its holds released).
        assert len(seen.sql) <= MAX_STATEMENTS + 3, "\n".join(seen.sql)
        assert sum("FOR UPDATE" in sql for sql in seen.sql) == 1
    with catalogue.transaction() as session:
        statuses = session.scalars(select(Application.status).order_by(Application.id)).all()
    assert statuses == [ApplicationStatus.EXPIRED, ApplicationStatus.CREATED]


def test_a_refused_application_still_counts_the_fins_try(
    flow: CitizenFlow, catalogue: Database, demo_imeis: list[str], app_settings: Settings
) -> None:
    with catalogue.transaction() as session:
        session.add(BlacklistedImei(imei_norm=demo_imeis[0][:14], reason="stolen"))
    for _ in range(app_settings.check_limit_per_fin):
        refused = flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0],))
        assert refused.status_code == 409
        assert error_code_of(refused.text, "imei_1") == "imei_blacklisted"
    answer = flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[1],))
    assert answer.status_code == 429
    assert 'data-error="too_many_checks"' in answer.text
    with catalogue.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_a_refused_check_changes_nothing_but_the_fins_count(
    flow: CitizenFlow, catalogue: Database, demo_imeis: list[str], app_settings: Settings
) -> None:
    """The FİN's try and the application share one transaction, which a refusal commits:
    so the application writes nothing before its last refusal. Here an earlier unpaid
    application that would give way (run out, not yet swept) stays as it was when the
    check is refused for the FİN's open applications."""
    limit = app_settings.open_applications_per_fin
    check = lambda imei: flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(imei,))  # noqa: E731
    assert check(demo_imeis[limit]).status_code == 303
    with catalogue.transaction() as session:
        session.execute(update(Application).values(expires_at=utcnow() - dt.timedelta(minutes=1)))
    for imei in demo_imeis[:limit]:
        assert check(imei).status_code == 303
    refused = check(demo_imeis[limit])
    assert refused.status_code == 409
    assert 'data-error="too_many_open_applications"' in refused.text
    with catalogue.transaction() as session:
        statuses = session.execute(
            select(Application.status, func.count()).group_by(Application.status)
        ).all()
        tries = session.scalar(
            select(func.count())
            .select_from(RateLimitHit)
            .where(RateLimitHit.key == f"check:fin:{OWNER.fin}")
        )
    assert dict(statuses) == {ApplicationStatus.CREATED: limit + 1}
    assert tries == limit + 2


class CountingRegistry:
    """A stand-in registry that counts the questions it is asked; ``valid_until`` is the
    last day of the card it answers with."""

    def __init__(self, valid_until: dt.date = OWNER.id_card_valid_until) -> None:
        self.asked = 0
        self.valid_until = valid_until

    def get_person(self, fin: str) -> Person | None:
        self.asked += 1
        return Person(fin, "S", "N", "P", "A", OWNER.id_card, self.valid_until)


def test_a_check_asks_the_registry_one_question(demo_imeis: list[str]) -> None:
    registry = CountingRegistry()
    data = CheckInput(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0], "", "", ""))
    checked = confirm_person(registry, data)  # type: ignore[arg-type]
    assert (checked.fin, checked.id_card, registry.asked) == (OWNER.fin, OWNER.id_card, 1)
    signed_in = CountingRegistry()
    checked = confirm_signed_in_person(signed_in, fin=OWNER.fin, imeis=(demo_imeis[0],))  # type: ignore[arg-type]
    assert (checked.id_card, signed_in.asked) == (OWNER.id_card, 1)


@pytest.mark.parametrize("days", [0, -1])
def test_the_card_is_valid_through_its_last_baku_day(demo_imeis: list[str], days: int) -> None:
    baku_today = baku_day(utcnow())
    registry = CountingRegistry(valid_until=baku_today + dt.timedelta(days=days))
    data = CheckInput(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0], "", "", ""))
    if days == 0:
        assert confirm_person(registry, data).id_card == OWNER.id_card  # type: ignore[arg-type]
        return
    with pytest.raises(FormErrors) as refused:
        confirm_person(registry, data)  # type: ignore[arg-type]
    assert refused.value.errors[0].code == "id_card_expired"
    with pytest.raises(FormErrors) as refused:
        confirm_signed_in_person(registry, fin=OWNER.fin, imeis=(demo_imeis[0],))  # type: ignore[arg-type]
    assert refused.value.errors[0].code == "id_card_expired"
