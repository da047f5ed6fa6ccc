"""The population-registry adapter against the simulator, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from mcqs.errors import ExternalServiceError
from mcqs.identity.population import Person, PopulationRegistryClient
from mcqs_simulators.population.app import create_app
from mcqs_simulators.population.citizens import CITIZENS

from conftest import LiveServer, free_port

API_KEY = "test-population-key"

A_PERSON = {
    "fin": "5ABC1D2",
    "surname": "Məmmədov",
    "name": "Elvin",
    "patronymic": "Rəşid oğlu",
    "address": "Bakı şəhəri",
    "id_card": {"series": "AA", "number": "1234567", "document": "AA1234567",
                "valid_until": "2031-05-14"},
}  # fmt: skip


async def misbehave(request: Request) -> Response:
    """A registry that answers every way a real one must not."""
    match request.path_params["behaviour"]:
        case "server-error":
            return JSONResponse({"detail": "boom"}, status_code=500)
        case "unavailable":
            return PlainTextResponse("maintenance", status_code=503)
        case "not-json":
            return PlainTextResponse("<html>login</html>")
        case "wrong-shape":
            return JSONResponse({"fin": "5ABC1D2", "surname": "Məmmədov"})
        case "another-person":
            return JSONResponse({**A_PERSON, "fin": "6DEF2G3"})
        case "malformed-card":
            card = {**A_PERSON["id_card"], "document": "AA12/../34567"}  # type: ignore[dict-item]
            return JSONResponse({**A_PERSON, "id_card": card})
        case "slow":
            await asyncio.sleep(1)
            return JSONResponse(A_PERSON)
    return PlainTextResponse("unknown behaviour", status_code=400)


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The simulator mounted under /population (as in the demo), on a real port."""
    app = Starlette(
        routes=[
            Mount("/population", create_app(api_key=API_KEY)),
            Route("/misbehaving/{behaviour}/api/v1/persons/{rest:path}", misbehave),
        ]
    )
    with LiveServer(app, free_port()) as server:
        yield server.url


@pytest.fixture
def registry(server_url: str) -> Iterator[PopulationRegistryClient]:
    with PopulationRegistryClient(base_url=f"{server_url}/population", api_key=API_KEY) as client:
        yield client


def test_person_is_found_with_every_field(registry: PopulationRegistryClient) -> None:
    assert registry.get_person("5ABC1D2") == Person(
        fin="5ABC1D2",
        surname="Məmmədov",
        name="Elvin",
        patronymic="Rəşid oğlu",
        address="Bakı şəhəri, Nəsimi rayonu, Azadlıq prospekti, ev 45, mənzil 12",
        id_card="AA1234567",
        id_card_valid_until=date(2031, 5, 14),
    )


def test_older_id_card_and_azerbaijani_letters_arrive_intact(
    registry: PopulationRegistryClient,
) -> None:
    person = registry.get_person("6DEF2G3")
    assert person is not None
    assert (person.surname, person.name, person.patronymic) == ("Əliyeva", "Aynur", "Elçin qızı")
    assert person.address.startswith("Gəncə şəhəri, Kəpəz rayonu")
    assert person.id_card == "AZE12345678"


def test_every_seeded_citizen_comes_back_as_seeded(registry: PopulationRegistryClient) -> None:
    for citizen in CITIZENS:
        assert registry.get_person(citizen.fin) == Person(
            fin=citizen.fin,
            surname=citizen.surname,
            name=citizen.name,
            patronymic=citizen.patronymic,
            address=citizen.address,
            id_card=citizen.id_card,
            id_card_valid_until=citizen.id_card_valid_until,
        )


def test_unknown_fin_is_none(registry: PopulationRegistryClient) -> None:
    assert registry.get_person("0ZZZZZ0") is None


@pytest.mark.parametrize(
    ("fin", "valid_on_2026_11_29"),
    [("5ABC1D2", True), ("6DEF2G3", True), ("7HJK3L4", False)],  # 7HJK3L4's expired in 2020
)
def test_the_persons_card_is_in_date_through_its_last_day(
    registry: PopulationRegistryClient, fin: str, valid_on_2026_11_29: bool
) -> None:
    person = registry.get_person(fin)
    assert person is not None
    assert person.id_card_valid_on(date(2026, 11, 29)) is valid_on_2026_11_29
    last_day = person.id_card_valid_until
    assert person.id_card_valid_on(last_day)
    assert not person.id_card_valid_on(last_day + timedelta(days=1))


@pytest.mark.parametrize("fin", ["5abc1d2", " 5ABC1D2", "../../x", "5ABC1D2/id-cards"])
def test_unnormalised_fin_is_a_programming_error(
    registry: PopulationRegistryClient, fin: str
) -> None:
    with pytest.raises(ValueError):
        registry.get_person(fin)


def test_wrong_api_key_is_unavailable(server_url: str) -> None:
    base_url = f"{server_url}/population"
    with PopulationRegistryClient(base_url=base_url, api_key="wrong") as client:
        with pytest.raises(ExternalServiceError) as error:
            client.get_person("5ABC1D2")
        assert error.value.code == "population_registry_unavailable"


def test_unreachable_registry_is_unavailable() -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    with (
        PopulationRegistryClient(base_url=nobody_listens, api_key=API_KEY) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_person("5ABC1D2")
    assert error.value.code == "population_registry_unavailable"


def test_wrong_base_url_is_unavailable_not_an_unknown_person(server_url: str) -> None:
    # A bare 404 from a wrong path must not turn every citizen into "no such person".
    with (
        PopulationRegistryClient(base_url=f"{server_url}/nowhere", api_key=API_KEY) as client,
        pytest.raises(ExternalServiceError),
    ):
        client.get_person("5ABC1D2")


def test_timeout_is_unavailable(server_url: str) -> None:
    base_url = f"{server_url}/misbehaving/slow"
    with (
        PopulationRegistryClient(base_url=base_url, api_key=API_KEY, timeout=0.2) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_person("5ABC1D2")
    assert error.value.code == "population_registry_unavailable"


@pytest.mark.parametrize(
    "behaviour",
    ["server-error", "unavailable", "not-json", "wrong-shape", "another-person", "malformed-card"],
)
def test_bad_answers_are_unavailable_and_log_nothing_personal(
    server_url: str, behaviour: str, caplog: pytest.LogCaptureFixture
) -> None:
    base_url = f"{server_url}/misbehaving/{behaviour}"
    caplog.set_level(logging.WARNING, logger="mcqs")
    with (
        PopulationRegistryClient(base_url=base_url, api_key=API_KEY) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_person("5ABC1D2")
    assert error.value.code == "population_registry_unavailable"
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("mcqs")]
    assert logged, "a failure of the registry is worth a warning"
    for personal in ("5ABC1D2", "6DEF2G3", "Məmmədov", "Elvin", "Bakı"):
        assert not any(personal in message for message in logged)
