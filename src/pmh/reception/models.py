"""The institution's patient registry (患者受付登録一覧), the other end of the マイナ診察券 link."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import BigId, TimestampedBase


class Patient(TimestampedBase):
    """A patient as the institution registered them, under its own patient number (患者番号).

    ``person_digest`` is set when a reception is linked to this patient; the next card tap of the
    same person at the same institution then links by itself.
    """

    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("institution_id", "patient_number"),
        Index("ix_patients_person", "institution_id", "person_digest"),
        Index("ix_patients_candidates", "institution_id", "birth_date"),
    )

    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    patient_number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    name_kana: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(SmallInteger)
    person_digest: Mapped[str | None] = mapped_column(String(64))
