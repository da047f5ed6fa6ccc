"""Signing in as staff: the password (argon2), the one-time code (TOTP), enrolment by QR
code, lockout after 5 wrong passwords, 15 minutes idle, signing out; each step audited."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyotp
from sqlalchemy import func, select, text, update
from staff.signing_in import (
    SETUP_ACTIONS,
    create_staff,
    csrf_of,
    enrolment_secret,
    sign_in,
    type_code,
    type_password,
)

from mcqs.audit.models import AuditEntry
from mcqs.audit.service import verify_chain
from mcqs.db import Database
from mcqs.staff.models import StaffAccount, StaffRole, StaffSession
from mcqs.staff.passwords import accepted_step, hash_password, password_matches

from conftest import error_code_of


def _actions(db: Database) -> list[str]:
    """The audited actions, but for the test's own setup (points and accounts added)."""
    with db.reading() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence))
        return [action for action in actions if action not in SETUP_ACTIONS]


def _form_error(html: str) -> str:
    import re

    found = re.search(r'<p class="alert" data-error="([a-z_]+)"', html)
    assert found, "the page shows a form-wide error"
    return found.group(1)


def test_passwords_are_argon2_hashes_that_match_only_their_password() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert password_matches(hashed, "correct horse battery")
    assert not password_matches(hashed, "correct horse batterY")
    assert not password_matches(None, "correct horse battery")  # no such account
    assert not password_matches("not a hash", "x")


def test_a_code_is_accepted_once_and_only_near_its_time() -> None:
    secret = pyotp.random_base32()
    now = dt.datetime(2026, 11, 29, 12, 0, 10, tzinfo=dt.UTC)
    totp = pyotp.TOTP(secret)
    step = accepted_step(secret, totp.at(now), last_step=0, now=now)
    assert step == totp.timecode(now)
    assert accepted_step(secret, totp.at(now), last_step=step, now=now) is None  # replayed
    earlier = now - dt.timedelta(seconds=30)
    assert accepted_step(secret, totp.at(earlier), last_step=0, now=now) == step - 1
    long_ago = now - dt.timedelta(minutes=5)
    assert accepted_step(secret, totp.at(long_ago), last_step=0, now=now) is None
    assert accepted_step(secret, "12345", last_step=0, now=now) is None
    assert accepted_step(secret, "abcdef", last_step=0, now=now) is None


def test_a_counter_agent_signs_in_with_password_and_code(client: Any, db: Database) -> None:
    agent = create_staff(db, role=StaffRole.COUNTER_AGENT)
    refused = client.get("/staff", follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].endswith("/staff/sign-in")
    answer = sign_in(client, agent)
    assert answer.headers["location"].endswith("/staff")
    home = client.get("/staff")
    assert home.status_code == 200
    assert f'data-staff="{agent.username}"' in home.text
    assert 'data-role="counter_agent"' in home.text
    assert agent.point and f'data-point="{agent.point.code}"' in home.text
    assert home.headers["cache-control"] == "no-store"
    assert _actions(db) == ["staff.password_accepted", "staff.signed_in"]
    with db.reading() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "staff.signed_in")
        ).one()
        assert (entry.actor_account_id, entry.actor_role) == (agent.account_id, "counter_agent")
        assert entry.point_code == agent.point.code and entry.application_id is None
        assert entry.client_address == "testclient"


