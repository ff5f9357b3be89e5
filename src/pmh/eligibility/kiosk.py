"""The kiosk browser as a card-reader device (受付端末): bound to a reader credential of its own.

A member of the institution's staff registers the browser once (``/kiosk/setup``): pmh registers a
card reader for the institution (``auth.readers``) and keeps its key in an HTTP-only cookie that
only ``/kiosk`` receives. From then on the kiosk works on that credential alone — no staff session,
no staff header or menu in front of patients, nobody to sign out — and revoking the reader (on the
setup page or with ``pmh institutions readers revoke``) ends it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response
from sqlalchemy.orm import Session

from pmh import clock
from pmh.auth import readers
from pmh.auth.deps import authenticated, client_address
from pmh.auth.schemas import Caller
from pmh.errors import NotPermitted, PmhError
from pmh.settings import get_settings

KIOSK_COOKIE = "pmh_kiosk"
KIOSK_PATH = "/kiosk"
COOKIE_DAYS = 400
"""Browsers cap a cookie's life at about 400 days; the reader stays registered until revoked."""


def device_caller(request: Request, session: Session) -> Caller | None:
    """Return the card-reader caller of this kiosk browser, or None when it is not (or no longer) registered."""
    token = request.cookies.get(KIOSK_COOKIE)
    if not token:
        return None
    try:
        caller = authenticated(session, token, client_address(request))
    except PmhError:
        return None
    return caller if caller.role == "card_reader" else None


def csrf_token(request: Request) -> str:
    """Return the kiosk's form token: a keyed hash of its credential (no server-side session to keep it in)."""
    token = request.cookies.get(KIOSK_COOKIE, "")
    secret = get_settings().effective_secret_key
    return hmac.new(secret, b"pmh kiosk form v1:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def check_kiosk_csrf(request: Request, submitted: str) -> None:
    """Refuse a kiosk form that was not rendered for this device's credential."""
    if not submitted or not secrets.compare_digest(submitted, csrf_token(request)):
        raise NotPermitted("画面の有効期限が切れました。はじめの画面からやり直してください。")


def register(session: Session, staff: Caller, response: Response) -> readers.ReaderInfo:
    """Register this browser as one of the institution's card readers and give it the reader's key."""
    name = "受付端末（ブラウザ） " + clock.now_in_japan().strftime("%Y-%m-%d %H:%M:%S")
    info, issued = readers.add_reader(session, staff.organisation_code, name, face=False)
    response.set_cookie(
        KIOSK_COOKIE,
        issued.key,
        path=KIOSK_PATH,
        httponly=True,
        samesite="strict",
        secure=get_settings().cookie_secure,
        max_age=COOKIE_DAYS * 24 * 3600,
    )
    return info


def unregister(session: Session, request: Request, staff: Caller, response: Response) -> None:
    """Revoke this browser's reader (of the staff's own institution) and drop its cookie."""
    caller = device_caller(request, session)
    if caller is not None and caller.organisation_id == staff.organisation_id:
        readers.revoke_reader(session, caller.actor.removeprefix("key:"))  # a key's caller acts as key:<prefix>
    response.delete_cookie(KIOSK_COOKIE, path=KIOSK_PATH)
