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
    spoken: list[str] = []

    def speak(code: str) -> bytes:
        spoken.append(code)
        return speak_security_code(code)

    monkeypatch.setattr("mcqs.applications.web.speak_security_code", speak)
    with TestClient(create_app(settings, db=catalogue)) as client:
        heard = []
        for _expected in ("31415", "92653"):
            page = client.get("/register").text
            found = re.search(r'<audio [^>]*src="data:audio/wav;base64,([^"]+)"', page)
            assert found, "the check form carries the spoken code"
            heard.append(base64.b64decode(found.group(1)))
        assert spoken == ["31415", "92653"], "each page speaks the code its picture shows"
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


def test_a_script_cannot_find_the_recorded_digits_in_the_audio() -> None:
    """The replay of issue 6 solved every plain rendering by finding the ten public
    recordings in it byte for byte; each rendering is now disguised differently."""
    import io
    import wave

    from mcqs.security.captcha import _spoken_digit

    first, second = speak_security_code("13579"), speak_security_code("13579")
    assert first != second, "the same code never sounds byte-for-byte the same"
    for digit in "13579":
        recording = _spoken_digit(digit)[1]
        piece = recording[len(recording) // 3 : len(recording) // 3 + 400]
        assert piece not in first and piece not in second
    with wave.open(io.BytesIO(first)) as heard:
        seconds = heard.getnframes() / heard.getframerate()
    assert 2.0 < seconds < 10.0, "a few seconds: five digits with pauses"
