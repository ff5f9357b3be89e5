"""Sign-in, sign-out and API-key pages for staff."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from pmh.auth import limits, service
from pmh.auth.deps import client_address
from pmh.auth.models import ApiKey
from pmh.auth.schemas import ORGANISATION_KIND_FOR_ROLE, ROLES, Role
from pmh.deps import SessionDep
from pmh.settings import get_settings
from pmh.web.session import SESSION_COOKIE, StaffDep, check_csrf, set_session_cookie
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False)

for _role in ("municipality", "institution", "operator"):
    add_menu_item(_role, "APIキー", "/keys", "システム連携用のAPIキーを発行・失効します。")


def _safe_next(target: str | None) -> str:
    """Return a same-site path to go to after sign-in (never an outside address)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    """Show the sign-in form (ID, password and TOTP code)."""
    return templates.TemplateResponse(request, "auth/login.html", {"staff": None, "next": _safe_next(next)})


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    login: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    totp: Annotated[str, Form(max_length=10)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    """Check both factors; on success set the session cookie and go on, otherwise show why."""
    settings = get_settings()
    targets = [limits.Target("sign_in_login", login), limits.Target("sign_in_client", client_address(request))]
    limits.refuse_if_limited(session, targets)
    outcome = service.sign_in(session, login, password, totp, absolute_hours=settings.session_absolute_hours)
    if outcome.staff_session is None or outcome.token is None:
        limits.note_failures(session, targets)
        context = {"staff": None, "error": outcome.refusal, "login": login, "next": _safe_next(next)}
        return templates.TemplateResponse(request, "auth/login.html", context, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, outcome.staff_session, outcome.token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, staff: StaffDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the session and return to the top page."""
    check_csrf(staff, csrf_token)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.sign_out(session, token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _roles_for(kind: str) -> list[Role]:
    return [r for r in ROLES if ORGANISATION_KIND_FOR_ROLE[r] == kind]


def _keys_page(request: Request, session: SessionDep, staff: StaffDep, issued: object = None) -> Response:
    keys = session.scalars(
        select(ApiKey).where(ApiKey.organisation_id == staff.caller.organisation_id).order_by(ApiKey.id.desc())
    ).all()
    context = {
        "staff": staff,
        "keys": keys,
        "issued": issued,
        "roles": _roles_for(staff.caller.organisation_kind),
    }
    return templates.TemplateResponse(request, "auth/keys.html", context)


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """List the organisation's API keys."""
    return _keys_page(request, session, staff)


@router.post("/keys", response_class=HTMLResponse)
def issue_key(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    role: Annotated[Role, Form()],
    csrf_token: Annotated[str, Form()] = "",
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Issue a key for the signed-in staff's own organisation and show it once."""
    check_csrf(staff, csrf_token)
    organisation = service.get_organisation(session, staff.caller.organisation_code)
    issued = service.create_api_key(session, organisation, role, label or None)
    return _keys_page(request, session, staff, issued)


@router.post("/keys/{prefix}/revoke")
def revoke_key(prefix: str, session: SessionDep, staff: StaffDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """Revoke one of the organisation's own keys."""
    check_csrf(staff, csrf_token)
    owned = session.scalar(
        select(ApiKey.id).where(ApiKey.prefix == prefix, ApiKey.organisation_id == staff.caller.organisation_id)
    )
    if owned is not None:
        service.revoke_api_key(session, prefix)
    return RedirectResponse("/keys", status_code=303)