def test_the_password_step_alone_signs_nobody_in(client: Any, db: Database) -> None:
    agent = create_staff(db)
    assert type_password(client, agent.username, agent.password).status_code == 303
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_a_wrong_password_and_an_unknown_username_are_refused_alike(
    client: Any, db: Database
) -> None:
    agent = create_staff(db)
    wrong = type_password(client, agent.username, "not the password")
    unknown = type_password(client, "nobody-here", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert _form_error(wrong.text) == _form_error(unknown.text) == "staff_sign_in_refused"
    assert 'value="nobody-here"' in unknown.text  # the username stays typed
    assert "not the password" not in unknown.text


def test_empty_fields_are_named(client: Any, db: Database) -> None:
    page = client.get("/staff/sign-in")
    answer = client.post(
        "/staff/sign-in", data={"username": "", "password": "", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 422
    assert error_code_of(answer.text, "username") == "staff_username_required"
    assert error_code_of(answer.text, "password") == "staff_password_required"


def test_five_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(
    client: Any, db: Database
) -> None:
    from mcqs.audit.service import RecordedActor
    from mcqs.db import utcnow
    from mcqs.staff.service import unlock_account

    agent = create_staff(db)
    for _ in range(4):
        assert _form_error(type_password(client, agent.username, "wrong").text) == (
            "staff_sign_in_refused"
        )
    fifth = type_password(client, agent.username, "wrong")
    assert fifth.status_code == 423 and _form_error(fifth.text) == "staff_account_locked"
    right = type_password(client, agent.username, agent.password)
    assert right.status_code == 423 and _form_error(right.text) == "staff_account_locked"
    assert _actions(db)[4:] == ["staff.locked_out", "staff.sign_in_refused"]
    with db.transaction() as session:
        admin = RecordedActor(None, "cli:root", "cli", None, "cli")
        unlock_account(session, username=agent.username, by=admin, now=utcnow())
    sign_in(client, agent)
    assert client.get("/staff").status_code == 200


def test_wrong_codes_count_as_failed_sign_ins_and_lock_the_account(
    client: Any, db: Database
) -> None:
    """Knowing the password buys no more than 5 guesses at the code in a row, however
    many times the password is typed again."""
    agent = create_staff(db)
    assert type_password(client, agent.username, "wrong").status_code == 401
    type_password(client, agent.username, agent.password)
    wrong = "000000" if agent.code() != "000000" else "111111"
    refused = type_code(client, wrong)
    assert refused.status_code == 401
    assert error_code_of(refused.text, "totp_code") == "staff_code_wrong"
    type_code(client, wrong)
    type_password(client, agent.username, agent.password)  # a new half sign-in
    type_code(client, wrong)
    locked = type_code(client, wrong)  # the fifth failure: a password and four codes
    assert locked.status_code == 423 and _form_error(locked.text) == "staff_account_locked"
    assert _actions(db)[-2:] == ["staff.code_refused", "staff.locked_out"]
    again = type_password(client, agent.username, agent.password)
    assert again.status_code == 423  # the right password no longer helps


def test_a_complete_sign_in_starts_the_count_again(client: Any, db: Database) -> None:
    agent = create_staff(db)
    for _ in range(4):
        type_password(client, agent.username, "wrong")
    sign_in(client, agent)
    client.cookies.clear()
    for _ in range(4):
        assert type_password(client, agent.username, "wrong").status_code == 401


def test_a_code_used_once_cannot_sign_in_again(client: Any, db: Database) -> None:
    agent = create_staff(db)
    code = agent.code()
    type_password(client, agent.username, agent.password)
    assert type_code(client, code).status_code == 303
    client.cookies.clear()
    type_password(client, agent.username, agent.password)
    replayed = type_code(client, code)
    assert replayed.status_code == 401
    assert error_code_of(replayed.text, "totp_code") == "staff_code_wrong"


def test_the_first_sign_in_enrols_an_authenticator_app(client: Any, db: Database) -> None:
    agent = create_staff(db, role=StaffRole.BACK_OFFICE, enrolled=False)
    type_password(client, agent.username, agent.password)
    page = client.get("/staff/sign-in/code")
    assert 'data-enrolment="true"' in page.text and "<svg" in page.text
    secret = enrolment_secret(client)
    assert enrolment_secret(client) == secret  # the same secret on every look
    assert type_code(client, pyotp.TOTP(secret).now()).status_code == 303
    assert client.get("/staff").status_code == 200
    with db.reading() as session:
        account = session.get(StaffAccount, agent.account_id)
        assert account is not None and account.totp_enrolled and account.totp_secret == secret
    assert _actions(db) == ["staff.password_accepted", "staff.enrolled", "staff.signed_in"]
    # The next sign-in asks for the code only.
    client.cookies.clear()
    type_password(client, agent.username, agent.password)
    assert 'data-enrolment="true"' not in client.get("/staff/sign-in/code").text


def test_a_session_left_alone_15_minutes_is_over(client: Any, db: Database) -> None:
    agent = create_staff(db)
    sign_in(client, agent)
    assert client.get("/staff").status_code == 200
    with db.transaction() as session:
        session.execute(
            update(StaffSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=14)
            )
        )
    assert client.get("/staff").status_code == 200  # 14 minutes: still on (and seen now)
    with db.transaction() as session:
        session.execute(
            update(StaffSession).values(
                last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15, seconds=1)
            )
        )
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_every_request_counts_as_activity(client: Any, db: Database) -> None:
    """Idle means since the last request, exactly: a request 30 s after the one before
    moves the mark (written at most once a minute, a session ended a minute early)."""
    sign_in(client, create_staff(db))
    half_a_minute_ago = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
    with db.transaction() as session:
        session.execute(update(StaffSession).values(last_seen_at=half_a_minute_ago))

    assert client.get("/staff").status_code == 200

    with db.reading() as session:
        seen = session.scalar(select(func.max(StaffSession.last_seen_at)))
    assert seen is not None and seen > half_a_minute_ago + dt.timedelta(seconds=25)


def test_signing_out_ends_the_session_for_every_copy_of_the_cookie(
    client: Any, db: Database
) -> None:
    agent = create_staff(db)
    sign_in(client, agent)
    copy = dict(client.cookies)
    home = client.get("/staff")
    out = client.post(
        "/staff/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303 and "signed_out=1" in out.headers["location"]
    client.cookies.clear()
    for name, value in copy.items():
        client.cookies.set(name, value)
    assert client.get("/staff", follow_redirects=False).status_code == 303
    assert _actions(db)[-1] == "staff.signed_out"
    with db.reading() as session:
        assert verify_chain(session) is None


def test_signing_out_works_while_the_audit_chain_is_broken(client: Any, db: Database) -> None:
    """Other actions are refused until the chain head is restored; a sign-out is not (a
    session left open on a counter's shared computer is the greater harm)."""
    sign_in(client, create_staff(db))
    home = client.get("/staff")
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("DELETE FROM audit_chain_head"))

    out = client.post(
        "/staff/sign-out", data={"csrf_token": csrf_of(home.text)}, follow_redirects=False
    )

    assert out.status_code == 303 and "signed_out=1" in out.headers["location"]
    with db.reading() as session:
        assert session.scalar(select(func.count()).where(StaffSession.ended_at.is_(None))) == 0


def test_a_locked_account_is_signed_out_at_once(client: Any, db: Database) -> None:
    agent = create_staff(db)
    sign_in(client, agent)
    with db.transaction() as session:
        session.execute(update(StaffAccount).values(locked_at=dt.datetime.now(dt.UTC)))
    assert client.get("/staff", follow_redirects=False).status_code == 303


def test_staff_pages_speak_three_languages(client: Any, db: Database) -> None:
    agent = create_staff(db)
    texts = {lang: client.get(f"/staff/sign-in?lang={lang}").text for lang in ("az", "en", "ru")}
    assert '<html lang="en">' in texts["en"] and '<html lang="ru">' in texts["ru"]
    assert len({texts["az"], texts["en"], texts["ru"]}) == 3
    sign_in(client, agent)
    assert client.get("/staff?lang=ru").status_code == 200


def test_the_demo_accounts_sign_in_with_the_readmes_secrets(client: Any, db: Database) -> None:
    from mcqs.staff.demo import DEMO_ACCOUNTS, seed_demo_staff

    seed_demo_staff(db)
    seed_demo_staff(db)  # safe to repeat
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for demo in DEMO_ACCOUNTS:
        assert f"`{demo.username}`" in readme and f"`{demo.totp_secret}`" in readme
        assert f"`{demo.password}`" in readme
    post = next(d for d in DEMO_ACCOUNTS if d.username == "agent.post")
    assert type_password(client, post.username, post.password).status_code == 303
    assert type_code(client, pyotp.TOTP(post.totp_secret).now()).status_code == 303
    assert 'data-point="AZPOST-BAKU-01"' in client.get("/staff").text


def test_sign_in_attempts_are_limited_per_client(db: Database, db_url: str) -> None:
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    from conftest import make_settings

    agent = create_staff(db)
    settings = make_settings(database_url=db_url, staff_sign_in_limit_per_client=2)
    with TestClient(create_app(settings, db=db)) as client:
        assert type_password(client, agent.username, "wrong").status_code == 401
        assert type_password(client, agent.username, "wrong").status_code == 401
        limited = type_password(client, agent.username, agent.password)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "60"
        assert _form_error(limited.text) == "too_many_staff_sign_ins"
    with db.reading() as session:  # the limited try never reached the account
        account = session.get(StaffAccount, agent.account_id)
        assert account is not None and account.failed_sign_ins == 2


def test_a_refusal_leads_staff_back_to_their_home_page(client: Any, db: Database) -> None:
    """The error page a signed-in staff member meets (another role's page, a forged form)
    leads to the staff home page, not to the citizen's form."""
    sign_in(client, create_staff(db))
    refused = client.post("/staff/sign-out", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and 'data-error="csrf_refused"' in refused.text
    assert 'href="http://testserver/staff"' in refused.text
    assert client.get("/staff").status_code == 200  # still signed in


def _handed_over(db: Database) -> Any:
    """An account as `mcqs staff add` makes it: its password to be replaced."""
    agent = create_staff(db)
    with db.transaction() as session:
        session.execute(
            update(StaffAccount)
            .where(StaffAccount.id == agent.account_id)
            .values(must_change_password=True)
        )
    return agent


def _change(client: Any, current: str, new: str, repeated: str | None = None) -> Any:
    page = client.get("/staff/password")
    return client.post(
        "/staff/password",
        data={
            "current_password": current,
            "new_password": new,
            "repeated_password": new if repeated is None else repeated,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


def test_a_handed_over_password_is_replaced_before_any_other_page(
    client: Any, db: Database
) -> None:
    agent = _handed_over(db)
    sign_in(client, agent)
    home = client.get("/staff", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"].endswith("/staff/password")
    api = client.get("/staff", headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.json()["code"] == "staff_password_change_required"
    page = client.get("/staff/password")
    assert 'data-status="password_change_required"' in page.text
    refused = _change(client, "not it", "short", "shorter")
    assert refused.status_code == 422
    assert error_code_of(refused.text, "current_password") == "staff_password_wrong"
    assert error_code_of(refused.text, "new_password") == "staff_password_too_short"
    same = _change(client, agent.password, agent.password)
    assert error_code_of(same.text, "new_password") == "staff_password_same"
    mismatch = _change(client, agent.password, "a new long password", "a new long passw0rd")
    assert error_code_of(mismatch.text, "repeated_password") == "staff_password_mismatch"
    changed = _change(client, agent.password, "a new long password")
    assert changed.status_code == 303 and "password_changed=1" in changed.headers["location"]
    assert client.get("/staff").status_code == 200
    assert _actions(db)[-1] == "staff.password_changed"
    client.cookies.clear()
    assert type_password(client, agent.username, agent.password).status_code == 401
    assert type_password(client, agent.username, "a new long password").status_code == 303


def test_a_member_who_must_change_the_password_can_still_sign_out(
    client: Any, db: Database
) -> None:
    sign_in(client, _handed_over(db))
    page = client.get("/staff/password")
    out = client.post(
        "/staff/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303 and "signed_out=1" in out.headers["location"]
