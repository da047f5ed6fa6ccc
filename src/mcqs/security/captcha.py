"""The security code (təhlükəsizlik kodu) as a picture that people read and scripts do not,
and as the same digits spoken in Azerbaijani, for people who cannot see the picture."""

from __future__ import annotations

import io
import secrets
import string
import wave
from functools import cache
from importlib import resources

from captcha.image import ImageCaptcha

IMAGE_WIDTH = 200
IMAGE_HEIGHT = 70


def new_code_text(length: int = 5) -> str:
    """Digits only: the same keys on every keyboard layout and phone keypad."""
    if length < 1:
        raise ValueError("a security code needs at least one digit")
    return "".join(secrets.choice(string.digits) for _ in range(length))


def render_security_code(code: str) -> bytes:
    """A PNG of ``code`` drawn distorted, with noise."""
    picture = ImageCaptcha(width=IMAGE_WIDTH, height=IMAGE_HEIGHT)
    return picture.generate(code, format="png").getvalue()


# One WAV per digit, made once with espeak-ng (see voice/README.md); all share one format.
_VOICE = resources.files("mcqs.security") / "voice"
PAUSE_SECONDS = 0.45  # between digits, so that "bir iki" is not heard as one word


@cache
def _spoken_digit(digit: str) -> tuple[wave._wave_params, bytes]:
    with wave.open(io.BytesIO((_VOICE / f"{digit}.wav").read_bytes())) as recording:
        return recording.getparams(), recording.readframes(recording.getnframes())


def speak_security_code(code: str) -> bytes:
    """A WAV of ``code`` read out digit by digit, with pauses: what the picture shows."""
    if not code.isdigit() or not code.isascii():
        raise ValueError("only a code of digits can be spoken")
    params, _ = _spoken_digit("0")
    silence_byte = b"\x80" if params.sampwidth == 1 else b"\x00"  # 8-bit PCM is unsigned
    pause = silence_byte * (int(params.framerate * PAUSE_SECONDS) * params.sampwidth)
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setparams(params)
        joined.writeframes(pause)
        for digit in code:
            joined.writeframes(_spoken_digit(digit)[1] + pause)
    return out.getvalue()
