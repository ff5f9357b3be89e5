"""Tables of the resident's own view: short sessions opened with the My Number card and its PIN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pmh.audit.models import AuditEntry
from pmh.db import TimestampedBase, UTCDateTime


class ResidentSession(TimestampedBase):
    """A resident signed in with their card and PIN (本人用セッション); only the token's digest is kept.

    Good for ``/api/v1/me/*`` and the ``/me`` pages only, for a few minutes (``expires_at``);
    ``csrf_token`` guards the pages' forms.
    """

    __tablename__ = "resident_sessions"

    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    person_digest: Mapped[str] = mapped_column(String(64), index=True)
    card_serial: Mapped[str] = mapped_column(String(12))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


# The resident's access log finds the entries about their records by subject; without this index
# every read of it would scan the whole audit log.
AUDIT_SUBJECT_INDEX = Index("ix_audit_entries_subject", AuditEntry.subject_type, AuditEntry.subject_id)
