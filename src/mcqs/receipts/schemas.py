"""What a receipt (qəbz) shows, and the masking used where it is shown to others."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from mcqs.devices.naming import device_name
from mcqs.i18n import N_, gettext
from mcqs.localtime import BAKU
from mcqs.payments.models import CARD_TYPES, PaymentMethod

CASH = N_("Nağd (qeydiyyat məntəqəsində)")
CARD_TERMINAL = N_("Kart terminalı (qeydiyyat məntəqəsində)")
SLIP = N_("çek №")


@dataclass(frozen=True)
class CounterParty:
    """Where and by whom an application made at a counter was taken: printed on its receipt."""

    point_code: str
    point_name: str
    point_address: str
    agent: str  # the agent's username, as the audit log names them


@dataclass(frozen=True)
class ReceiptView:
    """Everything a receipt prints, already looked up; rendering needs no database."""

    notification_code: str  # display form, e.g. "K7F3-9QDM-2XAB-C"
    fin: str
    full_name: str  # "Məmmədov Elvin Rəşid oğlu"
    address: str
    phone: str  # E.164
    # "v" or "m": of the card that paid (see receipt_view), not the one chosen; None at a
    # counter.
    card_type: str | None
    masked_card: str | None  # "422865******8101"
    imeis: tuple[str, ...]
    brand: str | None
    model: str | None
    amount_qepik: int
    paid_at: dt.datetime  # aware, UTC
    status: str  # application status value, e.g. "paid", "registered"
    verify_url: str  # absolute URL of the public verification page
    method: PaymentMethod = PaymentMethod.GOLDENPAY
    slip_reference: str | None = None  # the card terminal's slip
    counter: CounterParty | None = None  # made at a registration point's counter

    def __post_init__(self) -> None:
        if self.method == PaymentMethod.GOLDENPAY and self.card_type not in CARD_TYPES:
            raise ValueError(f"unknown card type {self.card_type!r}")
        if self.paid_at.tzinfo is None:
            raise ValueError("paid_at must be timezone-aware")

    @property
    def card_type_label(self) -> str:
        return CARD_TYPES.get(self.card_type or "", "")

    @property
    def payment_text(self) -> str:
        """How it was paid, as the receipt prints it in the current language: the card
        (type and masked number) online, cash, or the card terminal with its slip."""
        if self.method == PaymentMethod.CASH:
            return gettext(CASH)
        if self.method == PaymentMethod.CARD_TERMINAL:
            text = gettext(CARD_TERMINAL)
            if self.slip_reference:
                text = f"{text}, {gettext(SLIP)} {self.slip_reference}"
            return text
        text = self.card_type_label
        if self.masked_card:
            text = f"{text}, {self.masked_card}"
        return text

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
