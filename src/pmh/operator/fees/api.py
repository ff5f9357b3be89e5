"""HTTP edge of the fees: compute the year's fees (JSON or invoice CSV) and set prices (operator only)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.deps import ReportSessionDep, SessionDep
from pmh.operator.edges import FiscalYearQuery, csv_response
from pmh.operator.fees import service
from pmh.operator.fees.schemas import FeePriceRead, FeePriceSet

router = APIRouter(tags=["operator"])
Operator = Annotated[Caller, requires("operator")]


@router.get(
    "/fees",
    summary="運営負担金・新規導入費用の算定",
    response_model=dict[str, Any],
    responses={200: {"content": {"text/csv": {}}}},
)
def compute_fees(
    caller: Operator,
    session: ReportSessionDep,
    fiscal_year: FiscalYearQuery,
    price: Annotated[
        Literal["estimate", "final"] | None, Query(description="単価の区分（省略時は確定、なければ概算）")
    ] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Return each municipality's registered count, monthly and annual fee and introduction fee."""
    report = service.compute(session, fiscal_year, price)
    if format == "csv":
        return csv_response(service.invoice_csv(report), f"fees-{fiscal_year}-{report.price_version}.csv")
    return report.as_json()


@router.put("/fees/prices", response_model=FeePriceRead, summary="単価（概算・確定）の設定")
def set_price(body: FeePriceSet, caller: Operator, session: SessionDep) -> FeePriceRead:
    """Set one version of a fiscal year's unit price and introduction-cost pool; the other version is kept."""
    price = service.set_price(
        session,
        caller,
        body.fiscal_year,
        body.version,
        service.parse_unit_price(body.unit_price),
        body.introduction_total,
        body.introducing_municipalities,
    )
    return FeePriceRead(
        fiscal_year=price.fiscal_year,
        version=price.version,
        unit_price=service.yen_text(price.unit_price_sen),
        introduction_total=price.introduction_total,
        introducing_municipalities=price.introducing_municipalities,
    )
