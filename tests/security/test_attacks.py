"""Each attack of issue 6, replayed against the app (SQLite and PostgreSQL), and its refusal.

Assertions are on status codes and on the stable error codes pages carry (``data-error``),
never on Azerbaijani sentences."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from itsdangerous import TimestampSigner
from pydantic import ValidationError
from sqlalchemy import func, select
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.applications.service import CheckInput, confirm_person
from mcqs.config import DEVELOPMENT_SECRET, Settings
from mcqs.db import Database
from mcqs.errors import FormErrors
from mcqs.identity.population import Person
from mcqs.security.access_log import LOGGER as ACCESS_LOGGER
from mcqs.security.models import SecurityCode
from mcqs_simulators.population.citizens import CITIZENS

from conftest import FIXED_CODE, CitizenFlow, csrf_token_of, error_code_of

OWNER = CITIZENS[0]  # FİN 5ABC1D2, ID card AA1234567
OTHER_CARD = "AA7654321"  # a well-formed card number that is not the owner's
NUL = "\x00"
PARTIES = ("population", "goldenpay", "sms")
REAL_PARTIES = {
    **{f"{party}_base_url": f"https://{party}.example.az" for party in PARTIES},
    "egov_discovery_url": "https://login.example.az/realms/egov/.well-known/openid-configuration",
}
SECRET = "a-real-production-secret"


def check_form(client: TestClient, **fields: str) -> httpx.Response:
    """Open the check form, then post it with the owner's details and ``fields`` over them."""
    import re

    page = client.get("/register")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    assert code_id
    data = {
        "id_card": OWNER.id_card,
        "fin": OWNER.fin,
        "imei_1": "",
        "security_code": FIXED_CODE,
        "security_code_id": code_id.group(1),
        "csrf_token": csrf_token_of(page.text),
    }
    data.update(fields)
    return client.post("/register", data=data, follow_redirects=False)


# ---- a session cookie forged with the secret ------------------------------------------------


def forged_cookie(secret: str, session: dict[str, object]) -> str:
    """What Starlette's SessionMiddleware would write, signed with ``secret``."""
    data = base64.b64encode(json.dumps(session).encode())
    return TimestampSigner(secret).sign(data).decode()


def test_a_forged_cookie_listing_database_ids_reads_nothing(
    flow: CitizenFlow, client: TestClient, demo_imeis: list[str], app_settings: Settings
) -> None:
    code = flow.register_and_pay(imeis=(demo_imeis[0],))
    ids = list(range(1, 41))
    cookie = forged_cookie(app_settings.secret_key, {"applications": ids, "current": 1})
    client.cookies.clear()
    client.cookies.set("mcqs_session", cookie)
    for path in (f"/receipts/{code}", f"/receipts/{code}/pdf"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].endswith(f"/verify/{code}")
    form = client.get("/application", follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].endswith("/register")


def test_the_session_expires_after_30_idle_minutes(client: TestClient) -> None:
    answer = client.get("/register")
    assert "Max-Age=1800" in answer.headers["set-cookie"]


# ---- the FİN lock-out -------------------------------------------------------------------------


def test_wrong_card_posts_with_a_right_code_do_not_lock_the_owner_out(
    flow: CitizenFlow, client: TestClient, demo_imeis: list[str], app_settings: Settings
) -> None:
    for _ in range(app_settings.check_limit_per_fin):
        refused = check_form(client, id_card=OTHER_CARD, imei_1=demo_imeis[0])
        assert refused.status_code == 422
        assert error_code_of(refused.text, "id_card") == "id_card_not_of_fin"
    owner = flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0],))
    assert owner.status_code == 303


