"""Signing in as staff: password, then the one-time code; the principal on staff routes."""

from __future__ import annotations

from typing import Any

from staff.signing_in import create_staff, sign_in

from mcqs.db import Database
from mcqs.staff.models import StaffRole


def test_a_counter_agent_signs_in_with_password_and_code(client: Any, db: Database) -> None:
    agent = create_staff(db, role=StaffRole.COUNTER_AGENT)
    assert (
        client.get("/staff", follow_redirects=False).headers["location"].endswith("/staff/sign-in")
    )
    answer = sign_in(client, agent)
    assert answer.headers["location"].endswith("/staff")
    home = client.get("/staff")
    assert home.status_code == 200
    assert f'data-staff="{agent.username}"' in home.text
    assert 'data-role="counter_agent"' in home.text
    assert home.headers["cache-control"] == "no-store"
