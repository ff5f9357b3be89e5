"""HTTP edge of the participation statistics (operator only): from the registry, from a list, the map."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from pmh.auth.deps import requires
from pmh.auth.schemas import Caller
from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.deps import ReportSessionDep
from pmh.errors import FieldError, InvalidInput
from pmh.operator.clock import TodayDep
from pmh.operator.stats import japan_map, service
from pmh.operator.stats.files import decode_list, map_title

router = APIRouter(tags=["operator"])
Operator = Annotated[Caller, requires("operator")]
MAX_LIST_BYTES = 5 * 1024 * 1024


YearQuery = Annotated[int | None, Query(ge=2000, le=2100, description="この年度まで（西暦）。省略時はすべて")]


@router.get("/stats/participation", response_model=dict[str, Any], summary="参加状況の統計（登録から）")
def participation(
    caller: Operator, session: ReportSessionDep, today: TodayDep, fiscal_year: YearQuery = None
) -> dict[str, Any]:
    """Return participation counts per year, level and program and each prefecture's band, from the registry.

    ``planned_vs_live`` counts, for the fiscal year (default this one), the bodies whose intention
    is reported against those already live (onboarding readiness).
    """
    result = service.from_registry(session, fiscal_year).as_json()
    result["planned_vs_live"] = service.planned_vs_live(session, caller, fiscal_year or fiscal_year_of(today), today)
    return result


@router.post("/stats/participation/list", response_model=dict[str, Any], summary="参加状況の統計（参加自治体一覧から）")
def participation_from_list(
    caller: Operator,
    file: Annotated[UploadFile, File(description="CSV: prefecture,name[,programs][,fiscal_year]")],
    fiscal_year: Annotated[int | None, Form(ge=2000, le=2100, description="年度列のない行の年度")] = None,
) -> dict[str, Any]:
    """Match a participation list's names to codes (unmatched ones with candidates) and compute the statistics."""
    data = file.file.read(MAX_LIST_BYTES + 1)
    if len(data) > MAX_LIST_BYTES:
        raise InvalidInput("ファイルが大きすぎます（5MBまで）。", [FieldError("file", "too_large", "5MBまでです。")])
    return service.from_list(decode_list(data), fiscal_year).as_json()


@router.get(
    "/stats/participation/map",
    summary="都道府県別の参加状況の地図（SVG・PNG）",
    responses={200: {"content": {"image/svg+xml": {}, "image/png": {}}}},
    response_class=Response,
)
def participation_map(
    caller: Operator, session: ReportSessionDep, fiscal_year: YearQuery = None, format: Literal["svg", "png"] = "svg"
) -> Response:
    """Draw each prefecture's band on a map of Japan; prefectures that do not participate are hatched."""
    stats = service.from_registry(session, fiscal_year)
    title = map_title(fiscal_year)
    if format == "png":
        return Response(japan_map.render_png(stats.by_prefecture(), title), media_type="image/png")
    return Response(japan_map.render_svg(stats.by_prefecture(), title), media_type="image/svg+xml")