class CountingRegistry:
    """A stand-in population registry that records which questions it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_person(self, fin: str) -> Person | None:
        self.asked.append("person")
        return None if fin != OWNER.fin else _person()


def _person() -> Person:
    return Person(OWNER.fin, "S", "N", "P", "A", OWNER.id_card, OWNER.id_card_valid_until)


def test_an_unknown_and_a_known_fin_ask_the_registry_the_same_questions(
    demo_imeis: list[str],
) -> None:
    asked = {}
    for fin in (OWNER.fin, "9ZZZ9Z9"):
        registry = CountingRegistry()
        with pytest.raises(FormErrors):
            data = CheckInput(id_card=OTHER_CARD, fin=fin, imeis=(demo_imeis[0], "", "", ""))
            confirm_person(registry, data)  # type: ignore[arg-type]
        asked[fin] = registry.asked
    # The same one question for both.
    assert asked[OWNER.fin] == asked["9ZZZ9Z9"] == ["person"]


# ---- control characters -------------------------------------------------------------------


CHECK_FIELDS = ("id_card", "fin", "imei_1", "imei_2", "imei_3", "imei_4", "security_code")


@pytest.mark.parametrize("field", [*CHECK_FIELDS, "security_code_id"])
def test_a_nul_in_any_field_of_the_check_form_is_that_fields_error(
    client: TestClient, field: str
) -> None:
    answer = check_form(client, **{field: f"5AB{NUL}C1D2"})
    assert answer.status_code == 422
    shown_at = "security_code" if field == "security_code_id" else field
    assert error_code_of(answer.text, shown_at) == "control_characters"


@pytest.mark.parametrize("field", ["phone", "card_type"])
def test_a_nul_in_any_field_of_the_application_form_is_that_fields_error(
    flow: CitizenFlow, client: TestClient, demo_imeis: list[str], field: str
) -> None:
    import re

    assert (
        flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0],)).status_code == 303
    )
    form = client.get("/application").text
    code = re.search(r'name="code" value="([0-9A-Z]+)"', form)
    assert code
    data = {"code": code.group(1), "phone": "0501234567", "card_type": "v"}
    data[field] = f"v{NUL}"
    answer = client.post(
        "/application", data={**data, "csrf_token": csrf_token_of(form)}, follow_redirects=False
    )
    assert answer.status_code == 422
    assert error_code_of(answer.text, field) == "control_characters"
    forged_code = client.post(
        "/application",
        data={**data, "code": f"{code.group(1)}{NUL}", "csrf_token": csrf_token_of(form)},
        follow_redirects=False,
    )
    assert forged_code.status_code == 303  # not an application of this browser


def test_a_nul_in_the_return_urls_key_or_a_notification_code_is_refused(
    client: TestClient,
) -> None:
    for outcome in ("success", "failure"):
        answer = client.get(f"/payments/goldenpay/{outcome}", params={"payment_key": f"k{NUL}"})
        assert answer.status_code == 404
        assert 'data-error="payment_unknown"' in answer.text
    status = client.get("/status", params={"code": f"ABCD{NUL}"})
    assert status.status_code == 422
    assert error_code_of(status.text, "code") == "control_characters"
    for path in ("/receipts/AB%00CD", "/receipts/AB%00CD/pdf", "/verify/AB%00CD"):
        assert client.get(path, follow_redirects=False).status_code == 422, path


# ---- the Host header ----------------------------------------------------------------------


def test_another_host_is_refused(client: TestClient) -> None:
    assert client.get("/register", headers={"Host": "evil.example"}).status_code == 400


def test_links_and_redirects_come_from_the_public_url_whatever_the_host(
    app_settings: Settings, catalogue: Database, http: httpx.Client, demo_imeis: list[str]
) -> None:
    """Even with every host allowed (a proxy that passes any), no evil.example anywhere."""
    settings = app_settings.model_copy(update={"allowed_hosts": "*"})
    app = create_app(settings, db=catalogue)
    with TestClient(app, base_url="http://evil.example") as evil:
        flow = CitizenFlow(evil, http)
        seen = [evil.get("/register"), evil.get("/status")]
        checked = flow.check(id_card=OWNER.id_card, fin=OWNER.fin, imeis=(demo_imeis[0],))
        seen += [checked, evil.get("/application")]
        confirmed = flow.confirm()
        back = flow.come_back(flow.pay(confirmed.headers["location"]))
        code = back.headers["location"].rsplit("/", 1)[-1]
        seen += [back, evil.get(f"/receipts/{code}"), evil.get(f"/verify/{code}")]
        seen += [evil.get("/status", params={"code": code})]
    assert back.headers["location"].startswith("http://testserver/receipts/")
    for answer in seen:
        assert "evil.example" not in answer.text, answer.url
        assert "evil.example" not in answer.headers.get("location", ""), answer.url


# ---- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-the-sessions-token"])
def test_a_post_without_the_sessions_token_is_refused(
    client: TestClient, token: str | None
) -> None:
    page = client.get("/register")
    data = {"id_card": OWNER.id_card, "fin": OWNER.fin, "security_code": FIXED_CODE}
    if token is not None:
        data["csrf_token"] = token
    answer = client.post("/register", data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert 'data-error="csrf_refused"' in answer.text
    assert f'value="{OWNER.fin}"' in answer.text  # what was typed is kept
    assert csrf_token_of(answer.text) == csrf_token_of(page.text)
    pay = client.post("/application", data={"phone": "0501234567"}, follow_redirects=False)
    assert pay.status_code == 403 and 'data-error="csrf_refused"' in pay.text


def test_another_browsers_token_is_refused(
    client: TestClient, app_settings: Settings, catalogue: Database
) -> None:
    other_token = csrf_token_of(client.get("/register").text)
    with TestClient(create_app(app_settings, db=catalogue)) as other:
        other.get("/register")
        answer = other.post("/register", data={"csrf_token": other_token})
    assert answer.status_code == 403


# ---- uploads and malformed requests ---------------------------------------------------------


def test_a_file_posted_to_a_form_field_gets_the_azerbaijani_page(client: TestClient) -> None:
    page = client.get("/register")
    answer = client.post(
        "/register",
        data={"csrf_token": csrf_token_of(page.text)},
        files={"fin": ("fin.txt", b"5ABC1D2", "text/plain")},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert error_code_of(answer.text, "fin") == "field_not_text"
    assert '"loc"' not in answer.text and "detail" not in answer.text
    pay = client.post("/application", files={"phone": ("p.txt", b"050", "text/plain")})
    assert pay.status_code == 422 and pay.headers["content-type"].startswith("text/html")


# ---- the security-code flood --------------------------------------------------------------


def test_a_client_cannot_have_security_codes_by_the_hundred(
    client: TestClient, app_settings: Settings, catalogue: Database
) -> None:
    limit = app_settings.security_code_limit_per_client
    for _ in range(limit):
        assert client.get("/register").status_code == 200
    flooded = client.get("/register")
    assert flooded.status_code == 429
    assert 'data-error="too_many_security_codes"' in flooded.text
    assert flooded.headers["retry-after"] == "60"  # the limit counts a minute
    again = client.post(
        "/register",
        data={"action": "new_code", "fin": OWNER.fin, "csrf_token": csrf_token_of(flooded.text)},
    )
    assert again.status_code == 429 and f'value="{OWNER.fin}"' in again.text
    with catalogue.transaction() as session:
        assert session.scalar(select(func.count()).select_from(SecurityCode)) == limit


# ---- production by default ----------------------------------------------------------------


def test_production_is_the_default_and_refuses_the_demo_conveniences() -> None:
    assert Settings.model_fields["env"].default == "production"
    with pytest.raises(ValidationError, match="MCQS_SECRET_KEY"):
        Settings(env="production", **REAL_PARTIES)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="MCQS_SECURITY_CODE_FIXED"):
        Settings(env="production", secret_key=SECRET, security_code_fixed="1", **REAL_PARTIES)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="simulators"):
        Settings(env="production", secret_key="a-real-production-secret")
    # The e-gov simulator alone is refused too, by name.
    simulated_egov = {**REAL_PARTIES, "egov_discovery_url": ""}
    with pytest.raises(ValidationError, match="MCQS_EGOV_DISCOVERY_URL point at the simulators"):
        Settings(env="production", secret_key=SECRET, **simulated_egov)  # type: ignore[arg-type]
    for env in ("demo", "test"):
        assert Settings(env=env, secret_key=DEVELOPMENT_SECRET, security_code_fixed="1")


def test_serve_says_why_it_refuses_in_one_line(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MCQS_")}
    refused = subprocess.run(
        [sys.executable, "-m", "mcqs.cli", "serve"],
        env=environment,
        cwd=tmp_path,  # no .env file
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "MCQS_SECRET_KEY" in lines[0], refused.stderr


def test_production_hides_the_api_docs_and_asks_for_https(catalogue: Database) -> None:
    settings = Settings(
        env="production",
        secret_key="a-real-production-secret",
        public_url="https://mcqs.example.az",
        database_url="sqlite://",
        **REAL_PARTIES,  # type: ignore[arg-type]
    )
    with TestClient(create_app(settings, db=catalogue), base_url="https://mcqs.example.az") as web:
        for path in ("/api/docs", "/openapi.json"):
            assert web.get(path).status_code == 404, path
        home = web.get("/")
    assert home.headers["strict-transport-security"].startswith("max-age=")
    assert "script-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["referrer-policy"] == "same-origin"


# ---- access logs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/receipts/K7F39QDM2XABC", "/receipts/K7F39QDM2XABC/pdf", "/verify/K7F39QDM2XABC",
     "/status?code=K7F39QDM2XABC", "/payments/goldenpay/success?payment_key=K7F39QDM2XABC",
     "/_sim/population/api/v1/persons/K7F39QDM2XABC/id-cards/AA1234567",
     "/n5g-eir-eic/v1/equipment-status?pei=imei-K7F39QDM2XABC"],
)  # fmt: skip
def test_access_logs_show_no_notification_code_nor_fin(
    path: str, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        status = client.get(path).status_code
    [line] = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert "K7F39QDM2XABC" not in line and "AA1234567" not in line
    assert line.startswith('testclient:50000 - "GET /') and line.endswith(f" {status}")


def test_another_sites_form_does_not_replace_the_citizens_session(client) -> None:
    """A cross-site POST arrives without our SameSite cookie: refused, and answered
    without a new session cookie, which would replace the citizen's own (found when
    issue 6 was replayed)."""
    from starlette.testclient import TestClient

    stranger = TestClient(client.app)  # no cookies at all, as the browser sends it
    answer = stranger.post("/register", data={"fin": "5ABC1D2"}, follow_redirects=False)
    assert answer.status_code == 403
    assert 'data-error="csrf_refused"' in answer.text
    assert "set-cookie" not in answer.headers


def test_a_long_forwarded_address_is_counted_not_crashed_on(db) -> None:
    """A 100-character X-Forwarded-For from a trusted proxy became the client address and
    went into an 80-character column: a 500 on PostgreSQL. (The TestClient cannot send a
    forwarded address, so the rate-limit count is asked directly.)"""
    import datetime as dt

    from mcqs.errors import TooManyRequests
    from mcqs.security.service import count_rate_limit_hit

    key = "check:client:" + "x" * 100
    now = dt.datetime.now(dt.UTC)
    for _ in range(2):
        with db.transaction() as session:
            count_rate_limit_hit(session, key=key, limit=2, window_seconds=60, now=now)
    with pytest.raises(TooManyRequests), db.transaction() as session:
        count_rate_limit_hit(session, key=key, limit=2, window_seconds=60, now=now)


@pytest.mark.postgres_only
def test_simultaneous_checks_do_not_pass_the_rate_limit(db) -> None:
    """Found in review: ten uses of one key at once each counted the others as not there."""
    import datetime as dt

    from mcqs.errors import TooManyRequests
    from mcqs.security.service import count_rate_limit_hit

    from conftest import at_the_same_moment

    now = dt.datetime.now(dt.UTC)

    def use() -> str:
        with db.transaction() as session:
            count_rate_limit_hit(
                session, key="check:client:10.0.0.9", limit=3, window_seconds=60, now=now
            )
        return "counted"

    outcomes = at_the_same_moment([use] * 10, refused=TooManyRequests)
    assert outcomes.count("counted") == 3
