"""Tables of the self-pay ledger: one row per certificate, month and ledger, and its entries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import Base, BigId, TimestampedBase, UTCDateTime


class CopayMonth(Base):
    """The month's sheet of one certificate: its running total, and the row every writer locks.

    ``ledger`` is ``all`` when the certificate has one monthly cap, or ``outpatient`` / ``inpatient``
    when it has an inpatient cap apart. Posting an entry locks this row first, so two institutions
    posting at once are put in line and can never pass the cap together.
    """

    __tablename__ = "copay_months"
    __table_args__ = (UniqueConstraint("certificate_id", "month", "ledger"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificates.id"))
    month: Mapped[str] = mapped_column(String(7))
    ledger: Mapped[str] = mapped_column(String(10))
    total: Mapped[int] = mapped_column(Integer, default=0)


class CopayEntry(TimestampedBase):
    """What a patient paid at one institution on one day under one certificate (one line of the sheet).

    A correction cancels the entry (``cancelled_at``) rather than deleting it, so the sheet keeps
    showing what was written and struck out, as on paper.
    """

    __tablename__ = "copay_entries"

    copay_month_id: Mapped[int] = mapped_column(BigId, ForeignKey("copay_months.id"), index=True)
    certificate_id: Mapped[int] = mapped_column(BigId, ForeignKey("certificates.id"))
    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    reception_id: Mapped[int] = mapped_column(BigId, ForeignKey("receptions.id"))
    service_date: Mapped[dt.date] = mapped_column(Date)
    inpatient: Mapped[bool] = mapped_column(Boolean, default=False)
    total_cost: Mapped[int] = mapped_column(Integer)
    copay_amount: Mapped[int] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(100))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
