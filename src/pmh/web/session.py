"""Staff sessions for the web pages: cookie handling, the signed-in caller, CSRF checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from pmh.auth import service
from pmh.auth.models import StaffSession
from pmh.auth.schemas import ROLE_LABELS, Caller, Role
from pmh.deps import SessionDep
from pmh.errors import NotPermitted, PmhError
from pmh.settings import get_settings

SESSION_COOKIE = "pmh_session"


class LoginRequired(PmhError):
    """A page needs a signed-in member of staff; the browser is sent to the sign-in page."""

    status_code = 401
    code = "login_required"
    title = "ログインが必要です"


@dataclass(frozen=True)
class StaffContext:
    """The signed-in member of staff behind a page request."""

    caller: Caller
    csrf_token: str


def current_staff(request: Request, session: SessionDep) -> StaffContext:
    """Return the signed-in staff context, or send the browser to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise LoginRequired("ログインしてください。")
    try:
        caller, staff_session = service.resolve_staff_session(
            session, token, idle_minutes=get_settings().session_idle_minutes
        )
    except PmhError as exc:
        raise LoginRequired(exc.message) from exc
    return StaffContext(caller=caller, csrf_token=staff_session.csrf_token)


StaffDep = Annotated[StaffContext, Depends(current_staff)]


def staff_in_role(staff: StaffContext, role: Role) -> StaffContext:
    """Return the signed-in staff, or refuse a page meant for another kind of organisation."""
    if staff.caller.role != role:
        raise NotPermitted(f"このページは{ROLE_LABELS[role]}の職員のみが使えます。")
    return staff


def check_csrf(staff: StaffContext, submitted: str | None) -> None:
    """Refuse a form post whose CSRF token does not match the session's."""
    if not submitted or not secrets.compare_digest(submitted, staff.csrf_token):
        raise NotPermitted("画面の有効期限が切れました。ページを再読み込みしてからやり直してください。")


def set_session_cookie(response: Response, staff_session: StaffSession, token: str) -> None:
    """Set the session cookie: HTTP-only, same-site, secure when the site is served over HTTPS."""
    settings = get_settings()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        max_age=settings.session_absolute_hours * 3600,
    )
