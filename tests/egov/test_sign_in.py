"""Signing in through the e-government portal (the simulator, over real HTTP), the check
of a signed-in citizen, signing out, and every way signing in is refused.

Assertions read codes (``data-error``), statuses and data, never Azerbaijani sentences."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from egov.signing_in import (
    choose_on_portal,
    come_back,
    portal_misbehaving,
    sign_in,
    to_portal,
)
from sqlalchemy import select

from mcqs import messages
from mcqs.applications.models import Application
from mcqs.config import Settings
from mcqs.db import Database
from mcqs.egov.client import _CLAIM_CODES
from mcqs_simulators.population.citizens import CITIZENS

from conftest import FIXED_CODE, csrf_token_of, make_settings, sqlite_write_lock_free

ELVIN, AYNUR, RASHAD = CITIZENS[0], CITIZENS[1], CITIZENS[2]  # Rəşad's card has expired


def alert_code(page: str) -> str:
    found = re.search(r'<div class="alert" role="alert" data-error="([a-z_]+)"', page)
    assert found, "the page says why, with a code"
    return found.group(1)


@pytest.fixture
def web(app_settings: Settings, catalogue: Database) -> Iterator[Any]:
    """``web(**settings)``: a fresh app (its own OpenID client, nothing cached) and browser."""
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    opened: list[Any] = []

    def open_client(**overrides: object) -> Any:
        settings = make_settings(database_url=app_settings.database_url, **overrides)
        client = TestClient(create_app(settings, db=catalogue))
        client.__enter__()
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.__exit__(None, None, None)


def check_signed_in(client: Any, *imeis: str) -> httpx.Response:
    """ "Məlumatları yoxla" as a signed-in citizen: IMEIs and the security code only."""
    page = client.get("/register")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    assert code_id
    fields = {f"imei_{n}": imei for n, imei in enumerate(imeis, start=1)}
    return client.post(
        "/register",
        data={
            "security_code": FIXED_CODE,
            "security_code_id": code_id.group(1),
            "csrf_token": csrf_token_of(page.text),
            **fields,
        },
        follow_redirects=False,
    )


# ---- signing in and the check ----------------------------------------------------------------


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_a_signed_in_citizen_types_only_the_imei(
    web: Any, http: httpx.Client, db: Database, demo_imeis: list[str], auth_method: str
) -> None:
    client = web(egov_token_auth_method=auth_method)
    started = to_portal(client)
    assert started.status_code == 302
    login = httpx.URL(started.headers["location"])
    # Authorization code flow with PKCE (S256), state and nonce.
    assert login.path.endswith("/egov/authorize")
    for name in ("state", "nonce", "code_challenge"):
        assert login.params.get(name), name
    assert login.params["code_challenge_method"] == "S256"
    assert login.params["response_type"] == "code"

    signed_in = come_back(client, choose_on_portal(http, str(login), fin=ELVIN.fin, means="sima"))
    assert signed_in.status_code == 303, signed_in.text[:2000]
    assert signed_in.headers["location"].endswith("/register")

    form = client.get("/register")
    assert f'data-fin="{ELVIN.fin}"' in form.text  # the header and the form name the citizen
    assert 'id="id_card"' not in form.text and 'id="fin"' not in form.text
    # A FİN or card posted anyway is ignored: the login's FİN, the registry's card.
    checked = check_signed_in(client, demo_imeis[0])
    assert checked.status_code == 303, checked.text[:3000]
    with db.reading() as session:
        application = session.scalars(select(Application)).one()
    assert (application.fin, application.id_card, application.channel) == (
        ELVIN.fin,
        ELVIN.id_card,
        "egov",
    )
    assert application.surname == ELVIN.surname


def test_the_form_fields_of_another_fin_are_ignored_when_signed_in(
    client: Any, http: httpx.Client, db: Database, demo_imeis: list[str]
) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    page = client.get("/register")
    code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page.text)
    assert code_id
    answer = client.post(
        "/register",
        data={
            "fin": AYNUR.fin,
            "id_card": AYNUR.id_card,
            "imei_1": demo_imeis[0],
            "security_code": FIXED_CODE,
            "security_code_id": code_id.group(1),
            "csrf_token": csrf_token_of(page.text),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with db.reading() as session:
        assert session.scalars(select(Application.fin)).all() == [ELVIN.fin]


def test_an_expired_id_card_is_refused_with_its_reason(
    client: Any, http: httpx.Client, demo_imeis: list[str]
) -> None:
    assert sign_in(client, http, fin=RASHAD.fin).status_code == 303
    refused = check_signed_in(client, demo_imeis[0])
    assert refused.status_code == 422
    assert 'data-error="id_card_expired"' in refused.text


def test_a_wrong_imei_is_shown_next_to_its_field_when_signed_in(
    client: Any, http: httpx.Client
) -> None:
    from conftest import error_code_of

    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    refused = check_signed_in(client, "35393201000003")
    assert refused.status_code == 422
    assert error_code_of(refused.text, "imei_1") == "imei_wrong_length"


# ---- signing out ------------------------------------------------------------------------------


def test_signing_out_ends_our_session_then_the_portals(client: Any, http: httpx.Client) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    home = client.get("/")
    assert f'data-fin="{ELVIN.fin}"' in home.text
    refused = client.post("/egov/sign-out", data={}, follow_redirects=False)
    assert refused.status_code == 403 and 'data-error="csrf_refused"' in refused.text

    out = client.post(
        "/egov/sign-out", data={"csrf_token": csrf_token_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    end_session = httpx.URL(out.headers["location"])
    assert end_session.path.endswith("/egov/logout")
    assert end_session.params["id_token_hint"].count(".") == 2
    assert end_session.params["post_logout_redirect_uri"] == "http://testserver/egov/signed-out"
    assert end_session.params["state"]
    # Signed out here before the portal is even asked.
    assert "data-fin=" not in client.get("/").text

    portal = http.get(str(end_session))
    assert portal.status_code == 303
    back = httpx.URL(portal.headers["location"])
    assert back.params["state"] == end_session.params["state"]
    landed = come_back(client, str(back))
    assert landed.status_code == 303 and landed.headers["location"] == "http://testserver/"
    assert client.get("/my-devices").status_code == 401


def _cookie_payload(client: Any) -> str:
    """What the signed session cookie carries (base64 JSON, then the signature)."""
    import base64

    value = client.cookies.get("mcqs_session", "").split(".")[0]
    return base64.b64decode(value + "=" * (-len(value) % 4)).decode()


def test_the_cookie_carries_only_a_session_id(client: Any, http: httpx.Client) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    carried = _cookie_payload(client)
    assert ELVIN.fin not in carried and ELVIN.surname not in carried
    assert "id_token" not in carried and "eyJ" not in carried  # no JWT either
    assert f'data-fin="{ELVIN.fin}"' in client.get("/").text


def test_a_cookie_copied_before_signing_out_signs_nobody_in(
    client: Any, http: httpx.Client
) -> None:
    """Signing out ends the session on the server, for every copy of the cookie."""
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    home = client.get("/")
    copied = client.cookies.get("mcqs_session")
    out = client.post(
        "/egov/sign-out", data={"csrf_token": csrf_token_of(home.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    client.cookies.set("mcqs_session", copied)  # replayed by whoever copied it
    replayed = client.get("/my-devices")
    assert replayed.status_code == 401
    assert 'data-error="sign_in_required"' in replayed.text
    assert "data-fin=" not in client.get("/").text


def test_applications_remembered_while_signed_in_leave_with_the_session(
    client: Any, http: httpx.Client, db: Database, demo_imeis: list[str]
) -> None:
    """A cookie copied while signed in, replayed after signing out, reaches neither the
    application form nor the receipt of what was made while signed in."""
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    assert check_signed_in(client, demo_imeis[0]).status_code == 303
    with db.reading() as session:
        code = session.scalars(select(Application.notification_code)).one()
    assert client.get("/application").status_code == 200  # signed in: the form, to pay
    home = client.get("/")
    copied = client.cookies.get("mcqs_session")
    client.post("/egov/sign-out", data={"csrf_token": csrf_token_of(home.text)})
    client.cookies.set("mcqs_session", copied)
    form = client.get("/application", follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].endswith("/register")
    receipt = client.get(f"/receipts/{code}", follow_redirects=False)
    assert receipt.status_code in (303, 404)  # unpaid: no receipt; paid: only the verify page
    assert ELVIN.fin not in receipt.text and ELVIN.surname not in receipt.text


def test_signing_in_again_ends_the_sign_in_before(client: Any, http: httpx.Client) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    copied = client.cookies.get("mcqs_session")
    assert sign_in(client, http, fin=AYNUR.fin).status_code == 303  # over it, no sign-out
    client.cookies.set("mcqs_session", copied)
    assert client.get("/my-devices").status_code == 401


def _age_sessions(db: Database, **ago: dt.timedelta) -> None:
    from sqlalchemy import update

    from mcqs.egov.models import CitizenSession

    now = dt.datetime.now(dt.UTC)
    with db.transaction() as session:
        session.execute(
            update(CitizenSession).values({column: now - age for column, age in ago.items()})
        )


def test_a_session_older_than_the_maximum_is_signed_out(
    client: Any, http: httpx.Client, db: Database
) -> None:
    """However busy (seen a moment ago), a session ends MCQS_CITIZEN_SESSION_HOURS after
    signing in."""
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    assert client.get("/my-devices").status_code == 200
    _age_sessions(db, signed_in_at=dt.timedelta(hours=8, minutes=1))
    assert client.get("/my-devices").status_code == 401
    assert "data-fin=" not in client.get("/").text


def test_a_session_left_alone_too_long_is_signed_out(
    client: Any, http: httpx.Client, db: Database
) -> None:
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    _age_sessions(db, last_seen_at=dt.timedelta(minutes=31))
    assert client.get("/my-devices").status_code == 401


def test_every_request_counts_as_a_citizens_activity(
    client: Any, http: httpx.Client, db: Database
) -> None:
    """Idle means since the last request, exactly: a request 30 s after the one before
    moves the mark (written at most once a minute, a session ended a minute early)."""
    from sqlalchemy import func

    from mcqs.egov.models import CitizenSession

    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303
    _age_sessions(db, last_seen_at=dt.timedelta(seconds=30))

    assert client.get("/my-devices").status_code == 200

    with db.reading() as session:
        seen = session.scalar(select(func.max(CitizenSession.last_seen_at)))
    assert seen is not None and seen > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)


def test_signing_in_purges_sessions_that_ended(web: Any, http: httpx.Client, db: Database) -> None:
    from sqlalchemy import func

    from mcqs.egov.models import CitizenSession

    first = web()
    assert sign_in(first, http, fin=ELVIN.fin).status_code == 303
    home = first.get("/")
    first.post("/egov/sign-out", data={"csrf_token": csrf_token_of(home.text)})
    assert sign_in(web(), http, fin=AYNUR.fin).status_code == 303
    with db.reading() as session:
        rows = session.execute(select(CitizenSession.fin, CitizenSession.ended_at)).all()
        assert session.scalar(select(func.count()).select_from(CitizenSession)) == 1
    assert rows == [(AYNUR.fin, None)]


def test_sign_ins_per_client_are_limited(web: Any, http: httpx.Client) -> None:
    """Each callback costs a call to the portal's token endpoint: one client may not make
    them by the hundred (the start counts too)."""
    client = web(egov_sign_in_limit_per_client=3)
    started = to_portal(client)  # 1
    assert started.status_code == 302
    for _ in range(2):  # 2, 3: a made-up code each time
        come_back(client, "http://testserver/egov/callback?code=made-up&state=made-up")
    refused = come_back(client, "http://testserver/egov/callback?code=made-up&state=made-up")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "60"
    assert alert_code(refused.text) == "too_many_sign_ins"
    again = to_portal(client)
    assert again.status_code == 429 and alert_code(again.text) == "too_many_sign_ins"


# ---- refusals -----------------------------------------------------------------------------------


def test_a_tampered_state_is_refused(client: Any, http: httpx.Client) -> None:
    started = to_portal(client)
    callback = httpx.URL(choose_on_portal(http, started.headers["location"], fin=ELVIN.fin))
    tampered = callback.copy_set_param("state", callback.params["state"][:-2] + "xx")
    refused = come_back(client, str(tampered))
    assert refused.status_code == 400
    assert alert_code(refused.text) == "egov_state_invalid"
    assert 'id="egov-retry"' in refused.text and 'id="without-login"' in refused.text
    assert "data-fin=" not in client.get("/").text


def test_a_replayed_state_is_refused(client: Any, http: httpx.Client) -> None:
    started = to_portal(client)
    callback = choose_on_portal(http, started.headers["location"], fin=ELVIN.fin)
    assert come_back(client, callback).status_code == 303
    replayed = come_back(client, callback)
    assert alert_code(replayed.text) == "egov_state_invalid"


def test_a_state_from_another_browser_is_refused(web: Any, http: httpx.Client) -> None:
    victim, attacker = web(), web()
    started = to_portal(attacker)
    callback = choose_on_portal(http, started.headers["location"], fin=AYNUR.fin)
    # Login CSRF: the attacker's callback opened in the victim's browser signs nobody in.
    refused = come_back(victim, callback)
    assert alert_code(refused.text) == "egov_state_invalid"
    assert "data-fin=" not in victim.get("/").text


def test_a_replayed_authorization_code_is_refused_by_the_portal(
    client: Any, http: httpx.Client
) -> None:
    started = to_portal(client)
    first = httpx.URL(choose_on_portal(http, started.headers["location"], fin=ELVIN.fin))
    assert come_back(client, str(first)).status_code == 303
    # A new sign-in (a state of this browser), answered with the old, used code.
    again = httpx.URL(choose_on_portal(http, to_portal(client).headers["location"], fin=ELVIN.fin))
    replay = again.copy_set_param("code", first.params["code"])
    refused = come_back(client, str(replay))
    assert alert_code(refused.text) == "egov_code_refused"


def test_cancelling_on_the_portal_signs_nobody_in(client: Any, http: httpx.Client) -> None:
    started = to_portal(client)
    back = choose_on_portal(http, started.headers["location"], fin=ELVIN.fin, action="cancel")
    refused = come_back(client, back)
    assert alert_code(refused.text) == "egov_cancelled"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("wrong_key", "egov_token_signature"),
        ("wrong_issuer", "egov_token_issuer"),
        ("wrong_audience", "egov_token_audience"),
        ("wrong_nonce", "egov_token_nonce"),
        ("expired", "egov_token_expired"),
        ("unknown_fin", "egov_person_unknown"),
        ("no_exp", "egov_token_invalid"),  # malformed, not "expired"
        ("not_json", "egov_refused"),  # the portal answered, but not as the protocol says
    ],
)
def test_an_id_token_that_fails_a_check_signs_nobody_in(
    client: Any, http: httpx.Client, simulators: str, fault: str, code: str
) -> None:
    with portal_misbehaving(http, simulators, id_token=fault):
        refused = sign_in(client, http, fin=ELVIN.fin)
    assert alert_code(refused.text) == code
    assert refused.status_code in (400, 403)
    assert "data-fin=" not in client.get("/").text
    # The same browser signs in once the portal behaves.
    assert sign_in(client, http, fin=ELVIN.fin).status_code == 303


def test_a_refusal_is_in_the_page_language_and_switching_it_replays_nothing(
    client: Any, http: httpx.Client, simulators: str
) -> None:
    from mcqs.i18n import Language, translations

    client.cookies.set("mcqs_lang", "en")
    with portal_misbehaving(http, simulators, id_token="wrong_nonce"):
        refused = sign_in(client, http, fin=ELVIN.fin)
    assert alert_code(refused.text) == "egov_token_nonce"
    english = translations(Language.EN).gettext(messages.AZ["egov_token_nonce"])
    assert english != messages.AZ["egov_token_nonce"] and english in refused.text
    # The switcher names the refusal again, not the callback's one-time address.
    switch = re.search(r'href="([^"]*lang=ru)"', refused.text)
    assert switch and "/egov/refused?" in switch.group(1) and "state=" not in switch.group(1)
    again = client.get(switch.group(1).replace("&amp;", "&"))
    assert alert_code(again.text) == "egov_token_nonce" and 'lang="ru"' in again.text
    # Only a sign-in refusal's own codes are shown there.
    assert alert_code(client.get("/egov/refused?reason=csrf_refused").text) == "egov_refused"


def test_a_token_without_the_fin_claim_signs_nobody_in(web: Any, http: httpx.Client) -> None:
    client = web(egov_fin_claim="national_id")
    assert alert_code(sign_in(client, http, fin=ELVIN.fin).text) == "egov_fin_missing"


def test_the_portal_not_answering_at_the_start(
    web: Any, http: httpx.Client, simulators: str
) -> None:
    client = web(egov_timeout_seconds=0.5)
    with portal_misbehaving(http, simulators, down=True, hang_seconds=2):
        refused = to_portal(client)
    assert refused.status_code == 503
    assert alert_code(refused.text) == "egov_unavailable"
    # A retry, and the path without login.
    assert 'href="http://testserver/egov/sign-in"' in refused.text
    assert 'href="http://testserver/register"' in refused.text
    assert to_portal(client).status_code == 302  # and the retry works once it answers


def test_the_portal_not_answering_at_the_callback(
    web: Any, http: httpx.Client, simulators: str
) -> None:
    client = web(egov_timeout_seconds=0.5)
    callback = choose_on_portal(http, to_portal(client).headers["location"], fin=ELVIN.fin)
    with portal_misbehaving(http, simulators, down=True, hang_seconds=2):
        refused = come_back(client, callback)
    assert refused.status_code == 503
    assert alert_code(refused.text) == "egov_unavailable"


def test_every_refusal_has_words() -> None:
    import inspect

    from mcqs.egov import client as egov_client

    codes = set(re.findall(r'"(egov_[a-z_]+)"', inspect.getsource(egov_client)))
    codes |= set(_CLAIM_CODES.values())
    assert codes and all(code in messages.AZ for code in codes), codes - set(messages.AZ)


def _no_transaction_open(db: Database) -> bool:
    """No connection of the app holds a transaction: the SQLite write lock is free, and
    PostgreSQL shows no other session in a transaction on this database."""
    from sqlalchemy import text

    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        sqlite_write_lock_free(url.database or "")
        return True
    with db.engine.connect() as connection:
        others = connection.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
            )
        ).scalar_one()
    return others == 0


def test_no_transaction_is_open_while_the_portal_is_asked(
    web: Any, http: httpx.Client, simulators: str, db: Database
) -> None:
    import threading
    import time

    client = web(egov_timeout_seconds=3)
    callback = choose_on_portal(http, to_portal(client).headers["location"], fin=ELVIN.fin)
    answers: list[httpx.Response] = []
    with portal_misbehaving(http, simulators, down=True, hang_seconds=1.5):
        waiting = threading.Thread(target=lambda: answers.append(come_back(client, callback)))
        waiting.start()
        time.sleep(0.6)  # the callback is waiting on the token endpoint now
        assert waiting.is_alive()
        assert _no_transaction_open(db)
        waiting.join(timeout=10)
    assert alert_code(answers[0].text) == "egov_unavailable"


def test_pressing_portala_giris_again_keeps_one_sign_in_in_flight(
    client: Any, http: httpx.Client
) -> None:
    first = to_portal(client)
    for _ in range(8):  # unfinished sign-ins would otherwise pile up in the cookie
        to_portal(client)
    last = to_portal(client)
    assert len(client.cookies.get("mcqs_session", "")) < 2500
    stale = come_back(client, choose_on_portal(http, first.headers["location"], fin=ELVIN.fin))
    assert alert_code(stale.text) == "egov_state_invalid"
    fresh = come_back(client, choose_on_portal(http, last.headers["location"], fin=ELVIN.fin))
    assert fresh.status_code == 303
