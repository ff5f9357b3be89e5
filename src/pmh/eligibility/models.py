"""Tables of the reader flow: card sessions, receptions and the certificates each reception may read."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, TimestampedBase, UTCDateTime


class CardSession(TimestampedBase):
    """One card placed on one institution's reader: who it is, and what the reader offered.

    ``token`` is the session's public id (random, so a reader cannot guess another's); ``offered``
    holds the offered certificates as JSON ``[{"key": "1", "certificate_id": …}]`` so that the
    consent can only name what was offered.
    """

    __tablename__ = "card_sessions"

    token: Mapped[str] = mapped_column(String(43), unique=True)
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    person_digest: Mapped[str] = mapped_column(String(64))
    card_serial: Mapped[str] = mapped_column(String(12))
    auth_method: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    offered: Mapped[str] = mapped_column(Text, default="[]")
    consented_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Reception(TimestampedBase):
    """A reception (受付) at an institution: one row of the 顔認証付きCR利用者リスト.

    ``received_on`` is the local (Japan) date the list is kept by; ``patient_id`` is the link to
    the institution's 患者受付登録一覧, made automatically or by staff (``link_method``).
    """

    __tablename__ = "receptions"
    __table_args__ = (Index("ix_receptions_day", "institution_id", "received_on"),)

    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    card_session_id: Mapped[int] = mapped_column(BigId, ForeignKey("card_sessions.id"), unique=True)
    person_digest: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    received_on: Mapped[dt.date] = mapped_column(Date)
    subsidy_consent: Mapped[str] = mapped_column(String(8))
    patient_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("patients.id"), index=True)
    link_method: Mapped[str | None] = mapped_column(String(8))
    linked_by: Mapped[str | None] = mapped_column(String(100))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    """When the patient withdrew the consent (同意の撤回); from then on the reception is gone for the institution."""
    day_number: Mapped[int | None] = mapped_column(Integer)
    """受付番号: 1, 2, 3 … per institution and day in Japan (null for receptions made before numbering)."""


class ReceptionDay(Base):
    """The last reception number given out by one institution on one day (the counter behind 受付番号)."""

    __tablename__ = "reception_days"
    __table_args__ = (PrimaryKeyConstraint("institution_id", "day"),)

    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class ReceptionCertificate(Base):
    """A certificate the patient consented to share with this reception, and what was first read of it.

    ``first_read`` is a JSON snapshot of the subsidy as the institution first received it; the
    monthly 一括照会 compares against it.
    """

    __tablename__ = "reception_certificates"
    __table_args__ = (UniqueConstraint("reception_id", "certificate_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    reception_id: Mapped[int] = mapped_column(BigId, ForeignKey("receptions.id"))
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificates.id"), index=True)
    offered_order: Mapped[int] = mapped_column(Integer)
    first_read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    first_read: Mapped[str | None] = mapped_column(Text)
