"""What each failure of the portal means: unavailable (try later) or a refusal."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from joserfc.errors import ExpiredTokenError, InvalidClaimError, MissingClaimError

from mcqs.egov.client import refusal_code

_REQUEST = httpx.Request("POST", "https://portal.example/token")


def _status(code: int) -> httpx.HTTPStatusError:
    response = httpx.Response(code, request=_REQUEST)
    return httpx.HTTPStatusError("answered", request=_REQUEST, response=response)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ConnectError("refused", request=_REQUEST), "egov_unavailable"),
        (httpx.ReadTimeout("slow", request=_REQUEST), "egov_unavailable"),
        (_status(503), "egov_unavailable"),
        (_status(404), "egov_refused"),  # answered, not as the protocol says
        (ValueError("Token endpoint response is not a JSON object (HTTP 200)."), "egov_refused"),
        (ExpiredTokenError("exp"), "egov_token_expired"),
        (MissingClaimError("exp"), "egov_token_invalid"),  # no expiry is not "expired"
        (InvalidClaimError("exp"), "egov_token_invalid"),
        (MissingClaimError("nonce"), "egov_token_nonce"),
        (RuntimeError("ours"), None),  # a bug of ours is not the portal's refusal
    ],
)
def test_each_failure_maps_to_one_code(error: Exception, code: str | None) -> None:
    assert refusal_code(error) == code


def test_only_authlibs_httpx_warning_is_silenced() -> None:
    """Authlib 1.9.10 warns in every process that it runs on httpx, not httpx2: that one
    warning is silenced; another of Authlib's deprecation warnings still shows."""
    script = (
        "import mcqs.app\n"
        "from authlib.deprecate import deprecate\n"
        "deprecate('another deprecation')\n"
    )
    ran = subprocess.run(
        [sys.executable, "-W", "default", "-c", script], capture_output=True, text=True, check=True
    )
    assert "httpx2" not in ran.stderr
    assert "another deprecation" in ran.stderr
