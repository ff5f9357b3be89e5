"""Organisations, their API keys, staff accounts and staff sessions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, TimestampedBase, UTCDateTime


class Organisation(TimestampedBase):
    """An organisation that uses the hub: a municipality (自治体), an institution (医療機関・薬局) or the operator."""

    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    prefecture_code: Mapped[str | None] = mapped_column(String(2))
    institution_kind: Mapped[str | None] = mapped_column(String(16))
    large_chain: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiKey(TimestampedBase):
    """An API key of one organisation and one role; only its SHA-256 digest is kept."""

    __tablename__ = "api_keys"

    organisation_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class StaffUser(TimestampedBase):
    """A member of staff who signs in to the web pages with a password and a TOTP second factor."""

    __tablename__ = "staff_users"

    organisation_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigId)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class StaffSession(TimestampedBase):
    """A signed-in browser session; the cookie carries a random token whose digest is stored here."""

    __tablename__ = "staff_sessions"

    staff_user_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff_users.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class CardReader(TimestampedBase):
    """A card reader registered by an institution, with an API key of its own (one key per device).

    Only a reader registered as a face-recognition device (``face_recognition``) may open a card
    session by face; any other reader must have the holder give the PIN.
    """

    __tablename__ = "card_readers"

    organisation_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    api_key_id: Mapped[int] = mapped_column(BigId, ForeignKey("api_keys.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    face_recognition: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class RateLimitWindow(Base):
    """How often one thing (a login, a client address, a card, a reader) was tried in one fixed window.

    Kept in the database so that every server process counts against the same number; the key is
    stored only as a digest.
    """

    __tablename__ = "rate_limit_windows"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
