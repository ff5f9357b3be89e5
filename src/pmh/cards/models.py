"""The simulated national eligibility service's insurance records (保険資格), keyed by My Number digest."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import TimestampedBase


class InsuranceRecord(TimestampedBase):
    """One person's health-insurance record as the national eligibility service holds it.

    Found by ``person_digest`` (keyed hash of the 個人番号); the linking guard compares a
    certificate's name and birth date with it.
    """

    __tablename__ = "insurance_records"

    person_digest: Mapped[str] = mapped_column(String(64), unique=True)
    insurer_number: Mapped[str] = mapped_column(String(8))
    symbol: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(40))
    branch: Mapped[str | None] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(SmallInteger)
    copay_rate: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
