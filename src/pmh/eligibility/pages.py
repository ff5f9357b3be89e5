"""The card reader's consent screens (受付端末) for a kiosk browser, and its registration by staff.

The kiosk is a device: a member of the institution's staff registers the browser once at
``/kiosk/setup`` (it becomes one of the institution's card readers, ``eligibility.kiosk``), and from
then on each patient places the card (here: types the card serial, as the reader would read it),
gives the PIN and answers 「以下の医療費助成受給者証があります。情報を提供しますか。」 — with no staff
session, header or menu in front of them. The screens go back to the start by themselves.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pmh.auth.schemas import Caller
from pmh.cards.service import CardRefused
from pmh.deps import SessionDep
from pmh.eligibility import kiosk
from pmh.eligibility import reader as reader_flow
from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate
from pmh.errors import PmhError
from pmh.settings import get_settings
from pmh.web.session import StaffDep, check_csrf, staff_in_role
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/kiosk")

add_menu_item(
    "institution",
    "受付端末（カードリーダー）",
    "/kiosk/setup",
    "このブラウザを受付端末として登録します。患者さんはマイナンバーカードで本人確認し、情報提供に同意します。",
)


def _screen(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
    """Render a kiosk screen with the device's form token and the return timers."""
    settings = get_settings()
    context |= {
        "csrf_token": kiosk.csrf_token(request),
        "return_seconds": settings.kiosk_return_seconds,
        "idle_seconds": settings.kiosk_idle_seconds,
    }
    return templates.TemplateResponse(request, f"eligibility/{name}.html", context, status_code=status_code)


def _unregistered() -> Response:
    """Send an unregistered browser to the registration page (staff sign in first when needed)."""
    return RedirectResponse("/kiosk/setup", status_code=303)


def _device(request: Request, session: SessionDep) -> Caller | None:
    return kiosk.device_caller(request, session)


@router.get("", response_class=HTMLResponse)
def place_card(request: Request, session: SessionDep) -> Response:
    """Show the first screen: place the card and give the PIN (a browser is no face-recognition reader)."""
    if _device(request, session) is None:
        return _unregistered()
    return _screen(request, "kiosk_card")


@router.post("/session", response_class=HTMLResponse)
def authenticate(
    request: Request,
    session: SessionDep,
    card_serial: Annotated[str, Form(max_length=32)] = "",
    auth: Annotated[str, Form(pattern="^(face|pin)$")] = "pin",
    pin: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Authenticate the card; show the certificates to offer, or the refusal on the first screen."""
    reader = _device(request, session)
    if reader is None:
        return _unregistered()
    kiosk.check_kiosk_csrf(request, csrf_token)
    try:
        data = CardSessionCreate(card_serial=card_serial or "-", auth=auth, pin=pin or None)
        card_session = reader_flow.open_card_session(session, reader, data)
    except CardRefused as exc:
        # Rendered, not raised: the wrong-PIN count this request made must commit with it.
        unlock = exc.extensions.get("unlock_path")
        return _screen(
            request, "kiosk_card", exc.status_code, error=exc.message, unlock_path=unlock, card_serial=card_serial
        )
    return _screen(request, "kiosk_consent", card_session=card_session)


@router.post("/consent", response_class=HTMLResponse)
def consent(
    request: Request,
    session: SessionDep,
    session_id: Annotated[str, Form(max_length=64)],
    subsidy: Annotated[str, Form(pattern="^(all|select|none)$")],
    selected: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Record the answer and show the completed reception, which returns to the start by itself."""
    reader = _device(request, session)
    if reader is None:
        return _unregistered()
    kiosk.check_kiosk_csrf(request, csrf_token)
    data = ConsentCreate(subsidy=subsidy, selected=selected or [])
    try:
        with session.begin_nested():
            result = reader_flow.give_consent(session, reader, session_id, data)
    except PmhError as exc:
        return _screen(request, "kiosk_card", exc.status_code, error=exc.message)
    return _screen(request, "kiosk_done", result=result, subsidy=subsidy)


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    """Show staff whether this browser is a registered kiosk, with the button to register or release it."""
    caller = staff_in_role(staff, "institution").caller
    device = _device(request, session)
    registered = device is not None and device.organisation_id == caller.organisation_id
    context = {"staff": staff, "registered": registered, "reader_name": device.reader_name if device else None}
    return templates.TemplateResponse(request, "eligibility/kiosk_setup.html", context)


@router.post("/setup")
def register(
    request: Request, session: SessionDep, staff: StaffDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Register this browser as one of the institution's card readers and open the kiosk."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    response = RedirectResponse("/kiosk", status_code=303)
    kiosk.register(session, staff.caller, response)
    return response


@router.post("/setup/release")
def release(
    request: Request, session: SessionDep, staff: StaffDep, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """Revoke this browser's reader credential: the kiosk stops at once."""
    check_csrf(staff_in_role(staff, "institution"), csrf_token)
    response = RedirectResponse("/kiosk/setup", status_code=303)
    kiosk.unregister(session, request, staff.caller, response)
    return response
