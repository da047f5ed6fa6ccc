"""What a receipt (qəbz) shows, and the masking used where it is shown to others."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mcqs.devices.naming import device_name
from mcqs.localtime import BAKU
from mcqs.payments.models import CARD_TYPES


@dataclass(frozen=True)
class ReceiptView:
    """Everything a receipt prints, already looked up; rendering needs no database."""

    notification_code: str  # display form, e.g. "K7F3-9QDM-2XAB-C"
    fin: str
    full_name: str  # "Məmmədov Elvin Rəşid oğlu"
    address: str
    phone: str  # E.164
    card_type: str  # "v" or "m": of the card that paid (see receipt_view), not the one chosen
    masked_card: str | None  # "422865******8101"
    imeis: tuple[str, ...]
    brand: str | None
    model: str | None
    amount_qepik: int
    paid_at: dt.datetime  # aware, UTC
    status: str  # application status value, e.g. "paid", "registered"
    verify_url: str  # absolute URL of the public verification page

    def __post_init__(self) -> None:
        if self.card_type not in CARD_TYPES:
            raise ValueError(f"unknown card type {self.card_type!r}")
        if self.paid_at.tzinfo is None:
            raise ValueError("paid_at must be timezone-aware")

    @property
    def card_type_label(self) -> str:
        return CARD_TYPES[self.card_type]

    @property
    def device_name(self) -> str:
        return device_name(self.brand, self.model)

    @property
    def paid_at_local(self) -> dt.datetime:
        """The payment time as people in Azerbaijan read it."""
        return self.paid_at.astimezone(BAKU)


def mask_fin(fin: str) -> str:
    """``"5ABC1D2"`` → ``"5A***D2"``: enough to recognise one's own, not to reuse."""
    if len(fin) <= 4:
        return "*" * len(fin)
    return fin[:2] + "*" * (len(fin) - 4) + fin[-2:]


def mask_name(full_name: str) -> str:
    """``"Məmmədov Elvin Rəşid oğlu"`` → ``"M******* E**** R**** o***"``."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in full_name.split())
