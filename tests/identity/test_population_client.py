"""The population-registry adapter against the simulator, over real HTTP."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route

from mcqs import http_adapter
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


# ---- the connections: kept, dropped, verified (decision 0008) --------------------------------


class OneAnswerServer:
    """A registry on a raw socket that counts its connections and answers each request
    with ``A_PERSON``, keep-alive; ``close_after_answer``: then closes the connection, as
    a registry whose keep-alive timeout ran out does. ``tls``: a certificate nobody signed."""

    def __init__(self, *, close_after_answer: bool = False, tls: ssl.SSLContext | None = None):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.listener.getsockname()[1]}"
        self.close_after_answer = close_after_answer
        self.tls = tls
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        body = json.dumps(A_PERSON).encode()
        answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        try:
            if self.tls is not None:
                connection = self.tls.wrap_socket(connection, server_side=True)
            with connection, connection.makefile("rb") as requests:
                while request_line := requests.readline():
                    while requests.readline() not in (b"\r\n", b""):
                        pass
                    assert request_line.startswith(b"GET /api/v1/persons/5ABC1D2 ")
                    connection.sendall(answer % len(body) + body)
                    if self.close_after_answer:
                        return
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self.listener.close()


def test_a_connection_is_kept_for_the_next_question() -> None:
    server = OneAnswerServer()
    with PopulationRegistryClient(base_url=server.url, api_key=API_KEY) as client:
        for _ in range(3):
            assert client.get_person("5ABC1D2") is not None
    server.close()
    assert server.connections == 1


@pytest.mark.parametrize("seen_closed", [True, False], ids=["seen-before", "found-sending"])
def test_a_kept_connection_the_registry_closed_is_not_a_failure(
    seen_closed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen before the question (the socket reads as closed), or only when the question
    # goes out on it (closed in between): then asked again once on a new connection.
    if not seen_closed:
        monkeypatch.setattr(http_adapter, "closed_by_peer", lambda connection: False)
    server = OneAnswerServer(close_after_answer=True)
    with PopulationRegistryClient(base_url=server.url, api_key=API_KEY) as client:
        assert client.get_person("5ABC1D2") is not None
        time.sleep(0.1)  # the registry's close reaches us
        assert client.get_person("5ABC1D2") is not None
    server.close()
    assert server.connections == 2


def test_a_certificate_nobody_trusts_is_unavailable(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server = OneAnswerServer(tls=tls)
    with (
        PopulationRegistryClient(base_url=server.url, api_key=API_KEY) as client,
        pytest.raises(ExternalServiceError) as error,
    ):
        client.get_person("5ABC1D2")
    server.close()
    assert error.value.code == "population_registry_unavailable"
    assert server.connections == 1  # it was the certificate that was refused, not the port
