"""IMEI holds: a check holds nothing; paying holds the IMEIs for the payment session only;
checking again never lengthens a hold; one FİN has few unpaid applications at once."""

from __future__ import annotations

import re

from sqlalchemy import select

from mcqs.applications.models import ImeiHold
from mcqs.db import Database
from mcqs_simulators.population.citizens import CITIZENS

from conftest import error_code_of


def live_holds(db: Database) -> list[ImeiHold]:
    with db.transaction() as session:
        return list(session.scalars(select(ImeiHold).where(ImeiHold.released_at.is_(None))))


def test_a_check_alone_holds_nothing(flow, catalogue: Database, demo_imeis) -> None:
    first, other = CITIZENS[0], CITIZENS[1]
    assert (
        flow.check(id_card=first.id_card, fin=first.fin, imeis=(demo_imeis[0],)).status_code == 303
    )
    assert live_holds(catalogue) == []
    answer = flow.check(id_card=other.id_card, fin=other.fin, imeis=(demo_imeis[0],))
    assert answer.status_code == 303, "an unpaid check keeps nobody else out"


def test_checking_again_never_lengthens_a_hold(flow, catalogue: Database, demo_imeis) -> None:
    """The attack in issue 5: one identity re-checking an IMEI to keep it held."""
    citizen = CITIZENS[0]
    flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    first = flow.confirm()
    assert first.status_code == 303
    [hold] = live_holds(catalogue)
    assert hold.held_until is not None
    # The same person checks the same IMEI again: refused, the hold is as it was, and the
    # message names the moment it ends.
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert error_code_of(again.text, "imei_1") == "imei_in_pending_application"
    from mcqs.localtime import format_baku

    assert format_baku(hold.held_until) in again.text
    # Pressing "Təsdiqlə və ödəniş et" again reuses the open session, also no longer.
    second = flow.confirm()
    assert second.headers["location"] == first.headers["location"]
    assert [(h.id, h.held_until) for h in live_holds(catalogue)] == [(hold.id, hold.held_until)]


def test_one_fin_has_few_unpaid_applications_at_once(
    flow, catalogue: Database, demo_imeis, app_settings
) -> None:
    citizen = CITIZENS[0]
    limit = app_settings.open_applications_per_fin
    for imei in demo_imeis[:limit]:
        answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(imei,))
        assert answer.status_code == 303
    refused = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[limit],))
    assert refused.status_code == 409
    found = re.search(r'class="alert" data-error="([a-z_]+)"', refused.text)
    assert found and found.group(1) == "too_many_open_applications"
    # Checking one of the same IMEIs again replaces that application: not a new one.
    again = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=(demo_imeis[0],))
    assert again.status_code == 303
