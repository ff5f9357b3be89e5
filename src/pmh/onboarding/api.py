"""HTTP edge of the onboarding readiness: list (scoped), report a step, export CSV, deadlines."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.deps import SessionDep
from pmh.onboarding import service
from pmh.onboarding.schemas import DeadlineStep, DeadlineUpdate, StepUpdate
from pmh.operator.clock import TodayDep
from pmh.operator.edges import csv_response

router = APIRouter(tags=["onboarding"])
Reader = Annotated[Caller, requires("municipality", "operator")]
Operator = Annotated[Caller, requires("operator")]
YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="年度（西暦）。省略時は今日の年度")]
PrefectureQuery = Annotated[str | None, Query(pattern=r"^\d{2}$", description="都道府県コード（2桁）")]


@router.get(
    "/onboarding",
    response_model=dict[str, Any],
    summary="準備状況の一覧（自治体は自らの分、都道府県は管内、運営主体は全国）",
)
def list_readiness(
    caller: Reader,
    session: SessionDep,
    today: TodayDep,
    fiscal_year: YearQuery = None,
    prefecture: PrefectureQuery = None,
) -> dict[str, Any]:
    """Return each program's steps, the counts per step, and what is late or due within 30 days."""
    fy = fiscal_year or fiscal_year_of(today)
    return service.overview(session, caller, fy, today, prefecture).as_json()


@router.get(
    "/onboarding/export",
    summary="準備状況のCSV（BOM付きUTF-8）",
    responses={200: {"content": {"text/csv": {}}}},
)
def export_readiness(
    caller: Reader,
    session: SessionDep,
    today: TodayDep,
    fiscal_year: YearQuery = None,
    prefecture: PrefectureQuery = None,
) -> Any:
    """Return the readiness the caller may see as CSV (Excel-ready, formula-safe)."""
    fy = fiscal_year or fiscal_year_of(today)
    view = service.overview(session, caller, fy, today, prefecture)
    return csv_response(service.export_csv(session, caller, view), f"onboarding-{fy}.csv")


@router.get("/onboarding/deadlines", response_model=list[dict[str, Any]], summary="年度の期限")
def list_deadlines(
    caller: Reader, session: SessionDep, today: TodayDep, fiscal_year: YearQuery = None
) -> list[dict[str, Any]]:
    """Return the deadlines of a fiscal year."""
    fy = fiscal_year or fiscal_year_of(today)
    return [service.deadline_json(d) for d in service.deadlines(session, fy)]


@router.put(
    "/onboarding/deadlines/{fiscal_year}/{step}", response_model=dict[str, Any], summary="期限の設定（運営主体）"
)
def put_deadline(
    caller: Operator,
    session: SessionDep,
    fiscal_year: Annotated[int, Path(ge=2000, le=2100, description="年度（西暦）")],
    step: DeadlineStep,
    data: DeadlineUpdate,
) -> dict[str, Any]:
    """Set (or move) one step's deadline for a fiscal year."""
    row = service.set_deadline(session, caller, fiscal_year, step, data.due_on, data.label, data.opens_on)
    return service.deadline_json(row)


@router.get(
    "/onboarding/{municipality_code}/{program_code}",
    response_model=dict[str, Any],
    summary="1制度の準備状況",
)
def get_readiness(
    caller: Reader,
    session: SessionDep,
    today: TodayDep,
    municipality_code: str,
    program_code: str,
    fiscal_year: YearQuery = None,
) -> dict[str, Any]:
    """Return one program's steps and PIA help."""
    fy = fiscal_year or fiscal_year_of(today)
    return service.readiness_of(session, caller, fy, today, municipality_code, program_code).as_json()


@router.put(
    "/onboarding/{municipality_code}/{program_code}/{step}",
    response_model=dict[str, Any],
    summary="手順の報告（自治体は自らの分のみ。契約・接続試験・本番はPMHが判定）",
)
def put_step(
    caller: Reader,
    session: SessionDep,
    today: TodayDep,
    municipality_code: str,
    program_code: str,
    step: str,
    data: StepUpdate,
) -> dict[str, Any]:
    """Record a step's status, date and note; derived steps are refused (422 ``derived_step``)."""
    fy = data.fiscal_year or fiscal_year_of(today)
    report = service.StepReport(data.status, data.date, data.note, data.pia_template, data.pia_evaluation)
    service.set_step(session, caller, fy, municipality_code, program_code, step, report)
    return service.readiness_of(session, caller, fy, today, municipality_code, program_code).as_json()
