"""Pages of the onboarding readiness: the dashboard by prefecture and a municipality's own steps."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.codes.fiscal import format_fiscal_year
from pmh.codes.prefectures import prefecture_name
from pmh.deps import SessionDep
from pmh.errors import InvalidInput, NotPermitted, PmhError
from pmh.onboarding import rules, service
from pmh.operator.clock import TodayDep
from pmh.operator.edges import csv_response
from pmh.reference import catalogue
from pmh.web.session import StaffContext, StaffDep, check_csrf
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/onboarding")

add_menu_item(
    "operator",
    "準備状況",
    "/onboarding",
    "都道府県別の準備状況（意向・PIA・条例・契約・接続試験・本番）と期限を確認します。",
)
add_menu_item(
    "municipality", "準備状況の報告", "/onboarding/mine", "制度ごとの準備状況（意向・予算・PIA・条例）を報告します。"
)
add_menu_item("municipality", "管内の準備状況", "/onboarding", "準備状況と期限切れ・期限間近の手順を確認します。")

YearQuery = Annotated[int | None, Query(ge=2000, le=2100)]
PrefectureQuery = Annotated[str | None, Query(pattern=r"^(\d{2})?$")]


def _reader(staff: StaffContext) -> StaffContext:
    if staff.caller.role not in ("municipality", "operator"):
        raise NotPermitted("このページは自治体・運営主体の職員のみが使えます。")
    return staff


def _labels() -> dict[str, object]:
    return {
        "steps": rules.STEPS,
        "reported_steps": rules.REPORTED_STEPS,
        "statuses": rules.STATUSES,
        "step_labels": rules.STEP_LABELS,
        "status_labels": rules.STATUS_LABELS,
        "pia_templates": rules.PIA_TEMPLATES,
        "pia_evaluations": rules.PIA_EVALUATIONS,
        "suggestion_labels": rules.SUGGESTION_LABELS,
        "prefecture_name": prefecture_name,
    }


@router.get("", response_class=HTMLResponse)
def dashboard(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    fiscal_year: YearQuery = None,
    prefecture: PrefectureQuery = None,
) -> Response:
    """Show the counts per step, each prefecture's progress and what is late or due within 30 days."""
    caller = _reader(staff).caller
    year = fiscal_year or fiscal_year_of(today)
    view = service.overview(session, caller, year, today, prefecture or None)
    context: dict[str, object] = {
        "staff": staff,
        "fiscal_year": year,
        "year_label": format_fiscal_year(year),
        "today": today,
        "prefecture": prefecture or "",
        "prefectures": catalogue.prefectures() if caller.role == "operator" else (),
        "view": view,
        "counts": view.counts(),
        "by_prefecture": view.by_prefecture(),
        "due": view.due(),
        **_labels(),
    }
    return templates.TemplateResponse(request, "onboarding/dashboard.html", context)


@router.get("/export.csv")
def export(
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    fiscal_year: YearQuery = None,
    prefecture: PrefectureQuery = None,
) -> Response:
    """Download the readiness the member of staff may see as CSV."""
    caller = _reader(staff).caller
    year = fiscal_year or fiscal_year_of(today)
    view = service.overview(session, caller, year, today, prefecture or None)
    return csv_response(service.export_csv(session, caller, view), f"onboarding-{year}.csv")


@router.get("/mine", response_class=HTMLResponse)
def mine(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    fiscal_year: YearQuery = None,
    error: str | None = None,
    saved: str | None = None,
) -> Response:
    """Show the municipality's own programs with a form for each step it reports."""
    caller = _reader(staff).caller
    if caller.role != "municipality":
        raise NotPermitted("このページは自治体の職員のみが使えます。")
    year = fiscal_year or fiscal_year_of(today)
    view = service.overview(session, caller, year, today, municipality=caller.organisation_code)
    body = catalogue.municipality(caller.organisation_code)
    runnable = [p for p in catalogue.programs() if catalogue.implementing_body_refusal(p, body) is None]
    context: dict[str, object] = {
        "staff": staff,
        "fiscal_year": year,
        "year_label": format_fiscal_year(year),
        "today": today,
        "rows": view.rows,
        "programs": runnable,
        "error": error,
        "saved": saved,
        **_labels(),
    }
    return templates.TemplateResponse(request, "onboarding/mine.html", context)


@router.post("/mine/intent", response_model=None)
def report_intent(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    program_code: Annotated[str, Form(max_length=32)],
    fiscal_year: Annotated[int, Form(ge=2000, le=2100)],
    status: Annotated[str, Form(max_length=16)],
    csrf_token: Annotated[str, Form()] = "",
    date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Report the intention for a program not yet listed (the form at the foot of the page)."""
    return report_step(request, session, staff, today, program_code, "intent", fiscal_year, status, csrf_token, date)


@router.post("/mine/{program_code}/{step}", response_model=None)
def report_step(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    today: TodayDep,
    program_code: str,
    step: str,
    fiscal_year: Annotated[int, Form(ge=2000, le=2100)],
    status: Annotated[str, Form(max_length=16)],
    csrf_token: Annotated[str, Form()] = "",
    date: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
    pia_template: Annotated[str, Form(max_length=16)] = "",
    pia_evaluation: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Record one step of the municipality's own program and show the page again (errors in Japanese).

    Every check runs before anything is written, so a refused report leaves nothing behind.
    """
    caller = _reader(staff).caller
    check_csrf(staff, csrf_token)
    target = f"/onboarding/mine?fiscal_year={fiscal_year}"
    try:
        done_on = _parse_date(date)
        report = service.StepReport(status, done_on, note or None, pia_template or None, pia_evaluation or None)
        service.set_step(session, caller, fiscal_year, caller.organisation_code, program_code, step, report)
    except PmhError as exc:
        detail = "; ".join(e.message for e in exc.errors) or exc.message
        return _mine_with_error(request, session, staff, today, fiscal_year, detail)
    return RedirectResponse(f"{target}&saved={program_code}:{step}#{program_code}", status_code=303)


def _mine_with_error(
    request: Request, session: SessionDep, staff: StaffContext, today: dt.date, year: int, error: str
) -> Response:
    response = mine(request, session, staff, today, year, error=error)
    response.status_code = 422
    return response


def _parse_date(text: str) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"日付「{text}」はYYYY-MM-DDで入力してください。") from None
