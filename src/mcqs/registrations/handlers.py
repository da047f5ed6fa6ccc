"""What the registry does when an application's lifecycle moves, and what it refuses."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from mcqs.applications.lifecycle import ApplicationCancelled, ApplicationPaid, on, refuses_imei
from mcqs.jobs.queue import enqueue
from mcqs.registrations.service import deregister_application, imei_registered_clause


@on(ApplicationPaid)
def queue_registration(session: Session, event: ApplicationPaid) -> None:
    """Paid: the registry registers it (within seconds; the manual promises 24 hours)."""
    enqueue(session, "registrations.register_application", {"application_id": event.application.id})


@on(ApplicationCancelled)
def deregister_cancelled(session: Session, event: ApplicationCancelled) -> None:
    """Cancelled at a point: its IMEIs are no longer registered to anyone (free to apply for)."""
    deregister_application(session, application_id=event.application.id)


@refuses_imei("imei_already_registered")
def already_registered(imei_norm: ColumnElement[str]) -> ColumnElement[bool]:
    return imei_registered_clause(imei_norm)
