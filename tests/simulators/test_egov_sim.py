"""The e-gov simulator as an OpenID Connect provider: discovery, keys, the login page, the
token endpoint's checks, RP-initiated logout, and its state kept across processes."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from mcqs_simulators.egov.app import RegisteredClient, create_app

ISSUER = "http://portal.test/egov"
CLIENT = RegisteredClient(
    client_id="mcqs",
    client_secret="s3cret:with/odd chars",
    redirect_uris=("http://mcqs.test/egov/callback",),
    post_logout_redirect_uris=("http://mcqs.test/egov/signed-out",),
)
FIN = "5ABC1D2"


def portal(state_dir: Path | None = None, **options: Any) -> TestClient:
    app = create_app(issuer=ISSUER, clients=[CLIENT], state_dir=state_dir, **options)
    return TestClient(app, base_url="http://portal.test")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization(web: TestClient, challenge: str, **overrides: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT.client_id,
        "redirect_uri": CLIENT.redirect_uris[0],
        "response_type": "code",
        "scope": "openid profile",
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    return params


def code_for(web: TestClient, challenge: str) -> str:
    fields = {
        **authorization(web, challenge),
        "fin": FIN,
        "means": "asan_imza",
        "action": "sign_in",
    }
    answer = web.post("/authorize", data=fields, follow_redirects=False)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["state"] == ["st4te"]
    return query["code"][0]


def basic(client_id: str, secret: str) -> dict[str, str]:
    from urllib.parse import quote_plus

    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def exchange(web: TestClient, code: str, verifier: str, **form: str) -> Any:
    return web.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CLIENT.redirect_uris[0],
            "code_verifier": verifier,
            **form,
        },
        headers=basic(CLIENT.client_id, CLIENT.client_secret)
        if "client_secret" not in form
        else {},
    )


def test_discovery_and_keys_verify_its_id_tokens() -> None:
    web = portal()
    document = web.get("/.well-known/openid-configuration").json()
    assert document["issuer"] == ISSUER
    assert document["end_session_endpoint"] == f"{ISSUER}/logout"
    assert document["code_challenge_methods_supported"] == ["S256"]
    verifier, challenge = pkce()
    answer = exchange(web, code_for(web, challenge), verifier)
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    keys = KeySet.import_key_set(web.get("/jwks").json())
    token = jwt.decode(answer.json()["id_token"], keys)
    assert token.header["alg"] == "RS256"
    claims = token.claims
    assert (claims["iss"], claims["aud"], claims["fin"], claims["nonce"]) == (
        ISSUER,
        CLIENT.client_id,
        FIN,
        "n0nce",
    )
    assert claims["exp"] > time.time() > claims["iat"] - 5
    assert claims["amr"] == ["asan_imza"] and claims["family_name"] == "Məmmədov"
    assert claims["sub"] != FIN


def test_the_login_page_lists_the_registry_citizens_and_the_sign_in_means() -> None:
    web = portal()
    _, challenge = pkce()
    page = web.get("/authorize", params=authorization(web, challenge))
    assert page.status_code == 200
    assert 'value="7HJK3L4"' in page.text and 'value="sima"' in page.text
    assert 'name="code_challenge"' in page.text


def test_client_secret_post_works_and_two_methods_at_once_do_not() -> None:
    web = portal()
    verifier, challenge = pkce()
    posted = exchange(
        web,
        code_for(web, challenge),
        verifier,
        client_id=CLIENT.client_id,
        client_secret=CLIENT.client_secret,
    )
    assert posted.status_code == 200
    both = web.post(
        "/token",
        data={"grant_type": "authorization_code", "client_secret": CLIENT.client_secret},
        headers=basic(CLIENT.client_id, CLIENT.client_secret),
    )
    assert both.status_code == 401 and both.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "change",
    ["replayed", "wrong_verifier", "wrong_secret", "wrong_redirect_uri", "expired"],
)
def test_the_token_endpoint_refuses(change: str) -> None:
    web = portal(code_seconds=-1 if change == "expired" else 60)
    verifier, challenge = pkce()
    code = code_for(web, challenge)
    if change == "replayed":
        assert exchange(web, code, verifier).status_code == 200
        answer = exchange(web, code, verifier)
    elif change == "wrong_verifier":
        answer = exchange(web, code, pkce()[0])
    elif change == "wrong_secret":
        answer = web.post(
            "/token",
            data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier},
            headers=basic(CLIENT.client_id, "guess"),
        )
    elif change == "wrong_redirect_uri":
        answer = exchange(web, code, verifier, redirect_uri="http://evil.test/cb")
    else:
        answer = exchange(web, code, verifier)
    expected = "invalid_client" if change == "wrong_secret" else "invalid_grant"
    assert answer.json()["error"] == expected
    assert answer.status_code == (401 if change == "wrong_secret" else 400)


def test_an_unregistered_redirect_uri_is_never_redirected_to() -> None:
    web = portal()
    _, challenge = pkce()
    answer = web.get(
        "/authorize",
        params=authorization(web, challenge, redirect_uri="http://evil.test/cb"),
        follow_redirects=False,
    )
    assert answer.status_code == 400
    assert 'data-error="redirect_uri_not_registered"' in answer.text


def test_pkce_is_required() -> None:
    web = portal()
    params = authorization(web, "", code_challenge_method="plain")
    answer = web.get("/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 303
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["st4te"]


def test_logout_checks_the_post_logout_redirect_uri_and_returns_the_state() -> None:
    web = portal()
    verifier, challenge = pkce()
    id_token = exchange(web, code_for(web, challenge), verifier).json()["id_token"]
    out = web.get(
        "/logout",
        params={
            "id_token_hint": id_token,
            "post_logout_redirect_uri": CLIENT.post_logout_redirect_uris[0],
            "state": "bye",
        },
        follow_redirects=False,
    )
    assert out.status_code == 303
    assert out.headers["location"] == f"{CLIENT.post_logout_redirect_uris[0]}?state=bye"
    elsewhere = web.get(
        "/logout",
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "http://evil.test/"},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 400
    assert 'data-error="post_logout_redirect_uri_not_registered"' in elsewhere.text
    forged = web.get("/logout", params={"id_token_hint": id_token[:-4] + "AAAA"})
    assert forged.status_code == 400


def test_the_key_and_the_codes_are_shared_across_processes_and_restarts(tmp_path: Path) -> None:
    first, second = portal(tmp_path), portal(tmp_path)
    assert first.get("/jwks").json() == second.get("/jwks").json()
    verifier, challenge = pkce()
    code = code_for(first, challenge)
    assert exchange(second, code, verifier).status_code == 200  # issued by one, redeemed by another
    assert exchange(first, code, verifier).json()["error"] == "invalid_grant"
    restarted = portal(tmp_path)
    assert restarted.get("/jwks").json() == first.get("/jwks").json()


def test_misbehaviour_is_checked() -> None:
    web = portal()
    assert web.post("/sim/misbehave", json={"id_token": "nonsense"}).status_code == 422
    assert web.post("/sim/misbehave", json={"hang_seconds": -1}).status_code == 422
    assert web.post("/sim/misbehave", json={"id_token": "expired"}).json()["id_token"] == "expired"
    verifier, challenge = pkce()
    token = exchange(web, code_for(web, challenge), verifier).json()["id_token"]
    keys = KeySet.import_key_set(web.get("/jwks").json())
    assert jwt.decode(token, keys).claims["exp"] < time.time()  # signed, and already expired
