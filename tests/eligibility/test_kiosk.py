"""The kiosk as a device (受付端末): registered by staff once, then bound to its own reader credential."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmh.auth.models import Organisation
from tests import factories as f
from tests.eligibility import world as w
from tests.operator.support import sign_in


@pytest.fixture
def world(db_session: Session, client: TestClient) -> w.World:
    return w.build(db_session, client)


def _clinic(session: Session) -> Organisation:
    return session.scalars(select(Organisation).where(Organisation.code == f.CLINIC_CODE)).one()


def _register(world: w.World, session: Session) -> str:
    """Sign a clerk in, register this client as a kiosk, sign the clerk out again; return the kiosk's form token."""
    staff_csrf = sign_in(world.client, session, _clinic(session), "kiosk-clerk")
    opened = world.client.post("/kiosk/setup", data={"csrf_token": staff_csrf})
    assert opened.status_code == 200 and opened.url.path == "/kiosk"
    world.client.post("/logout", data={"csrf_token": staff_csrf})
    world.client.cookies.delete("pmh_session")
    token = re.search(r'name="csrf_token" value="([^"]+)"', world.client.get("/kiosk").text)
    assert token is not None
    return token.group(1)


def test_an_unregistered_browser_is_sent_to_registration_and_staff_sign_in(world: w.World) -> None:
    first = world.client.get("/kiosk", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/kiosk/setup"
    setup = world.client.get("/kiosk/setup", follow_redirects=False)
    assert setup.status_code == 303 and setup.headers["location"].startswith("/login")


def test_a_registered_kiosk_works_without_staff_and_shows_no_staff_frame(world: w.World, db_session: Session) -> None:
    csrf = _register(world, db_session)
    page = world.client.get("/kiosk")
    assert page.status_code == 200
    assert "ログアウト" not in page.text and "site-header" not in page.text and "API仕様" not in page.text
    assert re.search(r'name="card_serial"[^>]*autofocus', page.text)
    card = world.client.post(
        "/kiosk/session", data={"csrf_token": csrf, "card_serial": world.card_serial, "auth": "pin", "pin": w.PIN}
    )
    assert card.status_code == 200 and "情報を提供しますか" in card.text
    assert '<meta http-equiv="refresh" content="120;url=/kiosk">' in card.text  # an abandoned question goes back
    session_id = re.search(r'name="session_id" value="([^"]+)"', card.text)
    assert session_id is not None
    done = world.client.post(
        "/kiosk/consent", data={"csrf_token": csrf, "session_id": session_id.group(1), "subsidy": "none"}
    )
    assert done.status_code == 200 and "受付が完了しました" in done.text
    assert 'content="15;url=/kiosk"' in done.text  # the done screen returns to the start by itself
    assert 'data-testid="reception-number">1<' in done.text


def test_a_kiosk_form_from_elsewhere_is_refused(world: w.World, db_session: Session) -> None:
    _register(world, db_session)
    forged = world.client.post(
        "/kiosk/session", data={"csrf_token": "forged", "card_serial": world.card_serial, "auth": "pin", "pin": w.PIN}
    )
    assert forged.status_code == 403


def test_releasing_the_kiosk_revokes_its_reader_credential(world: w.World, db_session: Session) -> None:
    _register(world, db_session)
    kiosk_key = world.client.cookies.get("pmh_kiosk")
    assert kiosk_key
    staff_csrf = sign_in(world.client, db_session, _clinic(db_session), "kiosk-clerk-2")
    assert "受付端末として登録されています" in world.client.get("/kiosk/setup").text
    world.client.post("/kiosk/setup/release", data={"csrf_token": staff_csrf})
    assert world.client.get("/kiosk", follow_redirects=False).headers["location"] == "/kiosk/setup"
    refused = world.client.post(
        "/api/v1/card-sessions",
        json={"card_serial": world.card_serial, "auth": "pin", "pin": w.PIN},
        headers=f.bearer(kiosk_key),
    )
    assert refused.status_code == 401  # the device's key is revoked everywhere, not only in this browser
