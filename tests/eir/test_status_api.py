"""TS 29.511 equipment status over HTTP: each transition over simulated days, and the
answers to malformed or unauthenticated requests."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from eir_support import Api, activity, imei, make_operator

from mcqs.db import Database
from mcqs.eir.service import report_stolen

from factories import create_paid_application


def test_no_token_wrong_secret_wrong_scope_expired(api: Api, client: Any) -> None:
    pei = f"imei-{imei(1)}"
    bare = client.get("/n5g-eir-eic/v1/equipment-status", params={"pei": pei})
    assert bare.status_code == 401, bare.text
    assert bare.headers["content-type"] == "application/problem+json"
    assert bare.json()["cause"] == "INVALID_TOKEN"
    assert "bearer" in bare.headers["www-authenticate"].lower()

    for odd in ("x.\u00e9", ".", "a.b.c", "%%%"):
        answer = client.get(
            "/n5g-eir-eic/v1/equipment-status",
            params={"pei": pei},
            headers={"Authorization": f"Bearer {odd}".encode("latin-1")},
        )
        assert answer.status_code == 401, odd
    forged = client.get(
        "/n5g-eir-eic/v1/equipment-status",
        params={"pei": pei},
        headers={"Authorization": "Bearer eyJvcCI6MX0.AAAA"},
    )
    assert forged.status_code == 401

    wrong_secret = api.token(secret="not-the-secret")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json() == {"error": "invalid_client"}

    assert api.token(scope="n5g-eir-eic admin").json() == {"error": "invalid_scope"}

    uploads_only = api.token(scope="mcqs-operator").json()["access_token"]
    refused = client.get(
        "/n5g-eir-eic/v1/equipment-status",
        params={"pei": pei},
        headers={"Authorization": f"Bearer {uploads_only}"},
    )
    assert refused.status_code == 403
    assert refused.json()["cause"] == "INSUFFICIENT_SCOPE"

    assert api.status(pei).status_code == 404  # a good token: the equipment is unknown
    api.later(minutes=61, keep_token=True)
    expired = api.status(pei)
    assert expired.status_code == 401
    assert expired.json()["cause"] == "INVALID_TOKEN"


def test_a_token_of_another_server_secret_is_refused(api: Api, client: Any) -> None:
    from mcqs.eir.models import Operator
    from mcqs.eir.operators import issue_token

    token = issue_token(
        Operator(id=1, code="azercell"),
        scopes=frozenset({"n5g-eir-eic"}),
        secret_key="another-secret-key-0123",
        lifetime=__import__("datetime").timedelta(hours=1),
        now=api.moment,
    )
    answer = client.get(
        "/n5g-eir-eic/v1/equipment-status",
        params={"pei": f"imei-{imei(1)}"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 401


def test_malformed_identifiers_are_400_with_invalid_params(api: Api, client: Any) -> None:
    for pei in ("imei-12345", "imei-3533250600000A", "imei-35332506000001*", "353325060000019", ""):
        answer = api.status(pei)
        assert answer.status_code == 400, pei
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["invalidParams"][0]["param"] == "query pei"
    answer = api.status(f"imei-{imei(1)}", supi="imsi-12", gpsi="tel-123")
    assert answer.status_code == 400
    assert {p["param"] for p in answer.json()["invalidParams"]} == {"query supi", "query gpsi"}
    missing = client.get("/n5g-eir-eic/v1/equipment-status", headers=api.headers())
    assert missing.status_code == 400
    assert missing.json()["cause"] == "MANDATORY_QUERY_PARAM_MISSING"


def test_unknown_equipment_is_404_error_equipment_unknown(api: Api) -> None:
    answer = api.status(f"imei-{imei(2)}")
    assert answer.status_code == 404
    assert answer.json()["cause"] == "ERROR_EQUIPMENT_UNKNOWN"
    assert answer.json()["status"] == 404


def test_an_answer_from_the_front_door_is_guarded_like_any_other(
    api: Api, catalogue: Database, client: Any
) -> None:
    """A known IMEI is answered in front of the site's middleware (fast_check.FrontDoor),
    an unknown one by the operator API behind it: both carry the site's security headers
    and no-store, and a request naming a host the site does not serve is refused."""
    with catalogue.transaction() as session:
        report_stolen(session, imei_norm=imei(4)[:14], source="cli", now=api.moment)
    known = api.status(f"imei-{imei(4)}")
    unknown = api.status(f"imei-{imei(5)}")
    assert (known.status_code, unknown.status_code) == (200, 404)
    for answer in (known, unknown):
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in answer.headers["content-security-policy"]
    elsewhere = client.get(
        "/n5g-eir-eic/v1/equipment-status",
        params={"pei": f"imei-{imei(4)}"},
        headers={**api.headers(), "Host": "evil.example"},
    )
    assert elsewhere.status_code == 400
    assert "BLACKLISTED" not in elsewhere.text


def test_answered_checks_write_no_access_log_line_refused_ones_do(
    api: Api, catalogue: Database, caplog: pytest.LogCaptureFixture
) -> None:
    from mcqs.security.access_log import LOGGER

    with catalogue.transaction() as session:
        report_stolen(session, imei_norm=imei(6)[:14], source="cli", now=api.moment)
    api.headers()  # the token asked for before the log is read
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert api.status(f"imei-{imei(6)}").status_code == 200
        assert api.status(f"imei-{imei(7)}").status_code == 404
        assert api.status("imei-123").status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["404", "400"]
    assert all("pei=***" in line and imei(7) not in line for line in lines)


def test_imeisv_names_the_same_equipment(api: Api, catalogue: Database) -> None:
    with catalogue.transaction() as session:
        report_stolen(session, imei_norm=imei(3)[:14], source="cli", now=api.moment)
    assert api.status(f"imeisv-{imei(3)[:14]}07").json() == {"status": "BLACKLISTED"}


def test_grey_then_black_then_white_over_simulated_days(
    api: Api, catalogue: Database, run_worker: Callable[..., int]
) -> None:
    phone = imei(10)
    assert (
        api.upload(
            activity(("2026-11-01", phone, "400011234567890", "994501112233", "4G"))
        ).status_code
        == 200
    )
    assert api.status_of(phone) == "GREYLISTED"
    api.later(days=29, hours=23)
    assert api.status_of(phone) == "GREYLISTED"
    api.later(hours=1)  # day 30: the grace period is over, no run needed for the answer
    assert api.status_of(phone) == "BLACKLISTED"
    with catalogue.transaction() as session:
        create_paid_application(session, imeis=(phone,), now=api.moment)
    run_worker(now=api.moment)
    assert api.status_of(phone) == "WHITELISTED"


def test_registering_inside_the_grace_period_whitelists(
    api: Api, catalogue: Database, run_worker: Callable[..., int]
) -> None:
    phone = imei(11)
    api.upload(activity(("2026-11-01", phone, "400011234567891", "994501112234", "LTE")))
    with catalogue.transaction() as session:
        create_paid_application(session, imeis=(phone,))
    run_worker()
    assert api.status_of(phone) == "WHITELISTED"
    api.later(days=60)
    assert api.status_of(phone) == "WHITELISTED"


def test_a_stolen_report_blacklists_a_registered_phone(
    api: Api, catalogue: Database, run_worker: Callable[..., int]
) -> None:
    phone = imei(12)
    with catalogue.transaction() as session:
        create_paid_application(session, imeis=(phone,))
    run_worker()
    assert api.status_of(phone) == "WHITELISTED"
    with catalogue.transaction() as session:
        row = report_stolen(session, imei_norm=phone[:14], source="back_office", now=api.moment)
        assert (row.blacklist_reason, row.blacklist_source) == ("stolen", "back_office")
    assert api.status_of(phone) == "BLACKLISTED"


def test_unknown_as_first_sighting_when_configured(
    client: Any, catalogue: Database, operator: Any
) -> None:
    from starlette.testclient import TestClient

    from mcqs.app import create_app

    from conftest import make_settings

    settings = make_settings(
        database_url=catalogue.engine.url.render_as_string(hide_password=False),
        eir_unknown_is_first_sighting=True,
    )
    with TestClient(create_app(settings, db=catalogue)) as other:
        api = Api(other, operator)
        phone = imei(13)
        assert api.status_of(phone, gpsi="msisdn-994501112299") == "GREYLISTED"
        api.later(days=31)
        assert api.status_of(phone) == "BLACKLISTED"


def test_operators_get_tokens_of_their_own(client: Any, catalogue: Database) -> None:
    bakcell = make_operator(catalogue, "bakcell", ("40002",))
    answer = client.post(
        "/oauth2/token",
        auth=(bakcell.client_id, bakcell.client_secret),
        data={"grant_type": "client_credentials", "scope": "n5g-eir-eic"},
    )
    assert answer.status_code == 200
    assert answer.json()["token_type"] == "Bearer"
    assert answer.json()["scope"] == "n5g-eir-eic"
    assert answer.headers["cache-control"] == "no-store"
    assert "set-cookie" not in answer.headers
    wrong_grant = client.post(
        "/oauth2/token",
        auth=(bakcell.client_id, bakcell.client_secret),
        data={"grant_type": "password"},
    )
    assert wrong_grant.json() == {"error": "unsupported_grant_type"}


def test_the_unauthenticated_mode_is_off_by_default_and_refused_in_production(
    catalogue: Database,
) -> None:
    import pytest
    from pydantic import ValidationError
    from starlette.testclient import TestClient

    from mcqs.app import create_app
    from mcqs.config import Settings

    from conftest import make_settings

    assert Settings(env="test").eir_unauthenticated is False
    with pytest.raises(ValidationError, match="MCQS_EIR_UNAUTHENTICATED"):
        Settings(env="production", secret_key="a-real-secret-0123456789", eir_unauthenticated=True)
    settings = make_settings(
        database_url=catalogue.engine.url.render_as_string(hide_password=False),
        eir_unauthenticated=True,
    )
    with TestClient(create_app(settings, db=catalogue)) as open_client:
        answer = open_client.get(
            "/n5g-eir-eic/v1/equipment-status", params={"pei": f"imei-{imei(1)}"}
        )
        assert answer.status_code == 404  # answered without a token: unknown equipment
        upload = open_client.post("/operator-api/v1/network-activity", content=b"")
        assert upload.status_code == 401  # uploads always need a client


@pytest.mark.parametrize(
    "query",
    [b"pei=imei-490154203237518", b"pei=imei-1&supi=imsi-400011234567890&gpsi=msisdn-99450",
     b"pei=imei-1&&pei=imei-2", b"pei", b"pei=", b"=x&pei=a=b", b"", b"&", b"pei=imei%2D1",
     b"pei=imei+1", b"supported-features=0F&pei=imei-1", b"pei=\xe9"],
)  # fmt: skip
def test_the_lean_paths_query_reading_is_the_standard_one(query: bytes) -> None:
    from urllib.parse import parse_qsl

    from mcqs.eir.fast_check import _query

    assert _query(query) == parse_qsl(query.decode("latin-1"), keep_blank_values=True)
