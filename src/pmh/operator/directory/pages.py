"""Public pages of the directory: participating municipalities and connected institutions by prefecture."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from pmh.codes.prefectures import PREFECTURES
from pmh.deps import ReportSessionDep
from pmh.operator.directory import service
from pmh.web.templating import templates

router = APIRouter(include_in_schema=False, prefix="/directory")
PrefectureQuery = Annotated[str | None, Query(max_length=10)]


@router.get("", response_class=HTMLResponse)
def directory(request: Request, session: ReportSessionDep, prefecture: PrefectureQuery = None) -> Response:
    """Show the participating municipalities with their programs, and the connected institutions."""
    code = service.parse_prefecture(prefecture)
    context = {
        "staff": None,
        "prefectures": PREFECTURES,
        "prefecture": code,
        "municipalities": service.municipalities(session, code),
        "institutions": service.institutions(session, code) if code else [],
    }
    return templates.TemplateResponse(request, "operator/directory.html", context)
