"""The security code (təhlükəsizlik kodu) as a picture that people read and scripts do not,
and as the same digits spoken in Azerbaijani, for people who cannot see the picture."""

from __future__ import annotations

import io
import secrets
import string
import threading
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
    painter = getattr(_painters, "painter", None)
    if painter is None:
        # Kept: it loads its fonts on first use, which costs more than a picture. One per
        # thread, since a FreeType font is not to be drawn with by two threads at once.
        painter = _painters.painter = ImageCaptcha(width=IMAGE_WIDTH, height=IMAGE_HEIGHT)
    return painter.generate(code, format="png").getvalue()


_painters = threading.local()


# One WAV per digit, made once with espeak-ng (see voice/README.md); all share one format.
_VOICE = resources.files("mcqs.security") / "voice"
PAUSE_SECONDS = 0.45  # between digits, so that "bir iki" is not heard as one word


@cache
def _spoken_digit(digit: str) -> tuple[wave._wave_params, bytes]:
    with wave.open(io.BytesIO((_VOICE / f"{digit}.wav").read_bytes())) as recording:
        return recording.getparams(), recording.readframes(recording.getnframes())


def speak_security_code(code: str) -> bytes:
    """A WAV of ``code`` read out digit by digit, with pauses: what the picture shows.

    Each rendering differs — every digit at its own loudness, pauses of random length,
    every sample value shifted a little at random — so that a script cannot find the ten
    public recordings in it byte for byte (a replay of issue 6 solved every plain one)."""
    if not code.isdigit() or not code.isascii():
        raise ValueError("only a code of digits can be spoken")
    params, _ = _spoken_digit("0")
    if params.sampwidth != 1:
        raise ValueError("the digit recordings must be 8-bit PCM")
    out = io.BytesIO()
    with wave.open(out, "wb") as joined:
        joined.setparams(params)
        joined.writeframes(_pause(params.framerate))
        for digit in code:
            loudness = _random.uniform(0.6, 1.0)
            joined.writeframes(_disguised(_spoken_digit(digit)[1], loudness))
            joined.writeframes(_pause(params.framerate))
    return out.getvalue()


_random = secrets.SystemRandom()
NOISE = 3  # of 128: a faint hiss, enough to change the bytes


def _pause(framerate: int) -> bytes:
    seconds = _random.uniform(PAUSE_SECONDS * 0.7, PAUSE_SECONDS * 1.4)
    return _disguised(b"\x80" * int(framerate * seconds), 1.0)


def _disguised(frames: bytes, loudness: float) -> bytes:
    """8-bit unsigned PCM (silence is 128) through a table made for this rendering alone:
    scaled by ``loudness``, each sample value moved by its own small random amount."""
    jitter = _random.randbytes(256)
    table = bytes(
        min(255, max(0, 128 + int((value - 128) * loudness) + shift % (2 * NOISE + 1) - NOISE))
        for value, shift in zip(range(256), jitter, strict=True)
    )
    return frames.translate(table)
