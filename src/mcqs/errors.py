"""Domain errors. Each carries a stable ``code``; the surface turns it into words.

A web form shows ``messages.text(code, lang)`` next to ``field``; an API answers a
ProblemDetails body with ``status``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 409

    def __init__(self, code: str, *, field: str | None = None, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params


class InvalidInput(DomainError):
    """Input a person typed that breaks a rule: shown next to its field."""

    status_code = 422


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class TooManyRequests(DomainError):
    status_code = 429


class ExternalServiceError(DomainError):
    """A party we depend on (registry, GoldenPay, SMS centre) failed or answered nonsense."""

    status_code = 502


class FormErrors(Exception):
    """Several field errors found at once, so the person can fix them in one go."""

    def __init__(self, errors: list[DomainError]) -> None:
        super().__init__(", ".join(e.code for e in errors))
        self.errors = errors


class Forbidden(DomainError):
    """Someone known, whose role may not do this (an agent cancelling a registration)."""

    status_code = 403
