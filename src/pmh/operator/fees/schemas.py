"""Shapes of the fees area's HTTP edge."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class FeePriceSet(BaseModel):
    """Set one version of a fiscal year's price (概算 or 確定)."""

    fiscal_year: int = Field(ge=2000, le=2100, description="年度（西暦）")
    version: Literal["estimate", "final"] = Field(description="estimate 概算 / final 確定")
    unit_price: str = Field(
        pattern=r"^\d{1,6}(\.\d{1,2})?$", description="登録対象者1人当たり月額単価（円、小数点以下2桁まで）"
    )
    introduction_total: int | None = Field(default=None, ge=0, le=10**12, description="新規導入費用の総額（円）")
    introducing_municipalities: int | None = Field(
        default=None, ge=0, le=100_000, description="新規導入費用を分担する自治体数（省略時は登録から数える）"
    )


class FeePriceRead(BaseModel):
    """A fiscal year's price in one version."""

    fiscal_year: int
    version: str
    unit_price: str
    introduction_total: int | None
    introducing_municipalities: int | None
