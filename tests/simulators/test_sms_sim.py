"""The SMS-centre simulator on its own: de-duplication by Idempotency-Key, and an outbox
that outlives the app (the demo restarts; its web processes share one outbox)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mcqs_simulators.sms.app import create_app

API_KEY = "test-sms-key"
MESSAGE = {"to": "+994501234567", "sender": "MCQS", "text": "Cihazınız qeydiyyata alındı."}


def outbox_client(state_dir: Path | None) -> TestClient:
    return TestClient(
        create_app(api_key=API_KEY, state_dir=state_dir), headers={"X-Api-Key": API_KEY}
    )


@pytest.fixture
def sms(tmp_path: Path) -> Iterator[TestClient]:
    with outbox_client(tmp_path) as client:
        yield client


def test_a_repeated_idempotency_key_is_accepted_once(sms: TestClient) -> None:
    headers = {"Idempotency-Key": "notice-42"}
    first = sms.post("/api/v1/messages", json=MESSAGE, headers=headers)
    again = sms.post("/api/v1/messages", json=MESSAGE, headers=headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert [m["id"] for m in sms.get("/api/v1/messages").json()] == [first.json()["id"]]


def test_without_a_key_every_post_is_a_new_message(sms: TestClient) -> None:
    ids = {sms.post("/api/v1/messages", json=MESSAGE).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert len(sms.get("/api/v1/messages").json()) == 2


def test_a_key_reused_for_another_message_is_a_conflict(sms: TestClient) -> None:
    headers = {"Idempotency-Key": "notice-43"}
    assert sms.post("/api/v1/messages", json=MESSAGE, headers=headers).status_code == 201
    other = sms.post("/api/v1/messages", json={**MESSAGE, "text": "other"}, headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"] == "application/problem+json"
    assert len(sms.get("/api/v1/messages").json()) == 1


def test_outbox_and_keys_survive_a_new_app_on_the_same_state_dir(tmp_path: Path) -> None:
    headers = {"Idempotency-Key": "notice-44"}
    with outbox_client(tmp_path) as before:
        sent = before.post("/api/v1/messages", json=MESSAGE, headers=headers).json()["id"]
    with outbox_client(tmp_path) as after:
        again = after.post("/api/v1/messages", json=MESSAGE, headers=headers)
        kept = after.get("/api/v1/messages").json()
    assert again.status_code == 200
    assert again.json()["id"] == sent
    assert [m["id"] for m in kept] == [sent]


def test_in_memory_outboxes_are_separate() -> None:
    with outbox_client(None) as one, outbox_client(None) as other:
        one.post("/api/v1/messages", json=MESSAGE)
        assert other.get("/api/v1/messages").json() == []
