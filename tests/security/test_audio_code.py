"""The check form speaks the code its picture shows, and the spoken code is checked by the
same rules: it is the same code."""

from __future__ import annotations

import base64
import itertools
import re

import pytest
from starlette.testclient import TestClient

from mcqs.app import create_app
from mcqs.security.captcha import speak_security_code


def test_the_audio_is_the_code_and_changes_with_it(app_settings, catalogue, monkeypatch) -> None:
    codes = itertools.chain(["31415", "92653"], itertools.repeat("27182"))
    monkeypatch.setattr("mcqs.security.service.new_code_text", lambda: next(codes))
    settings = app_settings.model_copy(update={"security_code_fixed": None})
    with TestClient(create_app(settings, db=catalogue)) as client:
        heard = []
        for expected in ("31415", "92653"):
            page = client.get("/register").text
            found = re.search(r'<audio [^>]*src="data:audio/wav;base64,([^"]+)"', page)
            assert found, "the check form carries the spoken code"
            heard.append(base64.b64decode(found.group(1)))
            assert heard[-1] == speak_security_code(expected)
        assert heard[0] != heard[1]
        # What was heard is what is checked: typing it passes the security code.
        code_id = re.search(r'name="security_code_id" value="([0-9a-f]+)"', page)
        assert code_id
        answer = client.post(
            "/register",
            data={"security_code_id": code_id.group(1), "security_code": "92653"},
        )
        assert 'data-error="security_code' not in answer.text


def test_a_fixed_code_must_be_digits() -> None:
    from mcqs.config import Settings

    with pytest.raises(ValueError, match="MCQS_SECURITY_CODE_FIXED"):
        Settings(env="test", security_code_fixed="ab12")
