"""Shapes of the subsidy area's HTTP edge."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

Document = Literal["receipt", "itemised_receipt", "checklist"]


class SubsidyApplicationCreate(BaseModel):
    """An institution's application; its facility kind and chain status come from its registration."""

    option: Literal[1, 2, 3] = Field(description="1 ① 受給者証情報, 2 ①＋マイナ診察券, 3 マイナ診察券のみ")
    cost: int = Field(ge=0, le=1_000_000_000, description="改修費用（円、税込）")
    completed_on: dt.date = Field(description="改修完了日（申請期間より前でも対象）")
    reception_machine: bool = Field(default=False, description="再来受付機等の改修を含む（病院の②③）")
    documents: list[Document] = Field(
        default_factory=list,
        max_length=3,
        description="提出書類: receipt 領収書, itemised_receipt 領収書内訳書, checklist チェックシート",
    )


class SubsidyDocuments(BaseModel):
    """Documents sent after the application."""

    documents: list[Document] = Field(min_length=1, max_length=3)


class SubsidyQuoteRead(BaseModel):
    """The amount with the rule that produced it."""

    amount: int
    cost_ceiling: int
    rate: str
    maximum: int
    cost: int
    facility: str
    option: int
    fiscal_year: int
    rule: str
    explanation: str


class SubsidyApplicationRead(BaseModel):
    """An application as stored."""

    id: int
    institution_code: str
    institution_name: str
    fiscal_year: int
    facility: str
    option: int
    cost: int
    reception_machine: bool
    large_chain: bool
    completed_on: dt.date
    applied_on: dt.date
    amount: int
    cost_ceiling: int
    rate: str
    maximum: int
    rule: str
    status: Literal["complete", "incomplete"]
    documents: list[str]
    missing_documents: list[str]
