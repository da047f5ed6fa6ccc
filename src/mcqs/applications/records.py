"""An application as the registry decides it: plain values read with a few Core selects for
a whole batch, no ORM object (the worker decides hundreds at a time, and building,
tracking and flushing an object per application, IMEI and payment was most of its time).

The lifecycle's decisions (``lifecycle.decide``) and the handlers of their events
(``ApplicationRegistered``, ``ApplicationRejected``) work on these."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.devices.naming import device_name
from mcqs.i18n import Language


class ImeiRecord(NamedTuple):
    imei: str
    imei_norm: str


class PaymentRecord(NamedTuple):
    id: int
    amount_qepik: int


@dataclass
class ApplicationRecord:
    id: int
    status: ApplicationStatus
    fin: str
    phone: str | None
    language: Language
    notification_code: str
    brand: str | None
    model: str | None
    fee_qepik: int
    submitted_at: dt.datetime | None
    imeis: list[ImeiRecord]  # in the order typed
    paid_payment: PaymentRecord | None
    decided_at: dt.datetime | None = None
    reject_reason: str | None = None

    @property
    def device_name(self) -> str:
        return device_name(self.brand, self.model)


def record_of(application: Application) -> ApplicationRecord:
    """The record of an application already loaded (with its IMEIs and payments)."""
    paid = application.paid_payment
    return ApplicationRecord(
        id=application.id,
        status=application.status,
        fin=application.fin,
        phone=application.phone,
        language=application.language,
        notification_code=application.notification_code,
        brand=application.brand,
        model=application.model,
        fee_qepik=application.fee_qepik,
        submitted_at=application.submitted_at,
        imeis=[ImeiRecord(item.imei, item.imei_norm) for item in application.imeis],
        paid_payment=PaymentRecord(paid.id, paid.amount_qepik) if paid else None,
        decided_at=application.decided_at,
        reject_reason=application.reject_reason,
    )
