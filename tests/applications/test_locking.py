"""A locked read sees what another transaction committed while this one waited: the
counter's payment and cancellation check an application's status after locking it, and a
session that had loaded it before must not answer from its old copy (PostgreSQL: SQLite
runs one writer at a time, so there the question cannot arise)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from mcqs.applications.models import Application, ApplicationStatus
from mcqs.applications.service import get_application
from mcqs.db import Database

from factories import create_application


@pytest.mark.postgres_only
def test_a_locked_read_refreshes_an_application_loaded_before(
    db: Database, demo_imeis: list[str]
) -> None:
    with db.transaction() as session:
        application_id = create_application(session, imeis=(demo_imeis[0],)).id

    with db.transaction() as first:
        loaded = get_application(first, application_id)
        assert loaded.status == ApplicationStatus.CREATED
        with db.transaction() as second:  # another request, committed meanwhile
            second.execute(
                update(Application)
                .where(Application.id == application_id)
                .values(status=ApplicationStatus.PAID)
            )

        locked = get_application(first, application_id, lock=True)

        assert locked is loaded  # the same object, refreshed from the locked row
        assert locked.status == ApplicationStatus.PAID
