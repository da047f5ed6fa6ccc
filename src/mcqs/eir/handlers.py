"""What the EIR does when an application's lifecycle moves: a registered device's IMEIs
are whitelisted in the same transaction, so the next status answer says so."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mcqs.applications.lifecycle import ApplicationCancelled, ApplicationRegistered, on
from mcqs.eir.service import mark_registered, mark_unregistered


@on(ApplicationRegistered)
def whitelist_registered(session: Session, event: ApplicationRegistered) -> None:
    mark_registered(session, (item.imei_norm for item in event.application.imeis), now=event.now)


@on(ApplicationCancelled)
def unlist_cancelled(session: Session, event: ApplicationCancelled) -> None:
    if event.was_registered:
        mark_unregistered(
            session, (item.imei_norm for item in event.application.imeis), now=event.now
        )
