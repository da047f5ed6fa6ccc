"""RFC 9457 ProblemDetails: the body of every error an HTTP API answers, ours and the
simulators' alike (also what 3GPP's APIs use)."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """``type``, ``title``, ``status``, ``detail``, and any extension members."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> JSONResponse:
    """A ProblemDetails answer; extension members that are ``None`` are left out."""
    body = Problem.model_validate(
        {"title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extensions}
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def problem_openapi(*statuses: int) -> dict[int | str, dict[str, object]]:
    """``responses=`` for FastAPI routes that answer these statuses with ProblemDetails."""
    return {status: {"model": Problem, "content": {PROBLEM_JSON: {}}} for status in statuses}
