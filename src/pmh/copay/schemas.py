"""Shapes of the self-pay ledger's API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from pmh.deps import DbId

Yen = Annotated[int, Field(ge=0, le=100_000_000)]
Ledger = Literal["all", "outpatient", "inpatient"]


class CopayQuoteCreate(BaseModel):
    """A visit to price: the reception that proves consent, the certificate, the day and the total cost."""

    reception_id: DbId
    payer_number: Annotated[str, Field(min_length=1, max_length=16)]
    recipient_number: Annotated[str, Field(min_length=1, max_length=30)]
    service_date: dt.date
    total_cost: Yen = Field(description="医療費の総額（10割、円）")
    inpatient: bool = Field(default=False, description="入院のとき true（入院の上限額が別にある受給者証で使います）")


class CopayEntryCreate(CopayQuoteCreate):
    """What the patient paid for that visit (自己負担額)."""

    copay_amount: Yen = Field(description="窓口で受け取った自己負担額（円）")


class CopayQuote(BaseModel):
    """The month's figures before charging, with what to charge for this visit."""

    month: str
    ledger: Ledger
    month_total: int
    cap: int
    remaining: int
    rate: int | None = Field(description="適用した負担割合（%）")
    suggested_copay: int | None


class CopayEntryRead(BaseModel):
    """A recorded (or cancelled) entry and the month's figures after it."""

    id: int
    month: str
    ledger: Ledger
    month_total: int
    cap: int
    remaining: int
    cancelled: bool = False


class CopaySheetLine(BaseModel):
    """One line of the sheet: date, institution, cost, paid and the running total."""

    id: int
    service_date: dt.date
    institution_code: str
    institution_name: str
    inpatient: bool
    total_cost: int
    copay_amount: int
    running_total: int | None = Field(description="取り消した行は null")
    cancelled: bool
    mine: bool = Field(description="この医療機関が記録した行か（取り消せるのは自分の行だけ）")


class CopaySheet(BaseModel):
    """The month's 上限額管理票 of one certificate, one ledger after another."""

    month: str
    program_name: str
    payer_number: str
    recipient_number: str
    ledger: Ledger
    cap: int
    month_total: int
    remaining: int
    lines: list[CopaySheetLine]
