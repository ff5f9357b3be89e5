"""Tables of the operator area: fee prices, contact windows, delegations, contracts, subsidy applications."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmh.db import BigId, TimestampedBase


class FeePrice(TimestampedBase):
    """A fiscal year's fee price in one version: 概算 (``estimate``, around August) or 確定 (``final``, December).

    ``unit_price_sen`` is the monthly price per registered count in 銭 (1/100 yen) so that prices such
    as ¥4.41 stay exact; ``introduction_total`` is the year's total introduction cost (新規導入費用の総額)
    and ``introducing_municipalities`` the number it is divided among (from the autumn survey); when
    that number is not set, the municipalities that introduce a program in the year are counted.
    """

    __tablename__ = "fee_prices"
    __table_args__ = (UniqueConstraint("fiscal_year", "version"),)

    fiscal_year: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(8))
    unit_price_sen: Mapped[int] = mapped_column(Integer)
    introduction_total: Mapped[int | None] = mapped_column(BigInteger)
    introducing_municipalities: Mapped[int | None] = mapped_column(Integer)
    set_by: Mapped[str] = mapped_column(String(100))


class ContactWindow(TimestampedBase):
    """A municipality's one contact window (とりまとめ窓口) for all its programs, and how it pays.

    ``payment`` is ``monthly`` (月払い) or ``annual`` (年払い), chosen by the municipality.
    """

    __tablename__ = "contact_windows"

    municipality_code: Mapped[str] = mapped_column(String(6), unique=True)
    department: Mapped[str] = mapped_column(String(200))
    contact_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    payment: Mapped[str] = mapped_column(String(8), default="annual")


class Delegation(TimestampedBase):
    """A municipality's 委任状 to its prefecture for one fiscal year; ``programs`` is the annex (委任状別紙),
    program codes separated by ``;``."""

    __tablename__ = "delegations"
    __table_args__ = (UniqueConstraint("municipality_code", "fiscal_year"),)

    municipality_code: Mapped[str] = mapped_column(String(6))
    prefecture_code: Mapped[str] = mapped_column(String(2), index=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    programs: Mapped[str] = mapped_column(Text)


class Contract(TimestampedBase):
    """The one contract (委託契約) a prefecture signs with the operator for a fiscal year.

    ``annex`` (契約書別紙) is a JSON list of ``{municipality_code, program_code}``, the prefecture's own
    programs and every delegating municipality's; ``delegations`` a JSON list of municipality codes.
    Built once per year: what is added later goes into the next year's contract.
    """

    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("prefecture_code", "fiscal_year"),)

    prefecture_code: Mapped[str] = mapped_column(String(2))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    annex: Mapped[str] = mapped_column(Text)
    delegations: Mapped[str] = mapped_column(Text)
    built_by: Mapped[str] = mapped_column(String(100))


class SubsidyApplication(TimestampedBase):
    """An institution's application for the modification subsidy (補助金申請); one per institution.

    The amount, ceiling, rate and rule are kept as computed when the application was made.
    ``documents`` lists the submitted documents (``;``-separated); ``status`` is ``complete`` or
    ``incomplete`` (a document is missing: not refused, it can be sent later).
    """

    __tablename__ = "subsidy_applications"

    institution_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), unique=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    facility: Mapped[str] = mapped_column(String(16))
    option: Mapped[int] = mapped_column(SmallInteger)
    cost: Mapped[int] = mapped_column(Integer)
    reception_machine: Mapped[bool] = mapped_column(Boolean, default=False)
    large_chain: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_on: Mapped[dt.date] = mapped_column(Date)
    applied_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(Integer)
    cost_ceiling: Mapped[int] = mapped_column(Integer)
    rate: Mapped[str] = mapped_column(String(8))
    maximum: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(300))
    documents: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
