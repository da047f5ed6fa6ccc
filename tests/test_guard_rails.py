"""Guard rails: mistakes that a review would have to catch every time."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mcqs import messages
from mcqs.db import Base, Database

SRC = Path(__file__).resolve().parent.parent / "src" / "mcqs"
RAISED = re.compile(
    r"\b(?:InvalidInput|Conflict|NotFound|TooManyRequests|ExternalServiceError"
    r"|DomainError)\(\s*\"([a-z0-9_]+)\""
)


def test_migrations_create_exactly_the_models(db: Database) -> None:
    import mcqs.models  # noqa: F401

    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_every_error_a_citizen_can_meet_has_words() -> None:
    codes = set()
    for path in SRC.rglob("*.py"):  # the simulators, other parties' apps, are not in SRC
        codes |= set(RAISED.findall(path.read_text(encoding="utf-8")))
    assert codes, "the pattern finds the raised codes"
    missing = sorted(c for c in codes if c not in messages.AZ and c not in messages.OPERATOR_EN)
    assert missing == []


def test_every_rejection_reason_has_words() -> None:
    source = (SRC / "registrations" / "service.py").read_text(encoding="utf-8")
    reasons = set(re.findall(r'(?:reason(?:=| = )|return )"([a-z_]+)"', source))
    assert reasons and reasons <= set(messages.REJECT_REASONS_AZ)
