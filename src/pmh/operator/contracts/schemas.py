"""Shapes of the contracts area's HTTP edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ContactWindowSet(BaseModel):
    """The municipality's one contact window (とりまとめ窓口) and its choice of payment."""

    department: str = Field(min_length=1, max_length=200, description="とりまとめ課")
    contact_name: str | None = Field(default=None, max_length=100, description="担当者")
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    payment: Literal["monthly", "annual"] = Field(default="annual", description="monthly 月払い / annual 年払い")


class ContactWindowRead(ContactWindowSet):
    """A contact window as stored."""

    municipality_code: str


class DelegationCreate(BaseModel):
    """A 委任状 for one fiscal year; ``programs`` is the annex (default: the programs the municipality runs)."""

    fiscal_year: int = Field(ge=2000, le=2100)
    programs: list[str] = Field(default_factory=list, max_length=30, description="委任状別紙: 委託する制度コード")


class DelegationRead(BaseModel):
    """A stored 委任状."""

    municipality_code: str
    prefecture_code: str
    fiscal_year: int
    programs: list[str]


class ContractBuild(BaseModel):
    """Build the year's contracts."""

    fiscal_year: int = Field(ge=2000, le=2100)
