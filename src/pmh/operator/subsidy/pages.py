"""Pages of the subsidy: the institution's application form and the operator's list of applications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

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


def _form(request: Request, staff: StaffContext, session: SessionDep, error: str | None = None) -> Response:
    year = rules.latest_year()
    context = {
        "staff": staff,
        "application": service.own_application(session, staff.caller),
        "documents": service.DOCUMENTS,
        "options": rules.OPTION_LABELS,
        "period": rules.periods().get(year),
        "error": error,
    }
    return templates.TemplateResponse(request, "operator/subsidy_form.html", context)


@router.get("/subsidy/application", response_class=HTMLResponse)
def application_form(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Show the application form, or the application already made."""
    return _form(request, staff_in_role(staff, "institution"), session)


@router.post("/subsidy/application", response_class=HTMLResponse)
def apply(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    option: Annotated[int, Form(ge=1, le=3)],
    cost: Annotated[int, Form(ge=0, le=1_000_000_000)],
    completed_on: Annotated[dt.date, Form()],
    csrf_token: Annotated[str, Form()] = "",
    reception_machine: Annotated[bool, Form()] = False,
    documents: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """File the application; a refusal is shown on the form with its reason."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    try:
        service.apply(
            session,
            staff.caller,
            option,
            cost,
            completed_on,
            documents or [],
            applied_on=today,
            reception_machine=reception_machine,
        )
    except PmhError as exc:
        return _form(request, staff, session, exc.message)
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
