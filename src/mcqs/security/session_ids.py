"""Ids of the sessions kept on the server (citizens' and staff's): the cookie carries a
random id, the database only its SHA-256, so a copy of the database opens no session."""

from __future__ import annotations

import hashlib
import secrets


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def session_id_hash(session_id: str) -> str:
    """The key of a session's row."""
    return hashlib.sha256(session_id.encode()).hexdigest()
