"""The operator's side of MCQS's operator API, over HTTP (httpx), and one simulated day."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

import httpx
from stdnum import imei as stdnum_imei

LIST_KINDS = ("blacklist", "notification", "exceptions")


class OperatorClient:
    """Client credentials → bearer token (renewed when it runs out) → the API."""

    def __init__(
        self, base_url: str, *, client_id: str, client_secret: str, http: httpx.Client
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.http = http
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        import time

        if self._token is None or time.monotonic() > self._expires - 30:
            answer = self.http.post(
                f"{self.base_url}/oauth2/token",
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, self.client_secret),
            )
            answer.raise_for_status()
            body = answer.json()
            self._token = str(body["access_token"])
            self._expires = time.monotonic() + float(body["expires_in"])
        return self._token

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}", **extra}

    def status(self, imei: str, *, imsi: str | None = None, msisdn: str | None = None) -> str:
        """The TS 29.511 answer's status, or the ProblemDetails cause (a 404)."""
        params = {"pei": f"imei-{imei}"}
        if imsi:
            params["supi"] = f"imsi-{imsi}"
        if msisdn:
            params["gpsi"] = f"msisdn-{msisdn}"
        answer = self.http.get(
            f"{self.base_url}/n5g-eir-eic/v1/equipment-status",
            params=params,
            headers=self._headers(),
        )
        if answer.status_code == 404:
            return str(answer.json()["cause"])
        answer.raise_for_status()
        return str(answer.json()["status"])

    def bulk(self, imeis: list[str]) -> dict[str, str]:
        answer = self.http.post(
            f"{self.base_url}/operator-api/v1/equipment-status",
            json={"peis": imeis},
            headers=self._headers(),
        )
        answer.raise_for_status()
        return {item["pei"]: item["status"] for item in answer.json()["results"]}

    def upload(self, content: bytes, *, filename: str) -> dict[str, Any]:
        answer = self.http.post(
            f"{self.base_url}/operator-api/v1/network-activity",
            params={"filename": filename},
            content=content,
            headers=self._headers(**{"Content-Type": "text/csv"}),
        )
        if answer.status_code != 200:
            raise RuntimeError(f"upload refused: {answer.status_code} {answer.text}")
        return dict(answer.json())

    def new_lists(self) -> dict[str, Any]:
        answer = self.http.post(f"{self.base_url}/operator-api/v1/lists", headers=self._headers())
        answer.raise_for_status()
        return dict(answer.json())

    def download(self, run: int, kind: str, *, since: int | None = None) -> str:
        answer = self.http.get(
            f"{self.base_url}/operator-api/v1/lists/{run}/{kind}.csv",
            params={"since": since} if since is not None else None,
            headers=self._headers(),
        )
        answer.raise_for_status()
        return answer.text


@dataclass(frozen=True)
class Subscriber:
    imsi: str
    msisdn: str
    imei: str


def subscribers(count: int, *, tacs: list[str], seed: int = 1) -> list[Subscriber]:
    """Synthetic subscribers of an operator with IMSIs 40001…, each using a phone of one
    of ``tacs`` (deterministic for a seed)."""
    rng = random.Random(seed)
    return [
        Subscriber(
            imsi=f"40001{n:010d}",
            msisdn=f"99450{rng.randrange(10**7):07d}",
            imei=stdnum_imei.format(
                f"{tacs[n % len(tacs)]}{rng.randrange(10**6):06d}",
                separator="",
                add_check_digit=True,
            ),
        )
        for n in range(count)
    ]


def day_of_activity(day: dt.date, people: list[Subscriber]) -> bytes:
    """What the network saw in a day: each subscriber on one or two technologies."""
    lines = ["date,imei,imsi,msisdn,rat"]
    for person in people:
        lines.append(f"{day.isoformat()},{person.imei},{person.imsi},{person.msisdn},4G")
        if int(person.imsi) % 3 == 0:
            lines.append(f"{day.isoformat()},{person.imei},{person.imsi},{person.msisdn},2G")
    return ("\n".join(lines) + "\n").encode()


@dataclass
class DayReport:
    statuses_before: dict[str, str] = field(default_factory=dict)
    upload: dict[str, Any] = field(default_factory=dict)
    statuses_after: dict[str, str] = field(default_factory=dict)
    list_run: int = 0
    list_lines: dict[str, int] = field(default_factory=dict)


def run_day(client: OperatorClient, people: list[Subscriber], *, day: dt.date) -> DayReport:
    """One operator's day: check every device, upload the day, check again, get lists."""
    report = DayReport()
    for person in people:
        report.statuses_before[person.imei] = client.status(
            person.imei, imsi=person.imsi, msisdn=person.msisdn
        )
    report.upload = client.upload(day_of_activity(day, people), filename=f"{day}.csv")
    report.statuses_after = client.bulk([person.imei for person in people])
    run = client.new_lists()
    report.list_run = int(run["run"])
    for kind in LIST_KINDS:
        report.list_lines[kind] = len(client.download(report.list_run, kind).splitlines()) - 1
    return report
