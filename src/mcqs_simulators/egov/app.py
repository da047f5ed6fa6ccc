"""E-government portal simulator: an OpenID Connect provider (authorization code flow).

A separate party: it shares no code with our relying party (``mcqs.egov``), which reaches
it only over HTTP, as it would reach the real portal or a Keycloak realm. Its users are the
population registry simulator's citizens; the login page lets a tester pick one and a
sign-in means (ASAN İmza, SİMA, e-imza card). See ``docs/simulators/egov.md``.

What it implements, relative to its issuer URL:

- ``GET .well-known/openid-configuration``: the discovery document;
- ``GET jwks``: the public signing key (RS256);
- ``GET authorize``: the login page (``response_type=code``, PKCE ``S256`` required,
  ``state`` and ``nonce`` passed through), ``POST authorize``: the tester's choice;
- ``POST token``: the authorization code exchanged for an ID token and an access token
  (client authentication ``client_secret_basic`` or ``client_secret_post``; the PKCE
  verifier checked; a code is single-use and lives ``code_seconds``);
- ``GET logout``: RP-initiated logout (``id_token_hint``, ``post_logout_redirect_uri``
  checked against the client's registered one, ``state`` returned).

``POST sim/misbehave`` (not part of OpenID Connect) makes it misbehave on purpose, for
tests: ID tokens signed with another key, with a wrong issuer, audience or nonce, already
expired or with no expiry, or for a FİN the registry does not know; a token endpoint that
answers an HTML page instead of JSON; or the whole provider "down" (it holds
every request for ``hang_seconds`` and then answers 503).

The signing key, the codes and the misbehaviour live in ``<state_dir>/egov.sqlite3``:
every web process of the demo signs with the same key, and a restart keeps it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode

from jinja2 import Environment
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcqs_simulators.population.citizens import CITIZENS, Citizen
from mcqs_simulators.state import SimulatorState, state_file

# The portal's sign-in means: the value in the token's ``amr`` claim, and its name.
SIGN_IN_MEANS = {
    "asan_imza": "ASAN İmza",
    "sima": "SİMA",
    "e_imza": "e-imza kartı",
}
#: What POST sim/misbehave may make the ID tokens: each breaks one check a relying party makes.
ID_TOKEN_FAULTS = (
    "ok",
    "wrong_key",
    "wrong_issuer",
    "wrong_audience",
    "wrong_nonce",
    "expired",
    "unknown_fin",  # a FİN the population registry does not know
    "no_exp",  # no expiry at all: malformed, not expired
    "not_json",  # the token endpoint answers 200 with an HTML page, not a JSON object
)
UNKNOWN_FIN = "9ZZZ9Z9"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS signing_keys (
    name TEXT PRIMARY KEY,
    pem TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS codes (
    code TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    fin TEXT NOT NULL,
    means TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT NOT NULL,
    expires_at REAL NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS misbehaviour (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_DEFAULT_MISBEHAVIOUR: dict[str, Any] = {"id_token": "ok", "down": False, "hang_seconds": 30.0}


@dataclass(frozen=True)
class RegisteredClient:
    """A relying party the portal knows: its secret and where it may send browsers back."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class IssuedCode:
    client_id: str
    redirect_uri: str
    fin: str
    means: str
    nonce: str | None
    code_challenge: str
    expires_at: float


