"""The population-registry simulator's API and index page, over real HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from mcqs_simulators.population.app import create_app
from mcqs_simulators.population.citizens import CITIZENS

from conftest import LiveServer, free_port

API_KEY = "test-population-key"
KEY = {"X-Api-Key": API_KEY}


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    with LiveServer(create_app(api_key=API_KEY), free_port()) as server:
        yield server.url


@pytest.fixture
def http(registry_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_url, timeout=10) as client:
        yield client


# ---- the seed -------------------------------------------------------------------------


def test_seed_has_enough_distinct_well_formed_citizens() -> None:
    assert len(CITIZENS) >= 20
    assert len({c.fin for c in CITIZENS}) == len(CITIZENS)
    assert len({c.id_card for c in CITIZENS}) == len(CITIZENS)
    for citizen in CITIZENS:
        assert re.fullmatch(r"[A-Z0-9]{7}", citizen.fin), citizen.fin
        assert not {"I", "O"} & set(citizen.fin), f"{citizen.fin} has a confusable letter"
        assert re.fullmatch(r"AA[0-9]{7}|AZE[0-9]{8}", citizen.id_card), citizen.id_card
        assert citizen.patronymic.endswith((" oğlu", " qızı")), citizen.patronymic


def test_seed_has_both_card_formats_and_an_expired_card() -> None:
    series = {c.id_card_series for c in CITIZENS}
    assert series == {"AA", "AZE"}
    expired = [c for c in CITIZENS if c.id_card_valid_until < date.today()]
    assert CITIZENS[2] in expired
    valid = [c for c in CITIZENS if c not in expired]
    assert all(c.id_card_valid_until.year >= 2030 for c in valid)


# ---- the API ----------------------------------------------------------------------------


def test_person_by_fin(http: httpx.Client) -> None:
    response = http.get("/api/v1/persons/6DEF2G3", headers=KEY)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "fin": "6DEF2G3",
        "surname": "Əliyeva",
        "name": "Aynur",
        "patronymic": "Elçin qızı",
        "address": "Gəncə şəhəri, Kəpəz rayonu, Atatürk prospekti, ev 12, mənzil 7",
        "id_card": {
            "series": "AZE",
            "number": "12345678",
            "document": "AZE12345678",
            "valid_until": "2032-09-30",
        },
    }


def test_unknown_fin_is_a_404_problem_that_does_not_echo_the_fin(http: httpx.Client) -> None:
    response = http.get("/api/v1/persons/0ZZZZZ0", headers=KEY)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["code"] == "person_not_found"
    assert "0ZZZZZ0" not in response.text
    assert http.get("/api/v1/persons/0ZZZZZ0/id-cards/AA1234567", headers=KEY).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/v1/persons/5abc1d2", "/api/v1/persons/5ABC1D", "/api/v1/persons/5ABC1D2/id-cards/AA12"],
)
def test_malformed_fin_or_card_is_a_400_problem(http: httpx.Client, path: str) -> None:
    response = http.get(path, headers=KEY)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("fin", "document", "match", "valid"),
    [
        ("5ABC1D2", "AA1234567", True, True),
        ("6DEF2G3", "AZE12345678", True, True),
        ("5ABC1D2", "AZE12345678", False, False),
        ("7HJK3L4", "AA7654321", True, False),
    ],
)
def test_id_card_check(
    http: httpx.Client, fin: str, document: str, match: bool, valid: bool
) -> None:
    response = http.get(f"/api/v1/persons/{fin}/id-cards/{document}", headers=KEY)
    assert response.status_code == 200
    assert response.json() == {"fin": fin, "document": document, "match": match, "valid": valid}


@pytest.mark.parametrize(
    "path", ["/api/v1/persons/5ABC1D2", "/api/v1/persons/5ABC1D2/id-cards/AA1234567"]
)
@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong"}, {"X-Api-Key": "açar"}])
def test_api_needs_the_key(http: httpx.Client, path: str, headers: dict[str, str]) -> None:
    response = http.get(path, headers={k.encode(): v.encode() for k, v in headers.items()})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401
    assert "Məmmədov" not in response.text


# ---- the index page ---------------------------------------------------------------------


def test_index_lists_every_citizen_without_a_key(http: httpx.Client) -> None:
    response = http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    for citizen in CITIZENS:
        assert citizen.fin in page
        assert citizen.id_card in page
        assert citizen.full_name in page
        assert citizen.address in page
        assert citizen.id_card_valid_until.isoformat() in page
    assert "AA1234567" in page and "AZE12345678" in page
    expired = sum(c.id_card_valid_until < date.today() for c in CITIZENS)
    assert page.count("(müddəti bitib / expired)") == expired


def test_index_links_stay_inside_the_mount(http: httpx.Client) -> None:
    # Mounted at /_sim/population in the demo: a link from the root would leave it.
    page = http.get("/").text
    assert not re.search(r'(href|src|action)="/', page)
