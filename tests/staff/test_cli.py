"""The administrator's command line: points, staff accounts, unlocking, the audit check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from staff.signing_in import create_staff, sign_in, type_password
from typer.testing import CliRunner

from mcqs.audit.models import AuditEntry
from mcqs.cli import app
from mcqs.config import get_settings
from mcqs.db import Database
from mcqs.staff.models import StaffAccount


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("MCQS_DATABASE_URL", db_url)
    monkeypatch.setenv("MCQS_ENV", "test")
    monkeypatch.delenv("MCQS_STAFF_PASSWORD", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_points_and_accounts_are_added_and_audited(cli: CliRunner, db: Database) -> None:
    added = cli.invoke(
        app,
        ["points", "add", "azpost-gnc-02", "--name", "Gəncə 2", "--address", "Gəncə",
         "--kind", "post_office"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "AZPOST-GNC-02" in added.output
    agent = cli.invoke(
        app, ["staff", "add", "Mammadov.E", "--role", "counter_agent", "--point", "AZPOST-GNC-02"]
    )
    assert agent.exit_code == 0, agent.output
    password = next(
        line.split("=", 1)[1] for line in agent.output.splitlines() if line.startswith("password=")
    )
    assert len(password) >= 16
    with db.reading() as session:
        account = session.scalars(select(StaffAccount)).one()
        assert account.username == "mammadov.e" and not account.totp_enrolled
        assert account.must_change_password  # the first sign-in asks for their own
        assert password not in account.password_hash
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)).all()
        assert [e.action for e in entries] == ["points.added", "staff.account_added"]
        assert entries[0].actor_role == "cli"
        assert all(password not in str(e.details) for e in entries)


def test_a_password_from_the_environment_is_not_printed(
    cli: CliRunner, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCQS_STAFF_PASSWORD", "given-password-123")
    added = cli.invoke(app, ["staff", "add", "rahimova", "--role", "back_office"])
    assert added.exit_code == 0, added.output
    assert "given-password-123" not in added.output and "password=" not in added.output


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["staff", "add", "x.y", "--role", "counter_agent"], "need --point"),
        (["staff", "add", "x.y", "--role", "cashier"], "--role is one of"),
        (["staff", "add", "x.y", "--role", "admin", "--point", "P1"], "belong to no point"),
        (["staff", "add", "x.y", "--role", "counter_agent", "--point", "NOPE"], "no registration"),
        (["points", "add", "P2", "--name", "n", "--address", "a", "--kind", "operator_shop"],
         "needs --operator"),
        (["staff", "unlock", "nobody"], "no staff account"),
    ],
)  # fmt: skip
def test_refusals_say_why(cli: CliRunner, db: Database, arguments: list[str], words: str) -> None:
    answer = cli.invoke(app, arguments)
    assert answer.exit_code == 2
    assert words in answer.output


def test_unlock_lets_a_locked_out_account_sign_in(
    cli: CliRunner, db: Database, client: object
) -> None:
    agent = create_staff(db)
    for _ in range(5):
        type_password(client, agent.username, "wrong")
    assert type_password(client, agent.username, agent.password).status_code == 423
    unlocked = cli.invoke(app, ["staff", "unlock", agent.username])
    assert unlocked.exit_code == 0, unlocked.output
    sign_in(client, agent)


def test_audit_verify_says_ok_or_names_the_first_broken_entry(
    cli: CliRunner, db: Database, client: object
) -> None:
    sign_in(client, create_staff(db))
    ok = cli.invoke(app, ["audit", "verify"])
    # The point and the account made (audited by the services), then the two sign-in steps.
    assert ok.exit_code == 0 and "OK: 4 audit entries" in ok.output
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("UPDATE audit_entries SET action = 'x' WHERE sequence = 2"))
    broken = cli.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "BROKEN: entry 2" in broken.output and "edited" in broken.output


def test_audit_restore_head_after_the_head_was_deleted(
    cli: CliRunner, db: Database, client: object
) -> None:
    sign_in(client, create_staff(db))
    refused = cli.invoke(app, ["audit", "restore-head"])
    assert refused.exit_code == 1  # the head is there: nothing to restore
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text("DELETE FROM audit_chain_head"))
    assert cli.invoke(app, ["audit", "verify"]).exit_code == 1

    restored = cli.invoke(app, ["audit", "restore-head"])

    assert restored.exit_code == 0, restored.output
    assert cli.invoke(app, ["audit", "verify"]).exit_code == 0
    with db.reading() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.sequence)))
    assert actions[-1] == "audit.head_restored"


def test_the_services_audit_points_and_accounts_whoever_calls_them(db: Database) -> None:
    """Not the command line: the services record who added a point or an account (the
    demo's seeding and the tests' setup call them too)."""
    create_staff(db)
    with db.reading() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.sequence)).all()
    assert [(e.action, e.actor_username) for e in entries] == [
        ("points.added", "test-setup"),
        ("staff.account_added", "test-setup"),
    ]
