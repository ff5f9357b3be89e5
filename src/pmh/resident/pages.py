"""The resident's own pages at ``/me`` (phone first, plain Japanese) and each municipality's printable leaflet.

The pages run on their own cookie (``pmh_resident``, path ``/me``), which holds a resident session's
token: a staff sign-in is never good here, and this cookie is good nowhere else.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh import clock
from pmh.cards.service import CardRefused
from pmh.deps import SessionDep
from pmh.errors import InvalidInput, NotAuthenticated, NotPermitted
from pmh.operator.clock import TodayDep
from pmh.resident import service
from pmh.resident.schemas import MONTH_PATTERN, ResidentSessionCreate
from pmh.resident.service import Resident
from pmh.settings import get_settings
from pmh.web.session import StaffDep, staff_in_role
from pmh.web.templating import add_menu_item, environment, templates

router = APIRouter(include_in_schema=False)
COOKIE = "pmh_resident"
COOKIE_PATH = "/me"
STATUS_LABELS = {"valid": "有効", "expired": "期限切れ", "not_yet_valid": "これから有効", "under_review": "確認中"}
CONSENT_LABELS = {"all": "すべて提供", "select": "一部を提供", "none": "提供しない"}

add_menu_item(
    "municipality",
    "住民向け周知リーフレット",
    "/leaflet",
    "マイナンバーカードで使える制度・開始日・使える医療機関・問い合わせ先をA4で印刷できます。",
)


def _japanese_date(value: dt.date | dt.datetime | None) -> str:
    """Return 2026年12月2日 (and the time in Japan for a timestamp)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        local = value.astimezone(clock.JST)
        return f"{local.year}年{local.month}月{local.day}日 {local.hour}:{local.minute:02d}"
    return f"{value.year}年{value.month}月{value.day}日"


def _yen(value: int | None) -> str:
    return "" if value is None else f"{value:,}円"


def _japanese_month(month: str) -> str:
    year, number = month.split("-")
    return f"{int(year)}年{int(number)}月"


environment.filters["resident_date"] = _japanese_date
environment.filters["resident_yen"] = _yen
environment.filters["resident_month"] = _japanese_month


def _signed_in(request: Request, session: SessionDep) -> Resident | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return service.resolve(session, token)
    except NotAuthenticated:
        return None


def _to_sign_in() -> Response:
    response = RedirectResponse("/me", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def _check_csrf(resident: Resident, submitted: str) -> None:
    if not submitted or not secrets.compare_digest(submitted, resident.csrf_token):
        raise NotPermitted("画面の有効期限が切れました。ページを読み込み直してからやり直してください。")


def _page(request: Request, name: str, resident: Resident | None, status: int = 200, **context: object) -> Response:
    context |= {"resident": resident, "status_labels": STATUS_LABELS, "consent_labels": CONSENT_LABELS}
    return templates.TemplateResponse(request, f"resident/{name}.html", context, status_code=status)


@router.get("/me", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, today: TodayDep) -> Response:
    """Show the sign-in form, or the signed-in resident's certificates."""
    resident = _signed_in(request, session)
    if resident is None:
        return _page(request, "sign_in", None)
    return _page(request, "certificates", resident, certificates=service.certificates(session, resident, today))


@router.post("/me/login", response_class=HTMLResponse)
def sign_in(
    request: Request,
    session: SessionDep,
    card_serial: Annotated[str, Form(max_length=32)] = "",
    pin: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Check the card and PIN; on success set the resident cookie and open the certificates."""
    if not card_serial.strip() or not pin.strip():
        error = "カードの番号と暗証番号（数字4桁）を入力してください。"
        return _page(request, "sign_in", None, 422, error=error, card_serial=card_serial)
    try:
        opened = service.open_session(session, ResidentSessionCreate(card_serial=card_serial, pin=pin))
    except CardRefused as exc:
        # Rendered, not raised: the wrong-PIN count this request made must commit with it.
        return _page(request, "sign_in", None, 401, error=exc.message, card_serial=card_serial)
    response = RedirectResponse("/me", status_code=303)
    response.set_cookie(
        COOKIE,
        opened.token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookie_secure,
        max_age=get_settings().resident_session_minutes * 60,
    )
    return response


@router.post("/me/logout")
def sign_out(request: Request, session: SessionDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the resident's session and forget the cookie."""
    resident = _signed_in(request, session)
    if resident is not None:
        _check_csrf(resident, csrf_token)
        service.end_session(session, resident)
    return _to_sign_in()


@router.get("/me/access-log", response_class=HTMLResponse)
def access_log(
    request: Request,
    session: SessionDep,
    since: Annotated[str, Query(alias="from", max_length=10)] = "",
    until: Annotated[str, Query(alias="to", max_length=10)] = "",
) -> Response:
    """Show who touched the resident's data and when, optionally between two days."""
    resident = _signed_in(request, session)
    if resident is None:
        return _to_sign_in()
    try:
        first = dt.date.fromisoformat(since) if since else None
        last = dt.date.fromisoformat(until) if until else None
        entries = service.access_log(session, resident, first, last)
    except (ValueError, InvalidInput) as exc:
        message = exc.message if isinstance(exc, InvalidInput) else "日付は 2026-12-01 の形で入力してください。"
        return _page(request, "access_log", resident, 422, entries=[], error=message, since=since, until=until)
    return _page(request, "access_log", resident, entries=entries, since=since, until=until)


@router.get("/me/copay", response_class=HTMLResponse)
def copay(
    request: Request,
    session: SessionDep,
    today: TodayDep,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
) -> Response:
    """Show the month's sheets of the resident's cap-managed certificates."""
    resident = _signed_in(request, session)
    if resident is None:
        return _to_sign_in()
    this_month = service.default_month(today)
    chosen = month or this_month
    sheets = service.copay(session, resident, chosen)
    months = service.months_before(this_month, 12)
    return _page(request, "copay", resident, sheets=sheets, month=chosen, months=months)


@router.get("/me/consents", response_class=HTMLResponse)
def consents(request: Request, session: SessionDep) -> Response:
    """Show the resident's receptions and what they shared, with a button to withdraw each consent."""
    resident = _signed_in(request, session)
    if resident is None:
        return _to_sign_in()
    return _page(request, "consents", resident, consents=service.consents(session, resident))


@router.post("/me/consents/{reception_id}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request,
    session: SessionDep,
    reception_id: Annotated[int, Path(ge=1, le=2**62)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Withdraw one consent and show the list again with what happened."""
    resident = _signed_in(request, session)
    if resident is None:
        return _to_sign_in()
    _check_csrf(resident, csrf_token)
    withdrawn = service.withdraw_consent(session, resident, reception_id)
    return _page(request, "consents", resident, consents=service.consents(session, resident), withdrawn=withdrawn)


@router.get("/municipalities/{code}/leaflet", response_class=HTMLResponse)
def leaflet(request: Request, session: SessionDep, code: Annotated[str, Path(pattern="^[0-9]{6}$")]) -> Response:
    """Show a participating municipality's printable A4 leaflet for residents (public facts only)."""
    return templates.TemplateResponse(request, "resident/leaflet.html", {"leaflet": service.leaflet(session, code)})


@router.get("/leaflet")
def own_leaflet(staff: StaffDep) -> Response:
    """Send a municipality's staff to their own leaflet."""
    caller = staff_in_role(staff, "municipality").caller
    return RedirectResponse(f"/municipalities/{caller.organisation_code}/leaflet", status_code=303)
