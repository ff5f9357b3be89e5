"""The audit-log page: an organisation's staff read their own organisation's entries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from pmh.audit import service
from pmh.deps import SessionDep
from pmh.web.session import StaffDep
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 200

for _role in ("municipality", "institution", "operator"):
    add_menu_item(_role, "監査ログ", "/audit", "自組織による個人データの参照・更新の記録を確認します。")


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Show the newest audit entries of the signed-in staff's organisation."""
    entries = service.entries_for(session, staff.caller, limit=PAGE_SIZE)
    context = {"staff": staff, "entries": entries, "limit": PAGE_SIZE}
    return templates.TemplateResponse(request, "audit/entries.html", context)
