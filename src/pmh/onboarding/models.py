"""Tables of the onboarding area: the steps a municipality reports, and the deadlines of each fiscal year."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import TimestampedBase


class OnboardingStep(TimestampedBase):
    """One reported step (準備状況) of a municipality's program in the fiscal year of the schedule.

    Only the steps a municipality reports are stored (``intent``, ``budget``, ``pia``, ``ordinance``);
    the others are derived from what the hub observes and never stored. ``pia_template``
    (``digital_agency`` デジ庁ひな形 / ``revised`` 修正ひな形) and ``pia_evaluation`` (``basic`` 基礎項目 /
    ``priority`` 重点項目 / ``full`` 全項目) belong to the ``pia`` step.
    """

    __tablename__ = "onboarding_steps"
    __table_args__ = (UniqueConstraint("fiscal_year", "municipality_code", "program_code", "step"),)

    fiscal_year: Mapped[int] = mapped_column(Integer)
    municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    program_code: Mapped[str] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    done_on: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    pia_template: Mapped[str | None] = mapped_column(String(16))
    pia_evaluation: Mapped[str | None] = mapped_column(String(16))
    updated_by: Mapped[str] = mapped_column(String(100))


class OnboardingDeadline(TimestampedBase):
    """The date by which a step must be done in a fiscal year (期限), from the ministry's schedule.

    ``opens_on`` is when the work can start (e.g. the 修正ひな形 is published); ``source`` names the
    schedule it comes from.
    """

    __tablename__ = "onboarding_deadlines"
    __table_args__ = (UniqueConstraint("fiscal_year", "step"),)

    fiscal_year: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(16))
    opens_on: Mapped[dt.date | None] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(300))
    set_by: Mapped[str] = mapped_column(String(100))
