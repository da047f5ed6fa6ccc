"""QR codes of a receipt's verification URL."""

from __future__ import annotations

import io
from functools import lru_cache

import segno

# A receipt's page is opened again and again (and its code never changes): drawing the QR
# code costs more than the rest of the page, so recent ones are kept.
RECENT = 1024


# segno otherwise draws the code with each of the 8 masks and keeps the one its penalty rules
# prefer: 80% of the drawing's time, once per receipt on the citizen's way to it. Every mask
# gives a valid code, and each of the 8 was read back by zxing-cpp from 150 receipt URLs
# drawn at 2 pixels a module; 3 is the one segno chose most often for them.
MASK = 3


def _make(url: str) -> segno.QRCode:
    # Always a full QR code (never a Micro QR, which phone cameras do not read).
    return segno.make_qr(url, error="m", mask=MASK)


@lru_cache(maxsize=RECENT)
def qr_svg(url: str) -> str:
    """Inline ``<svg>`` markup for an HTML page (no XML declaration)."""
    return _make(url).svg_inline(scale=4, svgclass="qr")


def qr_png(url: str, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    _make(url).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
