"""Password hashing (argon2id) and TOTP second-factor checks for staff sign-in."""

from __future__ import annotations

import datetime as dt

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
TOTP_STEP_SECONDS = 30
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return True when the password matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """Return a new random base32 TOTP secret."""
    return pyotp.random_base32()


def totp_code(secret: str, at: dt.datetime) -> str:
    """Return the six-digit TOTP code for a moment (used by tests and the demo)."""
    return pyotp.TOTP(secret).at(at)


def totp_uri(secret: str, login: str) -> str:
    """Return the otpauth:// URI an authenticator app scans."""
    return pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name="pmh")


def accepted_totp_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """Return the time step a code belongs to, or None when it is wrong or was already used.

    One step of clock drift either way is tolerated; a step not newer than the last accepted one
    is refused so that an observed code cannot be replayed.
    """
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // TOTP_STEP_SECONDS
    for step in (current - 1, current, current + 1):
        if totp.at(step * TOTP_STEP_SECONDS) == code.strip() and (last_step is None or step > last_step):
            return step
    return None
