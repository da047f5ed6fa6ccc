"""Passwords (argon2id, argon2-cffi's defaults) and the TOTP second factor (pyotp)."""

from __future__ import annotations

import datetime as dt
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified when the username names no account, so that an unknown name takes as long to
# refuse as a wrong password (no way to learn which usernames exist by timing).
_UNKNOWN_ACCOUNT_HASH = _hasher.hash(secrets.token_urlsafe(16))

#: The issuer name an authenticator app shows beside the account.
TOTP_ISSUER = "MCQS"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from; ``None`` (no such
    account) costs the same time and is never a match."""
    try:
        return _hasher.verify(password_hash or _UNKNOWN_ACCOUNT_HASH, password) and bool(
            password_hash
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """After argon2's parameters are raised, a correct password is hashed again."""
    return _hasher.check_needs_rehash(password_hash)


def new_password() -> str:
    """A password for a new account, to be handed over once (about 96 bits)."""
    return secrets.token_urlsafe(12)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from the enrolment QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def accepted_step(secret: str, code: str, *, last_step: int, now: dt.datetime) -> int | None:
    """The time step ``code`` belongs to, if it is the code of the current step or of one
    step either side (a clock a little off), and newer than ``last_step``: a code is good
    once, so one read over a shoulder or from a log cannot be typed again."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if step > last_step and secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None
