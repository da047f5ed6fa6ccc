"""Operators' OAuth2 clients (client credentials grant) and their access tokens.

A client secret is shown once, when the client is made, and kept only as a scrypt hash.
An access token is signed, not stored: ``base64(payload).base64(HMAC-SHA256)`` with a key
derived from ``MCQS_SECRET_KEY``, the payload naming the operator, the scopes and the
expiry. Any web process checks it without the database; a leaked token is good until its
expiry (``MCQS_OPERATOR_TOKEN_MINUTES``), like any bearer token of the client credentials
grant. Operators are a machine principal of their own: no cookie, no CSRF token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mcqs.eir.models import Operator

# TS 29.511's scope, and ours for the registry's own operator APIs (uploads, lists).
SCOPE_EIR = "n5g-eir-eic"
SCOPE_OPERATOR = "mcqs-operator"
ALL_SCOPES = (SCOPE_EIR, SCOPE_OPERATOR)

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class OperatorAuthError(Exception):
    """The token or client credentials are refused; ``error`` is RFC 6749/6750's code."""

    def __init__(self, error: str, status: int, detail: str) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class OperatorPrincipal:
    """Who is asking on the operator API: an operator's client, with its scopes."""

    operator_id: int
    operator_code: str
    scopes: frozenset[str]
    # When the token it came from expires (seconds since the epoch); 0: no token.
    expires_at: float = 0.0


@dataclass(frozen=True)
class IssuedClient:
    operator: Operator
    client_secret: str  # shown once


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def secret_matches(secret: str, stored: str) -> bool:
    scheme, salt, _digest = stored.split("$")
    if scheme != "scrypt":
        return False
    return hmac.compare_digest(hash_secret(secret, salt=bytes.fromhex(salt)), stored)


def add_operator(
    session: Session,
    *,
    code: str,
    name: str,
    imsi_prefixes: list[str],
    client_id: str | None = None,
    client_secret: str | None = None,
) -> IssuedClient:
    """A new operator with a new client; the secret is returned here and nowhere else.
    (``client_id`` and ``client_secret`` are chosen only by the demo.)"""
    if not code or not code.replace("-", "").isalnum() or not code.islower():
        raise ValueError("an operator's code is lowercase letters, digits and dashes")
    if not imsi_prefixes or not all(p.isdigit() and 5 <= len(p) <= 6 for p in imsi_prefixes):
        raise ValueError("IMSI prefixes are MCC+MNC: 5 or 6 digits each")
    if session.scalar(select(Operator.id).where(Operator.code == code)) is not None:
        raise ValueError(f"operator {code} exists already")
    secret = client_secret or secrets.token_urlsafe(32)
    operator = Operator(
        code=code,
        name=name,
        imsi_prefixes=",".join(imsi_prefixes),
        client_id=client_id or f"{code}-{secrets.token_hex(6)}",
        client_secret_hash=hash_secret(secret),
    )
    session.add(operator)
    session.flush()
    return IssuedClient(operator=operator, client_secret=secret)


def operator_by_code(session: Session, code: str) -> Operator | None:
    return session.scalar(select(Operator).where(Operator.code == code))


def authenticate_client(session: Session, *, client_id: str, client_secret: str) -> Operator:
    operator = session.scalar(select(Operator).where(Operator.client_id == client_id))
    # The hash is computed for an unknown client too: both refusals take as long.
    stored = operator.client_secret_hash if operator is not None else hash_secret("-")
    if not secret_matches(client_secret, stored) or operator is None or not operator.active:
        raise OperatorAuthError("invalid_client", 401, "unknown client or wrong secret")
    return operator


def granted_scopes(requested: str | None) -> frozenset[str]:
    """The scopes a token gets: those asked for (all of them when none are named)."""
    if not requested:
        return frozenset(ALL_SCOPES)
    asked = frozenset(requested.split())
    if not asked <= set(ALL_SCOPES):
        raise OperatorAuthError("invalid_scope", 400, f"scopes offered: {' '.join(ALL_SCOPES)}")
    return asked


def _token_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), b"mcqs operator access token", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_token(
    operator: Operator,
    *,
    scopes: frozenset[str],
    secret_key: str,
    lifetime: dt.timedelta,
    now: dt.datetime,
) -> str:
    payload = {
        "op": operator.id,
        "code": operator.code,
        "scope": " ".join(sorted(scopes)),
        "exp": int((now + lifetime).timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_token_key(secret_key), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}"


def verify_token(token: str, *, secret_key: str, now: dt.datetime) -> OperatorPrincipal:
    """The principal of a valid token; :class:`OperatorAuthError` ``invalid_token`` else."""
    body, _, signature = token.partition(".")
    expected = _b64(hmac.new(_token_key(secret_key), body.encode(), hashlib.sha256).digest())
    # Bytes: a header may carry any Latin-1 character, which str comparison would refuse.
    if not body or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise OperatorAuthError("invalid_token", 401, "the token is not one we issued")
    try:
        payload = json.loads(_unb64(body))
    except ValueError:
        raise OperatorAuthError("invalid_token", 401, "the token is not one we issued") from None
    if payload["exp"] <= now.timestamp():
        raise OperatorAuthError("invalid_token", 401, "the token has expired")
    return OperatorPrincipal(
        operator_id=int(payload["op"]),
        operator_code=str(payload["code"]),
        scopes=frozenset(str(payload["scope"]).split()),
        expires_at=float(payload["exp"]),
    )
