"""The security code (təhlükəsizlik kodu) as a picture that people read and scripts do not."""

from __future__ import annotations

import secrets
import string

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
