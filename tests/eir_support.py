"""Helpers of the EIR tests: operators, tokens, files, the operator API with a clock."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mcqs.db import Database
from mcqs.devices.imei import imei_with_check_digit
from mcqs.eir.operators import add_operator

DAY0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Client:
    code: str
    client_id: str
    client_secret: str


def make_operator(
    db: Database, code: str = "azercell", prefixes: tuple[str, ...] = ("40001",)
) -> Client:
    with db.transaction() as session:
        issued = add_operator(session, code=code, name=code.title(), imsi_prefixes=list(prefixes))
        return Client(code, issued.operator.client_id, issued.client_secret)


def imei(serial: int, tac: str = "35332506") -> str:
    """A valid 15-digit IMEI of a demo TAC."""
    return imei_with_check_digit(f"{tac}{serial:06d}")


def activity(
    *rows: tuple[str, str, str, str, str], header: str = "date,imei,imsi,msisdn,rat"
) -> bytes:
    return ("\n".join([header, *(",".join(row) for row in rows)]) + "\n").encode()


class Api:
    """The operator API through the site's TestClient, with a clock tests move."""

    def __init__(self, client: Any, operator: Client) -> None:
        self.client = client
        self.operator = operator
        self.moment = DAY0
        client.app.state.operator_api.state.clock = lambda: self.moment
        self._token: str | None = None

    def token(self, scope: str | None = None, secret: str | None = None) -> Any:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.operator.client_id,
            "client_secret": secret or self.operator.client_secret,
        }
        if scope is not None:
            data["scope"] = scope
        return self.client.post("/oauth2/token", data=data)

    def headers(self) -> dict[str, str]:
        if self._token is None:
            answer = self.token()
            assert answer.status_code == 200, answer.text
            self._token = answer.json()["access_token"]
        return {"Authorization": f"Bearer {self._token}"}

    def status(self, pei: str, **params: str) -> Any:
        return self.client.get(
            "/n5g-eir-eic/v1/equipment-status",
            params={"pei": pei, **params},
            headers=self.headers(),
        )

    def status_of(self, imei_15: str, **params: str) -> str:
        answer = self.status(f"imei-{imei_15}", **params)
        if answer.status_code == 404:
            return answer.json()["cause"]
        assert answer.status_code == 200, answer.text
        return str(answer.json()["status"])

    def upload(self, content: bytes, filename: str = "day.csv") -> Any:
        return self.client.post(
            "/operator-api/v1/network-activity",
            params={"filename": filename},
            content=content,
            headers={**self.headers(), "Content-Type": "text/csv"},
        )

    def later(self, *, keep_token: bool = False, **delta: float) -> None:
        """Move the clock; a new token is fetched unless ``keep_token``."""
        self.moment += dt.timedelta(**delta)
        if not keep_token:
            self._token = None
