"""Imports every domain's models so that metadata (Alembic, tests) sees all tables."""

from mcqs.applications.models import Application, ApplicationImei, ImeiHold
from mcqs.audit.models import AuditChainHead, AuditEntry
from mcqs.counter.models import DayClose
from mcqs.devices.models import BlacklistedImei, ModelPrice, TacModel
from mcqs.egov.models import CitizenSession
from mcqs.eir.models import (
    EirImei,
    EirPairing,
    FoldedSighting,
    ListFile,
    ListRun,
    NetworkSighting,
    Operator,
)
from mcqs.fees.models import TariffBand
from mcqs.jobs.models import Job, OperatorRun, WorkerHeartbeat
from mcqs.notifications.models import SmsMessage
from mcqs.payments.models import Payment, PaymentEvent, Refund
from mcqs.receipts.models import ReceiptDocument
from mcqs.registrations.models import Registration, RegistrationImei
from mcqs.security.models import RateLimitHit, SecurityCode
from mcqs.staff.models import RegistrationPoint, StaffAccount, StaffSession

__all__ = [
    "Application",
    "ApplicationImei",
    "AuditChainHead",
    "AuditEntry",
    "BlacklistedImei",
    "CitizenSession",
    "DayClose",
    "EirImei",
    "EirPairing",
    "FoldedSighting",
    "ImeiHold",
    "Job",
    "ListFile",
    "ListRun",
    "ModelPrice",
    "NetworkSighting",
    "Operator",
    "OperatorRun",
    "Payment",
    "PaymentEvent",
    "RateLimitHit",
    "ReceiptDocument",
    "Refund",
    "Registration",
    "RegistrationImei",
    "RegistrationPoint",
    "SecurityCode",
    "SmsMessage",
    "StaffAccount",
    "StaffSession",
    "TacModel",
    "TariffBand",
    "WorkerHeartbeat",
]
