"""Shapes of what comes into the onboarding API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from pmh.onboarding.rules import PiaEvaluation, PiaTemplate, Status


class StepUpdate(BaseModel):
    """A municipality's report of one step (status, date, note; for the PIA its template and evaluation)."""

    fiscal_year: Annotated[int | None, Field(ge=2000, le=2100, description="年度（西暦）。省略時は今日の年度")] = None
    status: Status
    date: dt.date | None = Field(default=None, description="完了日（完了のとき必須）")
    note: Annotated[str | None, Field(max_length=1000)] = None
    pia_template: PiaTemplate | None = Field(
        default=None, description="digital_agency（デジ庁ひな形）/ revised（修正ひな形）"
    )
    pia_evaluation: PiaEvaluation | None = Field(
        default=None, description="basic（基礎項目）/ priority（重点項目）/ full（全項目）"
    )


DeadlineStep = Literal["intent", "budget", "pia", "ordinance", "contract"]


class DeadlineUpdate(BaseModel):
    """A step's deadline for a fiscal year (operator only)."""

    due_on: dt.date
    opens_on: dt.date | None = None
    label: Annotated[str, Field(min_length=1, max_length=200)]
