"""The public top page, each role's start page, and the API documentation page."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pmh.deps import SessionDep
from pmh.web.session import SESSION_COOKIE, current_staff
from pmh.web.templating import menu_for, templates

router = APIRouter(include_in_schema=False)

START_HEADINGS = {
    "municipality": "自治体メニュー",
    "institution": "医療機関・薬局メニュー",
    "operator": "運営主体メニュー",
}


@router.get("/", response_class=HTMLResponse)
def index(request: Request, session: SessionDep) -> Response:
    """Show the role's start page to signed-in staff, and the public top page to everyone else."""
    if request.cookies.get(SESSION_COOKIE):
        try:
            staff = current_staff(request, session)
        except Exception:  # an expired cookie simply shows the public page
            staff = None
        if staff is not None:
            role = staff.caller.role
            context = {
                "staff": staff,
                "heading": START_HEADINGS.get(role, "メニュー"),
                "menu": menu_for(role),
            }
            return templates.TemplateResponse(request, "web/start.html", context)
    return templates.TemplateResponse(request, "web/index.html", {"staff": None})


SWAGGER_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI 5 (swagger-ui-bundle.js, swagger-ui.css), shipped in the fastapi-offline wheel (MIT)."""


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """Show the OpenAPI documentation with Swagger UI served by the hub itself.

    Municipal (LGWAN) and medical (IP-VPN) networks reach no CDN, so nothing on this page comes
    from outside the hub; it is started by a static script, not an inline one.
    """
    return templates.TemplateResponse(request, "web/apidocs.html", {"staff": None})
