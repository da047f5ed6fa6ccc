"""Adapter for the population registry's HTTP/JSON API.

One question is asked: who is the person with this FİN — the name and ID-card address for
the application form, and the FİN's ID card with its last valid day, which a check
compares with the card typed (or, for a citizen signed in through e-gov, who types no
card, takes as the card). The registry answers about real people, so nothing it returns —
nor the FİN asked about — is ever logged.
The API is described in ``docs/simulators/population.md``.
"""

from __future__ import annotations

import http.client
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from mcqs.errors import ExternalServiceError
from mcqs.http_adapter import Answer, KeepAliveAdapter
from mcqs.identity.rules import FIN_PATTERN, ID_CARD_PATTERN

logger = logging.getLogger(__name__)

UNAVAILABLE = "population_registry_unavailable"

PayloadT = TypeVar("PayloadT", bound=BaseModel)


@dataclass(frozen=True)
class Person:
    fin: str
    surname: str
    name: str
    patronymic: str
    address: str  # as on the ID card
    id_card: str  # document number: "AA1234567" / "AZE12345678"
    id_card_valid_until: date

    def id_card_valid_on(self, day: date) -> bool:
        """The card is in date on ``day`` (Baku's calendar day): valid through its last
        day, as the registry counts it."""
        return day <= self.id_card_valid_until


class _IdCardPayload(BaseModel):
    document: str
    valid_until: date


class _PersonPayload(BaseModel):
    fin: str
    surname: str
    name: str
    patronymic: str
    address: str
    id_card: _IdCardPayload


class PopulationRegistryClient(KeepAliveAdapter):
    """Client of the population registry, safe to share between threads.

    Every failure to get a trustworthy answer — network error, timeout, 5xx, a refused
    API key, a body of the wrong shape — raises
    ``ExternalServiceError("population_registry_unavailable")``. It is asked on every
    check, so it speaks through :class:`~mcqs.http_adapter.KeepAliveHttp`, not httpx
    (decision 0008).
    """

    def __init__(self, *, base_url: str, api_key: str, timeout: float = 10.0) -> None:
        super().__init__(
            base_url=base_url,
            headers={"X-Api-Key": api_key, "Accept": "application/json"},
            timeout=timeout,
        )

    def get_person(self, fin: str) -> Person | None:
        """The person with this FİN, or ``None`` when the registry does not know it.

        ``fin`` must already be normalised (:func:`mcqs.identity.rules.normalize_fin`).
        """
        _require(FIN_PATTERN, fin, "fin")
        body = self._get(f"/api/v1/persons/{fin}")
        if body is None:
            return None
        payload = _parse(_PersonPayload, body)
        if payload.fin != fin:
            logger.warning("population registry answered about another FİN than asked")
            raise ExternalServiceError(UNAVAILABLE)
        if not ID_CARD_PATTERN.fullmatch(payload.id_card.document):
            # It is compared with the card typed, and a signed-in citizen's application
            # keeps it as their card.
            logger.warning("population registry answered a malformed ID card number")
            raise ExternalServiceError(UNAVAILABLE)
        return Person(
            fin=payload.fin,
            surname=payload.surname,
            name=payload.name,
            patronymic=payload.patronymic,
            address=payload.address,
            id_card=payload.id_card.document,
            id_card_valid_until=payload.id_card.valid_until,
        )

    def _get(self, path: str) -> Any:
        """The JSON body of a 200 answer; ``None`` for the registry's "no such person"."""
        try:
            response = self._http.get(path)
        except (OSError, http.client.HTTPException) as exc:
            # The exception's class says enough; its text may carry the URL, with the FİN.
            logger.warning("population registry unreachable: %s", type(exc).__name__)
            raise ExternalServiceError(UNAVAILABLE) from None
        if response.status_code == 404 and _problem_code(response) == "person_not_found":
            return None
        if response.status_code != 200:
            # A bare 404 (no problem code) means a wrong base URL, not an unknown person:
            # treating it as "no such person" would turn away every citizen.
            logger.warning("population registry answered HTTP %s", response.status_code)
            raise ExternalServiceError(UNAVAILABLE)
        try:
            return response.json()
        except ValueError:
            logger.warning("population registry answered a body that is not JSON")
            raise ExternalServiceError(UNAVAILABLE) from None


def _require(pattern: re.Pattern[str], value: str, name: str) -> None:
    # A programming error, not a citizen's typo: callers normalise with mcqs.identity.rules.
    # It also keeps anything but a plain FİN or card number out of the URL path.
    if not pattern.fullmatch(value):
        raise ValueError(f"{name} is not normalised")


def _problem_code(response: Answer) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


def _parse(model: type[PayloadT], body: Any) -> PayloadT:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Only where the body is wrong, never the values: they are personal data.
        where = sorted({".".join(map(str, error["loc"])) for error in exc.errors()})
        logger.warning("population registry answered a malformed body at %s", where)
        raise ExternalServiceError(UNAVAILABLE) from None
