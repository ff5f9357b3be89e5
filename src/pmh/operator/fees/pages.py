"""Operator pages of the fees: the year's fees with the invoice CSV, a printable invoice, the prices."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.codes.fiscal import format_fiscal_year
from pmh.deps import ReportSessionDep, SessionDep
from pmh.errors import PmhError
from pmh.operator.clock import TodayDep
from pmh.operator.edges import csv_response
from pmh.operator.fees import service
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/operator/fees")

add_menu_item(
    "operator",
    "運営負担金・新規導入費用",
    "/operator/fees",
    "年度ごとの単価を設定し、自治体ごとの負担金を算定・請求します。",
)


def _year(fiscal_year: int | None, today: dt.date) -> int:
    """Return the year asked for, else the next fiscal year (the one being priced), FY2027 at the earliest."""
    return fiscal_year or max(service.FIRST_FEE_YEAR, fiscal_year_of(today) + 1)


@router.get("", response_class=HTMLResponse)
def fees_page(
    request: Request,
    session: ReportSessionDep,
    staff: StaffDep,
    today: TodayDep,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    price: str | None = None,
    message: str | None = None,
) -> Response:
    """Show the year's prices and, when a price is set, every municipality's fees."""
    staff_in_role(staff, "operator")
    year = _year(fiscal_year, today)
    context: dict[str, object] = {
        "staff": staff,
        "fiscal_year": year,
        "year_label": format_fiscal_year(year),
        "prices": service.prices(session, year),
        "version_labels": service.VERSION_LABELS,
        "payment_labels": service.PAYMENT_LABELS,
        "yen_text": service.yen_text,
        "price": price or "",
        "message": message,
        "report": None,
        "error": None,
    }
    try:
        chosen = price if price in service.PRICE_VERSIONS else None
        context["report"] = service.compute(session, year, chosen)
    except PmhError as exc:
        context["error"] = exc.message
    return templates.TemplateResponse(request, "operator/fees.html", context)


@router.post("/prices")
def set_price(
    session: SessionDep,
    staff: StaffDep,
    fiscal_year: Annotated[int, Form(ge=2000, le=2100)],
    version: Annotated[service.PriceVersion, Form()],
    unit_price: Annotated[str, Form(max_length=12)],
    csrf_token: Annotated[str, Form()] = "",
    introduction_total: Annotated[str, Form(max_length=15)] = "",
    introducing_municipalities: Annotated[str, Form(max_length=7)] = "",
) -> Response:
    """Set a price from the form and show the year again."""
    check_csrf(staff_in_role(staff, "operator"), csrf_token)
    total = int(introduction_total) if introduction_total.strip().isdigit() else None
    introducing = int(introducing_municipalities) if introducing_municipalities.strip().isdigit() else None
    service.set_price(
        session,
        staff.caller,
        fiscal_year,
        version,
        service.parse_unit_price(unit_price),
        total,
        introducing,
    )
    return RedirectResponse(f"/operator/fees?fiscal_year={fiscal_year}&price={version}", status_code=303)


@router.get("/invoices.csv")
def invoices_csv(session: ReportSessionDep, staff: StaffDep, fiscal_year: int, price: str | None = None) -> Response:
    """Download every municipality's invoice line as CSV."""
    staff_in_role(staff, "operator")
    chosen = price if price in service.PRICE_VERSIONS else None
    report = service.compute(session, fiscal_year, chosen)
    return csv_response(service.invoice_csv(report), f"fees-{fiscal_year}-{report.price_version}.csv")


@router.get("/{municipality_code}/invoice", response_class=HTMLResponse)
def invoice(
    request: Request,
    municipality_code: str,
    session: ReportSessionDep,
    staff: StaffDep,
    fiscal_year: int,
    price: str | None = None,
) -> Response:
    """Show one municipality's printable invoice (請求書)."""
    staff_in_role(staff, "operator")
    chosen = price if price in service.PRICE_VERSIONS else None
    report = service.compute(session, fiscal_year, chosen)
    line = service.municipality_fee(report, municipality_code)
    context = {
        "staff": staff,
        "report": report,
        "line": line,
        "year_label": format_fiscal_year(fiscal_year),
        "yen_text": service.yen_text,
        "payment_labels": service.PAYMENT_LABELS,
    }
    return templates.TemplateResponse(request, "operator/invoice.html", context)
