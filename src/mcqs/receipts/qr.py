"""QR codes of a receipt's verification URL."""

from __future__ import annotations

import io
from functools import lru_cache

import segno

# A receipt's page is opened again and again (and its code never changes): drawing the QR
# code costs more than the rest of the page, so recent ones are kept.
RECENT = 1024


def _make(url: str) -> segno.QRCode:
    # Always a full QR code (never a Micro QR, which phone cameras do not read).
    return segno.make_qr(url, error="m")


@lru_cache(maxsize=RECENT)
def qr_svg(url: str) -> str:
    """Inline ``<svg>`` markup for an HTML page (no XML declaration)."""
    return _make(url).svg_inline(scale=4, svgclass="qr")


def qr_png(url: str, scale: int = 6) -> bytes:
    buffer = io.BytesIO()
    _make(url).save(buffer, kind="png", scale=scale)
    return buffer.getvalue()
