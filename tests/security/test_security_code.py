"""The security code: single use, expires in 5 minutes, 5 wrong tries need a new code;
and the rate limits of the check form, per client and per FİN."""

from __future__ import annotations

import datetime as dt

import pytest

from mcqs.config import Settings
from mcqs.db import Database
from mcqs.errors import InvalidInput, TooManyRequests
from mcqs.security.service import (
    count_fin_check,
    guard_check,
    issue_security_code,
    verify_security_code,
)

NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {"env": "test", "secret_key": "test-secret-key-0123456789"}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def issue(db: Database, config: Settings) -> tuple[str, str]:
    with db.transaction() as session:
        return issue_security_code(session, settings=config, now=NOW)


def verify(
    db: Database, config: Settings, code_id: str, typed: str, *, at: dt.datetime = NOW
) -> None:
    """One press of the button: the attempt is committed even when refused."""
    refused: InvalidInput | None = None
    with db.transaction() as session:
        try:
            verify_security_code(session, settings=config, code_id=code_id, typed=typed, now=at)
        except InvalidInput as error:
            refused = error
    if refused:
        raise refused


def test_right_code_is_accepted_once(db: Database) -> None:
    config = settings()
    code_id, text = issue(db, config)
    assert len(text) == 5 and text.isdigit()
    verify(db, config, code_id, text)
    with pytest.raises(InvalidInput) as used:
        verify(db, config, code_id, text)
    assert used.value.code == "security_code_expired"


def test_code_expires_after_five_minutes(db: Database) -> None:
    config = settings()
    code_id, text = issue(db, config)
    with pytest.raises(InvalidInput) as late:
        verify(db, config, code_id, text, at=NOW + dt.timedelta(minutes=5, seconds=1))
    assert late.value.code == "security_code_expired"


def test_five_wrong_tries_lock_the_code(db: Database) -> None:
    config = settings(security_code_fixed="24680")
    code_id, _ = issue(db, config)
    codes = []
    for _ in range(5):
        with pytest.raises(InvalidInput) as wrong:
            verify(db, config, code_id, "11111")
        codes.append(wrong.value.code)
    assert codes == ["security_code_wrong"] * 4 + ["security_code_locked"]
    with pytest.raises(InvalidInput) as locked:
        verify(db, config, code_id, "24680")  # even the right code, now
    assert locked.value.code == "security_code_locked"


def test_an_empty_code_is_a_try_that_uses_nothing_up(db: Database) -> None:
    config = settings(security_code_fixed="24680")
    code_id, _ = issue(db, config)
    for _ in range(4):
        with pytest.raises(InvalidInput) as empty:
            verify(db, config, code_id, "  ")
        assert empty.value.code == "security_code_required"
    verify(db, config, code_id, " 24680 ")  # the fifth try, right
    with pytest.raises(InvalidInput) as used:
        verify(db, config, code_id, "24680")
    assert used.value.code == "security_code_expired"
    with pytest.raises(InvalidInput) as unknown:
        verify(db, config, "0" * 32, "24680")
    assert unknown.value.code == "security_code_expired"


def test_only_a_hash_of_the_code_is_stored(db: Database) -> None:
    from mcqs.security.models import SecurityCode

    config = settings(security_code_fixed="24680")
    code_id, _ = issue(db, config)
    with db.transaction() as session:
        stored = session.get(SecurityCode, code_id)
        assert stored is not None and "24680" not in stored.code_hash


def test_fixed_code_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="MCQS_SECURITY_CODE_FIXED"):
        Settings(env="production", secret_key="a-real-production-secret", security_code_fixed="1")


def _press(db: Database, config: Settings, *, client: str) -> str | None:
    code_id, text = issue(db, config)
    with db.transaction() as session:
        try:
            guard_check(
                session, settings=config, client=client, code_id=code_id, typed_code=text, now=NOW
            )
        except TooManyRequests as error:
            return error.code
    return None


def _count_fin(db: Database, config: Settings, fin: str) -> str | None:
    with db.transaction() as session:
        try:
            count_fin_check(session, settings=config, fin=fin, now=NOW)
        except TooManyRequests as error:
            return error.code
    return None


def test_rate_limit_per_client(db: Database) -> None:
    config = settings(check_limit_per_client=3, check_limit_per_fin=100)
    results = [_press(db, config, client="10.1.1.1") for _ in range(4)]
    assert results == [None, None, None, "too_many_checks"]
    assert _press(db, config, client="10.1.1.2") is None


def test_rate_limit_per_fin(db: Database) -> None:
    config = settings(check_limit_per_client=100, check_limit_per_fin=2)
    results = [_count_fin(db, config, "5ABC1D2") for _ in range(3)]
    assert results == [None, None, "too_many_checks"]
    assert _count_fin(db, config, "6DEF2G3") is None


def test_rate_limit_message_on_the_form(flow, demo_imeis, app_settings) -> None:
    from mcqs_simulators.population.citizens import CITIZENS

    citizen = CITIZENS[0]
    imeis = (demo_imeis[0],)
    for _ in range(app_settings.check_limit_per_fin):  # the same IMEI: each gives way
        assert flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=imeis).status_code == 303
    answer = flow.check(id_card=citizen.id_card, fin=citizen.fin, imeis=imeis)
    assert answer.status_code == 429
    assert 'data-error="too_many_checks"' in answer.text


def test_a_wrong_security_code_counts_against_the_client_only(db: Database) -> None:
    config = settings(check_limit_per_client=1000, check_limit_per_fin=3)
    for _ in range(10):  # an attacker who knows the FİN but cannot read the picture
        code_id, _text = issue(db, config)
        with db.transaction() as session, pytest.raises(InvalidInput):
            guard_check(session, settings=config, client="10.6.6.6",
                        code_id=code_id, typed_code="00000", now=NOW)  # fmt: skip
    assert _count_fin(db, config, "5ABC1D2") is None
