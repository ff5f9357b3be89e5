"""The card reader's consent screens (受付端末), for an institution's reader or a kiosk browser.

A member of the institution's staff signs the kiosk in once; each patient then places the card
(here: types the card serial, as the reader would read it), proves themself by face or PIN, and
answers 「以下の医療費助成受給者証があります。情報を提供しますか。」.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from pmh.auth.schemas import Caller
from pmh.cards.service import CardRefused
from pmh.deps import SessionDep
from pmh.eligibility import service
from pmh.eligibility.schemas import CardSessionCreate, ConsentCreate
from pmh.errors import NotPermitted, PmhError
from pmh.web.session import StaffContext, StaffDep, check_csrf
from pmh.web.templating import add_menu_item, templates

router = APIRouter(include_in_schema=False, prefix="/kiosk")

add_menu_item(
    "institution",
    "受付端末（カードリーダー）",
    "/kiosk",
    "マイナンバーカードで本人確認し、医療費助成の情報提供に同意していただく画面です。",
)


def _reader(staff: StaffContext) -> Caller:
    """Return the kiosk's caller: the signed-in institution acting as its own card reader."""
    if staff.caller.role != "institution":
        raise NotPermitted("受付端末は医療機関・薬局の職員がログインして使います。")
    return replace(staff.caller, role="card_reader", actor=f"{staff.caller.actor}（受付端末）")


@router.get("", response_class=HTMLResponse)
def place_card(request: Request, staff: StaffDep) -> Response:
    """Show the first screen: place the card and give the PIN.

    The kiosk is a browser, not a registered face-recognition reader, so it offers the PIN only.
    """
    _reader(staff)
    return templates.TemplateResponse(request, "eligibility/kiosk_card.html", {"staff": staff})


@router.post("/session", response_class=HTMLResponse)
def authenticate(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    card_serial: Annotated[str, Form(max_length=32)] = "",
    auth: Annotated[str, Form(pattern="^(face|pin)$")] = "pin",
    pin: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Authenticate the card; show the certificates to offer, or the refusal on the first screen."""
    check_csrf(staff, csrf_token)
    context: dict[str, object] = {"staff": staff, "card_serial": card_serial, "auth": auth}
    try:
        data = CardSessionCreate(card_serial=card_serial or "-", auth=auth, pin=pin or None)
        card_session = service.open_card_session(session, _reader(staff), data)
    except CardRefused as exc:
        # Rendered, not raised: the wrong-PIN count this request made must commit with it.
        context["error"] = exc.message
        context["unlock_path"] = exc.extensions.get("unlock_path")
        return templates.TemplateResponse(request, "eligibility/kiosk_card.html", context, status_code=exc.status_code)
    context["card_session"] = card_session
    return templates.TemplateResponse(request, "eligibility/kiosk_consent.html", context)


@router.post("/consent", response_class=HTMLResponse)
def consent(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    session_id: Annotated[str, Form(max_length=64)],
    subsidy: Annotated[str, Form(pattern="^(all|select|none)$")],
    selected: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Record the answer and show the completed reception."""
    check_csrf(staff, csrf_token)
    data = ConsentCreate(subsidy=subsidy, selected=selected or [])
    try:
        with session.begin_nested():
            result = service.give_consent(session, _reader(staff), session_id, data)
    except PmhError as exc:
        context = {"staff": staff, "error": exc.message}
        return templates.TemplateResponse(request, "eligibility/kiosk_card.html", context, status_code=exc.status_code)
    context = {"staff": staff, "result": result, "subsidy": subsidy}
    return templates.TemplateResponse(request, "eligibility/kiosk_done.html", context)
