"""What the EIR does when an application's lifecycle moves: a registered device's IMEIs
are whitelisted in the same transaction, so the next status answer says so."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy.orm import Session

from mcqs.applications.lifecycle import ApplicationCancelled, ApplicationRegistered, on, on_each
from mcqs.eir.service import mark_registered, mark_unregistered


@on_each(ApplicationRegistered)
def whitelist_registered(session: Session, events: list[ApplicationRegistered]) -> None:
    """A batch of registrations whitelists all their IMEIs with a few statements."""
    by_moment: dict[dt.datetime, list[str]] = defaultdict(list)
    for event in events:
        by_moment[event.now].extend(item.imei_norm for item in event.application.imeis)
    for now, imei_norms in by_moment.items():
        mark_registered(session, imei_norms, now=now)


@on(ApplicationCancelled)
def unlist_cancelled(session: Session, event: ApplicationCancelled) -> None:
    if event.was_registered:
        mark_unregistered(
            session, (item.imei_norm for item in event.application.imeis), now=event.now
        )
