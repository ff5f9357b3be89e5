"""The table of idempotency keys: one row per caller scope and key, with the first response."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, UTCDateTime, utcnow


class IdempotencyRecord(Base):
    """The first answer to one creating request, kept so that a retry with the same key gets it again.

    Written in the same transaction as the work it guards: after a crash or a failover either both
    exist or neither. ``status_code`` is NULL only while that transaction is still running (no other
    transaction can see such a row).
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("caller_scope", "key"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    caller_scope: Mapped[str] = mapped_column(String(64))
    """Whose key it is: ``<organisation id>:<role>`` (two institutions may use the same key)."""
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 (hex) of the method, the path with its query and the body."""
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(255))
    status_code: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
