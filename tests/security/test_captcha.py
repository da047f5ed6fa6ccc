from __future__ import annotations

import io

from PIL import Image

from mcqs.security.captcha import new_code_text, render_security_code

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_code_text_is_digits_of_the_asked_length() -> None:
    for length in (4, 5, 6):
        code = new_code_text(length)
        assert len(code) == length
        assert code.isdigit() and code.isascii()


def test_code_text_varies() -> None:
    assert len({new_code_text() for _ in range(50)}) > 1


def test_picture_is_a_png_of_the_expected_size() -> None:
    picture = render_security_code("40721")
    assert picture.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "PNG"
        assert image.size == (200, 70)


def test_different_codes_give_different_pictures() -> None:
    assert render_security_code("12345") != render_security_code("67890")


def _seconds(wav: bytes) -> float:
    import wave

    with wave.open(io.BytesIO(wav)) as recording:
        return recording.getnframes() / recording.getframerate()


def test_spoken_code_lasts_a_few_seconds_and_says_each_code_differently() -> None:
    from mcqs.security.captcha import speak_security_code

    spoken = speak_security_code("40721")
    assert spoken.startswith(b"RIFF") and spoken[8:12] == b"WAVE"
    assert 2 <= _seconds(spoken) <= 10
    assert speak_security_code("40721") != spoken, "every rendering is disguised anew"
    assert speak_security_code("40712") != spoken


def test_only_digits_are_spoken() -> None:
    import pytest

    from mcqs.security.captcha import speak_security_code

    for code in ("4a721", "", "٤٠٧٢١"):  # a letter, nothing, Arabic-Indic digits
        with pytest.raises(ValueError):
            speak_security_code(code)
