"""Simulator of the population registry: persons by FİN, and the FİN/ID card check.

A separate ASGI app speaking the registry's HTTP/JSON API (see
``docs/simulators/population.md``). It knows only the synthetic people of
:mod:`mcqs_simulators.population.citizens` and lists them on its index page so a demo
user can pick one. It shares no code with our adapter, as a real registry would not.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader
from jinja2 import Environment
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from mcqs.problems import problem_openapi, problem_response
from mcqs_simulators.population.citizens import CITIZENS, Citizen

BAKU = ZoneInfo("Asia/Baku")
_FIN = re.compile(r"[A-Z0-9]{7}")
_DOCUMENT = re.compile(r"AA[0-9]{7}|AZE[0-9]{8}")


class IdCardRead(BaseModel):
    series: str
    number: str
    document: str
    valid_until: date


class PersonRead(BaseModel):
    fin: str
    surname: str
    name: str
    patronymic: str
    address: str
    id_card: IdCardRead


class IdCardCheckRead(BaseModel):
    fin: str
    document: str
    match: bool
    valid: bool


class CurrentIdCardRead(BaseModel):
    fin: str
    document: str
    valid_until: date
    valid: bool


class RegistryProblem(HTTPException):
    def __init__(self, status_code: int, detail: str, *, code: str | None = None) -> None:
        super().__init__(status_code, detail)
        self.code = code


_PROBLEM_RESPONSES = problem_openapi(400, 401, 404)

_INDEX = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True).from_string(
    """<!doctype html>
<html lang="az">
<head>
<meta charset="utf-8">
<title>Əhali reyestri — simulyator</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; }
 table { border-collapse: collapse; }
 th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
 code { font-size: 1.05em; }
 .expired { color: #a00; font-weight: bold; }
</style>
</head>
<body>
<h1>Əhali reyestri — simulyator</h1>
<p>Population registry simulator. Every person below is <strong>synthetic</strong>.
Use a FİN and its ID card number on the MCQS forms.</p>
<p>API: <code>GET api/v1/persons/{fin}</code> and
<code>GET api/v1/persons/{fin}/id-cards/{document}</code>,
<code>GET api/v1/persons/{fin}/id-card</code>, header <code>X-Api-Key</code>.</p>
<table>
<thead><tr><th>FİN</th><th>Şəxsiyyət vəsiqəsi / ID card</th><th>Soyad, ad, ata adı</th>
<th>Ünvan</th><th>Etibarlıdır / valid until</th></tr></thead>
<tbody>
{% for c in citizens %}
<tr>
<td><code>{{ c.fin }}</code></td>
<td><code>{{ c.id_card }}</code></td>
<td>{{ c.full_name }}</td>
<td>{{ c.address }}</td>
<td>{{ c.id_card_valid_until.isoformat() }}
{%- if c.id_card_valid_until < today %} <span class="expired">(müddəti bitib / expired)</span>
{%- endif %}</td>
</tr>
{% endfor %}
</tbody>
</table>
</body>
</html>
"""
)


def _today() -> date:
    return datetime.now(BAKU).date()


def create_app(*, api_key: str) -> FastAPI:
    """The registry simulator; every ``/api/v1`` call needs ``X-Api-Key: <api_key>``."""
    citizens_by_fin: dict[str, Citizen] = {c.fin: c for c in CITIZENS}
    api_key_header = APIKeyHeader(name="X-Api-Key", auto_error=False)

    def require_api_key(given: str | None = Security(api_key_header)) -> None:
        # Compare bytes: compare_digest refuses non-ASCII str, and a header may hold any.
        if given is None or not secrets.compare_digest(given.encode(), api_key.encode()):
            raise RegistryProblem(401, "A valid X-Api-Key header is required.")

    def find_citizen(fin: str) -> Citizen:
        if not _FIN.fullmatch(fin):
            raise RegistryProblem(400, "A FİN is 7 Latin capital letters and digits.")
        citizen = citizens_by_fin.get(fin)
        if citizen is None:
            # The FİN is not echoed: problem bodies end up in logs.
            raise RegistryProblem(404, "No person with this FİN.", code="person_not_found")
        return citizen

    api = APIRouter(
        prefix="/api/v1", dependencies=[Security(require_api_key)], responses=_PROBLEM_RESPONSES
    )

    @api.get("/persons/{fin}", response_model=PersonRead)
    def get_person(fin: str) -> PersonRead:
        citizen = find_citizen(fin)
        return PersonRead(
            fin=citizen.fin,
            surname=citizen.surname,
            name=citizen.name,
            patronymic=citizen.patronymic,
            address=citizen.address,
            id_card=IdCardRead(
                series=citizen.id_card_series,
                number=citizen.id_card_number,
                document=citizen.id_card,
                valid_until=citizen.id_card_valid_until,
            ),
        )

    @api.get("/persons/{fin}/id-cards/{document}", response_model=IdCardCheckRead)
    def check_id_card(fin: str, document: str) -> IdCardCheckRead:
        """Whether ``document`` is this person's ID card, and whether that card is in date.

        ``valid`` is true only for the person's own card: nothing is said about a
        document that is not theirs.
        """
        citizen = find_citizen(fin)
        if not _DOCUMENT.fullmatch(document):
            raise RegistryProblem(400, "An ID card is AA + 7 digits or AZE + 8 digits.")
        match = document == citizen.id_card
        return IdCardCheckRead(
            fin=citizen.fin,
            document=document,
            match=match,
            valid=match and citizen.id_card_valid_until >= _today(),
        )

    @api.get("/persons/{fin}/id-card", response_model=CurrentIdCardRead)
    def current_id_card(fin: str) -> CurrentIdCardRead:
        """The person's current ID card, and whether it is in date: for a service that
        knows the FİN from a login and must not ask the citizen to type the card."""
        citizen = find_citizen(fin)
        return CurrentIdCardRead(
            fin=citizen.fin,
            document=citizen.id_card,
            valid_until=citizen.id_card_valid_until,
            valid=citizen.id_card_valid_until >= _today(),
        )

    app = FastAPI(title="Population registry (simulator)", version="1")
    app.include_router(api)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(_INDEX.render(citizens=CITIZENS, today=_today()))

    @app.exception_handler(HTTPException)
    async def http_problem(_request: Request, exc: HTTPException) -> JSONResponse:
        code = exc.code if isinstance(exc, RegistryProblem) else None
        return problem_response(exc.status_code, exc.detail, headers=exc.headers, code=code)

    @app.exception_handler(RequestValidationError)
    async def validation_problem(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return problem_response(422, "The request is malformed.")

    return app