class ProviderState:
    """The signing keys, the authorization codes and the misbehaviour, in SQLite."""

    def __init__(self, path: Path | None) -> None:
        self._db = SimulatorState(path, schema=_SCHEMA)
        self.signing_key = self._key("signing")
        self.kid = self.signing_key.thumbprint()
        # Another key, sent under the signing key's id: a token it signs fails the signature
        # check (the relying party finds "the" key, and it does not fit).
        self.rogue_key = self._key("rogue")

    def _key(self, name: str) -> RSAKey:
        with self._db.transaction() as db:
            row = db.execute("SELECT pem FROM signing_keys WHERE name = ?", (name,)).fetchone()
            if row is None:
                pem = RSAKey.generate_key(2048, private=True).as_pem(private=True).decode()
                db.execute("INSERT INTO signing_keys (name, pem) VALUES (?, ?)", (name, pem))
            else:
                pem = row["pem"]
        return RSAKey.import_key(pem)

    def issue_code(self, issued: IssuedCode) -> str:
        code = secrets.token_urlsafe(32)
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO codes (code, client_id, redirect_uri, fin, means, nonce,"
                " code_challenge, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    issued.client_id,
                    issued.redirect_uri,
                    issued.fin,
                    issued.means,
                    issued.nonce,
                    issued.code_challenge,
                    issued.expires_at,
                ),
            )
            db.execute("DELETE FROM codes WHERE expires_at < ?", (time.time() - 3600,))
        return code

    def redeem_code(self, code: str) -> IssuedCode | None:
        """The code's grant, once: a second redemption (a replay) finds nothing."""
        with self._db.transaction() as db:
            row = db.execute("SELECT * FROM codes WHERE code = ? AND used = 0", (code,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE codes SET used = 1 WHERE code = ?", (code,))
        return IssuedCode(
            client_id=row["client_id"],
            redirect_uri=row["redirect_uri"],
            fin=row["fin"],
            means=row["means"],
            nonce=row["nonce"],
            code_challenge=row["code_challenge"],
            expires_at=row["expires_at"],
        )

    def misbehaviour(self) -> dict[str, Any]:
        with self._db.transaction() as db:
            rows = db.execute("SELECT name, value FROM misbehaviour").fetchall()
        return {**_DEFAULT_MISBEHAVIOUR, **{row["name"]: json.loads(row["value"]) for row in rows}}

    def set_misbehaviour(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self._db.transaction() as db:
            for name, value in changes.items():
                db.execute(
                    "INSERT INTO misbehaviour (name, value) VALUES (?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (name, json.dumps(value)),
                )
        return self.misbehaviour()


def _b64url_sha256(value: str) -> str:
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_PAGE = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!doctype html>
<html lang="az">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} — e-gov simulyatoru</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 0; color: #1c232b; background: #f4f6f8; }
 header { background: #0e5c3a; color: #fff; padding: 12px 20px; font-weight: 600; }
 main { max-width: 720px; margin: 16px auto; background: #fff; padding: 8px 20px 20px;
        border: 1px solid #d8dde3; border-radius: 8px; }
 fieldset { border: 1px solid #d8dde3; border-radius: 6px; margin: 0 0 16px; padding: 8px 12px; }
 legend { font-weight: 600; padding: 0 4px; }
 label { display: block; padding: 6px 0; }
 .means label { display: inline-block; margin-right: 16px; }
 button { font-size: 1rem; padding: 10px 18px; border-radius: 6px; border: 1px solid #0e5c3a;
          background: #0e5c3a; color: #fff; cursor: pointer; margin: 0 8px 8px 0; }
 button.secondary { background: #fff; color: #0e5c3a; }
 button:focus, input:focus { outline: 3px solid #ffbf47; outline-offset: 1px; }
 .expired { color: #a00; }
 .error { border-left: 5px solid #b3261e; background: #fdecea; padding: 10px 14px; }
 small { color: #5b6470; }
</style>
</head>
<body>
<header>e-gov.az — Elektron hökumət portalı (simulyator)</header>
<main>
{% if error %}
<h1>{{ title }}</h1>
<p class="error" data-error="{{ error }}">{{ message }}</p>
{% elif signed_out %}
<h1>{{ title }}</h1>
<p>Portaldan çıxış edildi.</p>
{% else %}
<h1>{{ title }}</h1>
<p><strong>{{ client_id }}</strong> xidməti sizin adınıza daxil olmaq istəyir.
Test vətəndaşını və giriş üsulunu seçin. <small>(Every person here is synthetic.)</small></p>
<form method="post" action="authorize">
{% for name, value in params.items() %}
<input type="hidden" name="{{ name }}" value="{{ value }}">
{% endfor %}
<fieldset class="means">
<legend>Giriş üsulu</legend>
{% for value, label in means.items() %}
<label><input type="radio" name="means" value="{{ value }}"
{%- if loop.first %} checked{% endif %}> {{ label }}</label>
{% endfor %}
</fieldset>
<fieldset>
<legend>Test vətəndaşı</legend>
{% for c in citizens %}
<label><input type="radio" name="fin" value="{{ c.fin }}"{% if loop.first %} checked{% endif %}>
{{ c.full_name }} — FİN {{ c.fin }}
{%- if c.expired %} <span class="expired">(vəsiqənin müddəti bitib)</span>{% endif %}</label>
{% endfor %}
</fieldset>
<button type="submit" name="action" value="sign_in">Daxil ol</button>
<button type="submit" name="action" value="cancel" class="secondary">İmtina et</button>
</form>
{% endif %}
</main>
</body>
</html>
"""
)


class EgovSimulator:
    def __init__(
        self,
        *,
        issuer: str,
        clients: list[RegisteredClient],
        state_path: Path | None,
        code_seconds: int,
        id_token_seconds: int,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.clients = {client.client_id: client for client in clients}
        self.state = ProviderState(state_path)
        self.code_seconds = code_seconds
        self.id_token_seconds = id_token_seconds
        self.citizens = {c.fin: c for c in CITIZENS}

    # -- discovery and keys --

    async def discovery(self, _request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "end_session_endpoint": f"{self.issuer}/logout",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile"],
                "claims_supported": [
                    "iss",
                    "aud",
                    "sub",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "amr",
                    "fin",
                    "name",
                    "given_name",
                    "family_name",
                    "middle_name",
                ],  # fmt: skip
            }
        )

    async def jwks(self, _request: Request) -> Response:
        public = self.state.signing_key.as_dict(private=False)
        public.update(kid=self.state.kid, use="sig", alg="RS256")
        return JSONResponse({"keys": [public]})

    # -- the login page --

    def _page(self, status_code: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("title", "Portala giriş")
        return HTMLResponse(_PAGE.render(**context), status_code=status_code)

    def _refuse_page(self, error: str, message: str) -> HTMLResponse:
        # Never redirect to a redirect_uri that is not registered: an open redirector.
        return self._page(400, error=error, message=message, title="Sorğu qəbul edilmədi")

    def _authorization_request(
        self, params: dict[str, str]
    ) -> tuple[RegisteredClient, dict[str, str]] | Response:
        """The request's client and parameters, or the answer that refuses it."""
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return self._refuse_page("unknown_client", "Naməlum müştəri (client_id).")
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return self._refuse_page(
                "redirect_uri_not_registered", "Qayıdış ünvanı (redirect_uri) qeydiyyatda deyil."
            )
        state = params.get("state", "")

        def refuse(error: str, description: str) -> Response:
            query = {"error": error, "error_description": description}
            if state:
                query["state"] = state
            return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=303)

        if params.get("response_type") != "code":
            return refuse("unsupported_response_type", "only response_type=code")
        if "openid" not in params.get("scope", "").split():
            return refuse("invalid_scope", "the scope must include openid")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return refuse("invalid_request", "PKCE with code_challenge_method=S256 is required")
        kept = {
            name: params[name]
            for name in (
                "client_id",
                "redirect_uri",
                "response_type",
                "scope",
                "state",
                "nonce",
                "code_challenge",
                "code_challenge_method",
            )  # fmt: skip
            if params.get(name)
        }
        return client, kept

    async def authorize(self, request: Request) -> Response:
        if request.method == "GET":
            checked = self._authorization_request(dict(request.query_params))
            if isinstance(checked, Response):
                return checked
            client, params = checked
            today = time.strftime("%Y-%m-%d")
            citizens = [
                {
                    "fin": c.fin,
                    "full_name": c.full_name,
                    "expired": c.id_card_valid_until.isoformat() < today,
                }
                for c in CITIZENS
            ]
            return self._page(
                client_id=client.client_id, params=params, citizens=citizens, means=SIGN_IN_MEANS
            )
        async with request.form() as form:
            fields = {name: str(value) for name, value in form.items()}
        checked = self._authorization_request(fields)
        if isinstance(checked, Response):
            return checked
        client, params = checked
        back: dict[str, str] = {"state": params["state"]} if params.get("state") else {}
        if fields.get("action") != "sign_in":
            back.update(error="access_denied", error_description="the citizen cancelled")
            return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", status_code=303)
        fin, means = fields.get("fin", ""), fields.get("means", "")
        if fin not in self.citizens or means not in SIGN_IN_MEANS:
            return self._refuse_page("invalid_choice", "Vətəndaşı və giriş üsulunu seçin.")
        code = self.state.issue_code(
            IssuedCode(
                client_id=client.client_id,
                redirect_uri=params["redirect_uri"],
                fin=fin,
                means=means,
                nonce=params.get("nonce"),
                code_challenge=params["code_challenge"],
                expires_at=time.time() + self.code_seconds,
            )
        )
        back["code"] = code
        return RedirectResponse(f"{params['redirect_uri']}?{urlencode(back)}", status_code=303)

    # -- the token endpoint --

    def _authenticated_client(
        self, request: Request, form: dict[str, str]
    ) -> RegisteredClient | None:
        header = request.headers.get("authorization", "")
        in_body = "client_secret" in form
        if header.lower().startswith("basic "):
            if in_body:
                return None  # one method per request (RFC 6749 §2.3)
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
                raw_id, raw_secret = decoded.split(":", 1)
            except (ValueError, UnicodeDecodeError):
                return None
            # client_secret_basic form-encodes both before joining (RFC 6749 §2.3.1).
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        elif in_body:
            client_id, secret = form.get("client_id", ""), form["client_secret"]
        else:
            return None
        client = self.clients.get(client_id)
        if client is None or not hmac.compare_digest(
            secret.encode(), client.client_secret.encode()
        ):
            return None
        return client

    async def token(self, request: Request) -> Response:
        async with request.form() as raw:
            form = {name: str(value) for name, value in raw.items()}
        client = self._authenticated_client(request, form)
        if client is None:
            return _token_error("invalid_client", "client authentication failed", status=401)
        if form.get("grant_type") != "authorization_code":
            return _token_error("unsupported_grant_type", "only authorization_code")
        grant = self.state.redeem_code(form.get("code", ""))
        if grant is None:
            return _token_error("invalid_grant", "unknown, used or expired code")
        if grant.expires_at < time.time():
            return _token_error("invalid_grant", "the code has expired")
        if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
            return _token_error("invalid_grant", "the code was issued to another client or URI")
        verifier = form.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(
            _b64url_sha256(verifier), grant.code_challenge
        ):
            return _token_error("invalid_grant", "PKCE verification failed")
        if self.state.misbehaviour()["id_token"] == "not_json":
            return Response("<html><body>Maintenance</body></html>", media_type="text/html")
        id_token = self._id_token(client, grant)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(32),
                "token_type": "Bearer",
                "expires_in": self.id_token_seconds,
                "scope": "openid profile",
                "id_token": id_token,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _id_token(self, client: RegisteredClient, grant: IssuedCode) -> str:
        citizen: Citizen = self.citizens[grant.fin]
        fault = self.state.misbehaviour()["id_token"]
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": client.client_id,
            "sub": _subject(self.issuer, citizen.fin),
            "iat": now,
            "auth_time": now,
            "exp": now + self.id_token_seconds,
            "amr": [grant.means],
            "fin": citizen.fin,
            "name": f"{citizen.name} {citizen.surname}",
            "given_name": citizen.name,
            "family_name": citizen.surname,
            "middle_name": citizen.patronymic,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        key = self.state.signing_key
        if fault == "wrong_key":
            key = self.state.rogue_key
        elif fault == "wrong_issuer":
            claims["iss"] = "https://impostor.example/realms/egov"
        elif fault == "wrong_audience":
            claims["aud"] = "another-client"
        elif fault == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif fault == "unknown_fin":
            claims["fin"] = UNKNOWN_FIN
        elif fault == "expired":
            claims["iat"] = claims["auth_time"] = now - 3600
            claims["exp"] = now - 1800
        elif fault == "no_exp":
            del claims["exp"]
        header = {"alg": "RS256", "kid": self.state.kid, "typ": "JWT"}
        return jwt.encode(header, claims, key)

    # -- RP-initiated logout --

    async def logout(self, request: Request) -> Response:
        params = request.query_params
        hint = params.get("id_token_hint", "")
        client: RegisteredClient | None = None
        if hint:
            try:
                token = jwt.decode(hint, self.state.signing_key)
            except (JoseError, ValueError):
                return self._refuse_page("invalid_id_token_hint", "id_token_hint etibarsızdır.")
            # An expired hint is fine (the citizen signs out later than the token lives);
            # it must be ours, for a client we know.
            if token.claims.get("iss") != self.issuer:
                return self._refuse_page("invalid_id_token_hint", "id_token_hint etibarsızdır.")
            client = self.clients.get(str(token.claims.get("aud", "")))
        elif params.get("client_id"):
            client = self.clients.get(params["client_id"])
        target = params.get("post_logout_redirect_uri", "")
        if target:
            if client is None or target not in client.post_logout_redirect_uris:
                return self._refuse_page(
                    "post_logout_redirect_uri_not_registered",
                    "Çıxışdan sonrakı ünvan (post_logout_redirect_uri) qeydiyyatda deyil.",
                )
            back = {"state": params["state"]} if params.get("state") else {}
            url = f"{target}?{urlencode(back)}" if back else target
            return RedirectResponse(url, status_code=303)
        return self._page(signed_out=True, title="Portaldan çıxış")

    # -- control (not OpenID Connect) --

    async def misbehave(self, request: Request) -> Response:
        """GET: how it misbehaves now; POST a JSON object to change it."""
        if request.method == "GET":
            return JSONResponse(self.state.misbehaviour())
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body:
            return JSONResponse({"detail": "send a JSON object"}, status_code=422)
        for name, value in body.items():
            if name == "id_token" and value not in ID_TOKEN_FAULTS:
                return JSONResponse({"detail": f"id_token: one of {ID_TOKEN_FAULTS}"}, 422)
            if name == "down" and not isinstance(value, bool):
                return JSONResponse({"detail": "down: true or false"}, status_code=422)
            if name == "hang_seconds" and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                return JSONResponse({"detail": "hang_seconds: 0 or more"}, status_code=422)
            if name not in _DEFAULT_MISBEHAVIOUR:
                return JSONResponse({"detail": f"unknown setting: {name}"}, status_code=422)
        return JSONResponse(self.state.set_misbehaviour(body))


def _subject(issuer: str, fin: str) -> str:
    """A stable subject that is not the FİN itself (the FİN is its own claim)."""
    return hashlib.sha256(f"{issuer}|{fin}".encode()).hexdigest()[:32]


def _token_error(error: str, description: str, *, status: int = 400) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="egov"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )


class _Down:
    """While "down", every request but the control endpoint is held, then answered 503:
    a portal that does not answer, as a relying party's timeout meets it."""

    def __init__(self, app: ASGIApp, *, state: ProviderState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("path", "").endswith("/sim/misbehave"):
            settings = self.state.misbehaviour()
            if settings["down"]:
                await asyncio.sleep(float(settings["hang_seconds"]))
                await Response("down", status_code=503)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    *,
    issuer: str,
    clients: list[RegisteredClient],
    state_dir: Path | None = None,
    code_seconds: int = 60,
    id_token_seconds: int = 300,
) -> ASGIApp:
    """The provider at ``issuer`` (its absolute URL, as relying parties reach it)."""
    simulator = EgovSimulator(
        issuer=issuer,
        clients=clients,
        state_path=state_file(state_dir, "egov"),
        code_seconds=code_seconds,
        id_token_seconds=id_token_seconds,
    )
    app = Starlette(
        routes=[
            Route("/.well-known/openid-configuration", simulator.discovery),
            Route("/jwks", simulator.jwks),
            Route("/authorize", simulator.authorize, methods=["GET", "POST"]),
            Route("/token", simulator.token, methods=["POST"]),
            Route("/logout", simulator.logout),
            Route("/sim/misbehave", simulator.misbehave, methods=["GET", "POST"]),
        ]
    )
    return _Down(app, state=simulator.state)
