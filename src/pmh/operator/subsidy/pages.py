"""Pages of the subsidy: the institution's application form and the operator's list of applications."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh.codes.wareki import DateFormatError, parse_date
from pmh.deps import SessionDep
from pmh.errors import PmhError
from pmh.operator.clock import TodayDep
from pmh.operator.subsidy import rules, service
from pmh.web.session import StaffContext, StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False)

add_menu_item(
    "institution", "補助金の申請", "/subsidy/application", "レセコン改修の補助金を申請し、書類の提出状況を確認します。"
)
add_menu_item(
    "operator", "補助金の申請一覧", "/operator/subsidy", "医療機関・薬局からの補助金申請と書類の不足を確認します。"
)


@dataclass
class Entry:
    """What the clerk typed, kept as text so that a refused form shows it again unchanged."""

    option: str = "1"
    cost: str = ""
    completed_on: str = ""
    reception_machine: bool = False
    documents: list[str] = field(default_factory=list)


@dataclass
class Checked:
    """The entry read into values, or the problems per field (Japanese, shown beside each field)."""

    option: int = 1
    cost: int = 0
    completed_on: dt.date | None = None
    errors: dict[str, str] = field(default_factory=dict)


def _check(entry: Entry) -> Checked:
    checked = Checked()
    if entry.option in ("1", "2", "3"):
        checked.option = int(entry.option)
    else:
        checked.errors["option"] = "改修内容を①〜③から選んでください。"
    cost = unicodedata.normalize("NFKC", entry.cost).replace(",", "").replace("円", "").strip()
    if not cost:
        checked.errors["cost"] = "改修費用を入力してください。"
    elif not cost.isdigit() or int(cost) > 1_000_000_000:
        checked.errors["cost"] = "改修費用は0〜1,000,000,000円の整数（円）で入力してください。"
    else:
        checked.cost = int(cost)
    if not entry.completed_on.strip():
        checked.errors["completed_on"] = "改修完了日を入力してください。"
    else:
        try:
            checked.completed_on = parse_date(entry.completed_on)
        except DateFormatError:
            checked.errors["completed_on"] = "改修完了日は 2026-05-01 や 令和8年5月1日 の形で入力してください。"
    return checked


def _field_errors(exc: PmhError) -> dict[str, str]:
    """Place a refusal's messages beside its fields (the rest go above the form)."""
    placed = {e.field: e.message for e in exc.errors if e.field in ("option", "cost", "completed_on", "documents")}
    return placed or {"form": exc.message}


def _form(
    request: Request,
    staff: StaffContext,
    session: SessionDep,
    today: dt.date,
    entry: Entry | None = None,
    errors: dict[str, str] | None = None,
    quote: rules.Quote | None = None,
    notice: str | None = None,
) -> Response:
    context = {
        "staff": staff,
        "application": service.own_application(session, staff.caller),
        "documents": service.DOCUMENTS,
        "options": rules.OPTION_LABELS,
        "window": rules.window(today),
        "entry": entry or Entry(),
        "errors": errors or {},
        "quote": quote,
        "notice": notice,
    }
    status = 422 if errors else 200
    return templates.TemplateResponse(request, "operator/subsidy_form.html", context, status_code=status)


@router.get("/subsidy/application", response_class=HTMLResponse)
def application_form(request: Request, session: SessionDep, staff: StaffDep, today: TodayDep) -> Response:
    """Show the application form (with the period's state up front), or the application already made."""
    return _form(request, staff_in_role(staff, "institution"), session, today)


@router.post("/subsidy/application", response_class=HTMLResponse)
def apply(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    csrf_token: Annotated[str, Form()] = "",
    step: Annotated[str, Form()] = "quote",
    option: Annotated[str, Form(max_length=4)] = "",
    cost: Annotated[str, Form(max_length=40)] = "",
    completed_on: Annotated[str, Form(max_length=40)] = "",
    reception_machine: Annotated[bool, Form()] = False,
    documents: Annotated[list[str] | None, Form()] = None,
    quoted_amount: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Two steps: 試算する shows the amount; 申請する (only after a quote of the same entry) files the
    one application. Every refusal is shown beside its field with the entry kept."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    entry = Entry(option, cost, completed_on, reception_machine, documents or [])
    checked = _check(entry)
    if checked.completed_on and checked.completed_on > today:
        checked.errors["completed_on"] = "改修完了日が今日より後です。改修が完了してから申請してください。"
    if checked.errors:
        return _form(request, staff, session, today, entry, checked.errors)
    try:
        quote = service.quote_for(session, staff.caller, checked.option, checked.cost, today, reception_machine)
    except PmhError as exc:
        return _form(request, staff, session, today, entry, _field_errors(exc))
    if step != "apply":
        return _form(request, staff, session, today, entry, quote=quote)
    if quoted_amount != str(quote.amount):
        notice = "試算の後に入力が変わりました。試算額を確かめてから、もう一度「申請する」を押してください。"
        return _form(request, staff, session, today, entry, quote=quote, notice=notice)
    assert checked.completed_on is not None  # no errors: the date was read
    try:
        service.apply(
            session,
            staff.caller,
            checked.option,
            checked.cost,
            checked.completed_on,
            entry.documents,
            applied_on=today,
            reception_machine=reception_machine,
        )
    except PmhError as exc:
        return _form(request, staff, session, today, entry, _field_errors(exc), quote=quote)
    return RedirectResponse("/subsidy/application", status_code=303)


@router.post("/subsidy/application/documents")
def add_documents(
    session: SessionDep,
    staff: StaffDep,
    csrf_token: Annotated[str, Form()] = "",
    documents: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Add documents sent after the application."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    service.add_documents(session, staff.caller, documents or [])
    return RedirectResponse("/subsidy/application", status_code=303)


@router.get("/operator/subsidy", response_class=HTMLResponse)
def applications(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """List every application with its amount, rule and missing documents."""
    staff_in_role(staff, "operator")
    context = {"staff": staff, "applications": service.list_applications(session), "documents": service.DOCUMENTS}
    return templates.TemplateResponse(request, "operator/subsidy_list.html", context)
