"""Operator page of the participation statistics: tables and the map, from the registry or from a list."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from pmh.codes.fiscal import fiscal_year as fiscal_year_of
from pmh.deps import ReportSessionDep
from pmh.operator.clock import TodayDep
from pmh.operator.stats import japan_map, service
from pmh.operator.stats.files import decode_list, map_title
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/operator/stats")

add_menu_item(
    "operator", "参加状況の統計と地図", "/operator/stats", "参加自治体数と都道府県別の参加率を集計し、地図で示します。"
)
YearQuery = Annotated[int | None, Query(ge=2000, le=2100)]


def _render(
    request: Request,
    staff: object,
    stats: service.ParticipationStats,
    source: str,
    year: int | None,
    planned_vs_live: dict[str, object] | None = None,
) -> Response:
    context = {
        "planned_vs_live": planned_vs_live,
        "staff": staff,
        "stats": stats,
        "source": source,
        "fiscal_year": year,
        "band_labels": service.BAND_LABELS,
        "map_svg": japan_map.render_svg(stats.by_prefecture(), map_title(stats.as_of_year)),
    }
    return templates.TemplateResponse(request, "operator/stats.html", context)


@router.get("", response_class=HTMLResponse)
def stats_page(
    request: Request, session: ReportSessionDep, staff: StaffDep, today: TodayDep, fiscal_year: YearQuery = None
) -> Response:
    """Show the statistics and the map from the programs registered in the hub, with planned vs live."""
    caller = staff_in_role(staff, "operator").caller
    counts = service.planned_vs_live(session, caller, fiscal_year or fiscal_year_of(today), today)
    return _render(request, staff, service.from_registry(session, fiscal_year), "registry", fiscal_year, counts)


@router.post("/list", response_class=HTMLResponse)
def stats_from_list(
    request: Request,
    staff: StaffDep,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
    fiscal_year: Annotated[str, Form(max_length=4)] = "",
) -> Response:
    """Match an uploaded participation list and show its statistics, unmatched names and map."""
    check_csrf(staff_in_role(staff, "operator"), csrf_token)
    year = int(fiscal_year) if fiscal_year.isdigit() and len(fiscal_year) == 4 else None
    stats = service.from_list(decode_list(file.file.read()), year)
    return _render(request, staff, stats, "list", stats.as_of_year)


@router.get("/map.{extension}")
def map_image(
    session: ReportSessionDep, staff: StaffDep, extension: Literal["svg", "png"], fiscal_year: YearQuery = None
) -> Response:
    """Return the registry's participation map as SVG or PNG."""
    staff_in_role(staff, "operator")
    stats = service.from_registry(session, fiscal_year)
    title = map_title(fiscal_year)
    if extension == "png":  # 「地図をPNGでダウンロード」: saved as a file, not opened in the tab
        name = f"participation-map-{fiscal_year}.png" if fiscal_year else "participation-map.png"
        return Response(
            japan_map.render_png(stats.by_prefecture(), title),
            media_type="image/png",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return Response(japan_map.render_svg(stats.by_prefecture(), title), media_type="image/svg+xml")
