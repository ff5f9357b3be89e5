"""Operator pages of the contracts: the year's contracts and one page per prefecture with its annex."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh.codes.fiscal import format_fiscal_year
from pmh.codes.prefectures import UnknownPrefectureError, get_prefecture
from pmh.deps import SessionDep
from pmh.errors import NotFound, PmhError
from pmh.operator.contracts import service
from pmh.reference import catalogue
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/operator/contracts")

add_menu_item(
    "operator", "委託契約", "/operator/contracts", "都道府県ごとの委託契約（委任状・別紙）を作成・確認します。"
)
YearQuery = Annotated[int, Query(ge=2000, le=2100)]


def _label(code: str) -> str:
    try:
        return catalogue.municipality(code).name
    except KeyError:
        return code


def _program_label(code: str) -> str:
    try:
        return catalogue.program(code).name
    except KeyError:
        return code


@router.get("", response_class=HTMLResponse)
def contracts_page(
    request: Request, session: SessionDep, staff: StaffDep, fiscal_year: YearQuery = service.FIRST_CONTRACT_YEAR
) -> Response:
    """List every prefecture's contract for a year, with a button that builds the year's contracts."""
    staff_in_role(staff, "operator")
    context: dict[str, object] = {"staff": staff, "fiscal_year": fiscal_year, "contracts": [], "error": None}
    try:
        context["year_label"] = format_fiscal_year(fiscal_year)
        context["contracts"] = service.contracts_for(session, fiscal_year)
    except PmhError as exc:
        context["error"] = exc.message
    return templates.TemplateResponse(request, "operator/contracts.html", context)


@router.post("/build")
def build(
    session: SessionDep,
    staff: StaffDep,
    fiscal_year: Annotated[int, Form(ge=2000, le=2100)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Build the year's contracts and show the list again."""
    check_csrf(staff_in_role(staff, "operator"), csrf_token)
    service.build(session, staff.caller, fiscal_year)
    return RedirectResponse(f"/operator/contracts?fiscal_year={fiscal_year}", status_code=303)


@router.get("/{prefecture_code}", response_class=HTMLResponse)
def prefecture_page(
    request: Request,
    prefecture_code: str,
    session: SessionDep,
    staff: StaffDep,
    fiscal_year: YearQuery = service.FIRST_CONTRACT_YEAR,
) -> Response:
    """Show one prefecture's contract: its annex by body, the delegations and what waits for next year."""
    staff_in_role(staff, "operator")
    try:
        prefecture = get_prefecture(prefecture_code)
    except UnknownPrefectureError as exc:
        raise NotFound(str(exc)) from None
    contract = service.contract_of(session, fiscal_year, prefecture.code)
    by_body: dict[str, list[str]] = {}
    for body, program in contract.programs:
        by_body.setdefault(body, []).append(program)
    windows = service.contact_windows(session)
    context = {
        "staff": staff,
        "fiscal_year": fiscal_year,
        "year_label": format_fiscal_year(fiscal_year),
        "contract": contract,
        "by_body": by_body,
        "windows": windows,
        "label": _label,
        "program_label": _program_label,
    }
    return templates.TemplateResponse(request, "operator/contract.html", context)
